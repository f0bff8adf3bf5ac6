import Foundation
import Hummingbird
import TillyardKit

/// A form with a free-text note or reason.
struct FleetNoteForm: Decodable, CSRFCarrying { var note: String?; var _csrf: String }

/// The command form of the terminal page: lock (with a reason), unlock, reboot, upload logs.
struct FleetCommandForm: Decodable, CSRFCarrying { var kind: String; var note: String?; var _csrf: String }

/// The relocation policy form.
struct RelocationPolicyForm: Decodable, CSRFCarrying {
    var fixed: String; var mobile: String; var confirmations: String; var action: String; var _csrf: String

    func policy() throws -> RelocationPolicy {
        func number(_ raw: String, _ field: String) throws -> Double {
            guard let value = Double(raw.trimmingCharacters(in: .whitespaces)) else { throw DomainError.invalid(field, "must be a number of metres") }
            return value
        }
        guard let count = Int(confirmations.trimmingCharacters(in: .whitespaces)) else {
            throw DomainError.invalid("confirmations", "must be a whole number")
        }
        guard let chosen = RelocationAction(rawValue: action) else { throw DomainError.invalid("action", "must be alert or block") }
        return RelocationPolicy(fixedToleranceMeters: try number(fixed, "fixedToleranceMeters"),
                                mobileToleranceMeters: try number(mobile, "mobileToleranceMeters"), confirmations: count, action: chosen)
    }
}

/// Console pages of fleet operations: presence per organisation (refreshing itself), open
/// relocation alerts with their evidence and the inspector's clearing, the relocation policy; and
/// one terminal's live status, lock, commands, parameters and uploaded transactions.
struct FleetConsole {
    let fleet: FleetService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("fleet", use: overview)
        console.post("fleet/policy", use: savePolicy)
        console.post("fleet/alerts/:alert/clear", use: clearAlert)
        console.get("fleet/terminals/:id", use: terminal)
        console.post("fleet/terminals/:id/command", use: command)
    }

    @Sendable func overview(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await overviewPage(request, context, error: nil, status: .ok)
    }

    private func overviewPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let presence = try await fleet.presence(by: principal)
        let alerts = try await fleet.relocationAlerts(state: .open, limit: 200, by: principal)
        let policy = try await fleet.relocationPolicy(by: principal)
        let data: [String: Any] = [
            "error": error as Any,
            "presence": presence.map { row -> [String: Any] in
                ["name": row.org.name, "deployed": row.presence.deployed, "online": row.presence.online,
                 "offline": row.presence.deployed - row.presence.online, "neverSeen": row.presence.neverSeen,
                 "share": row.presence.deployed == 0 ? "—" : "\(row.presence.online * 100 / row.presence.deployed)%"]
            },
            "alerts": alerts.map { alert -> [String: Any] in
                let evidence = alert.finding.evidence.map { item in
                    "\(Int(item.distanceMeters)) m ± \(Int(item.report.uncertainty)) m (\(item.report.source.rawValue), \(item.report.reportedAt.iso8601))"
                }
                return ["id": alert.id, "terminalId": alert.terminalId.rawValue, "sn": alert.sn, "distance": Int(alert.finding.certainDistanceMeters),
                        "tolerance": Int(alert.finding.toleranceMeters), "placement": alert.finding.placement.address,
                        "action": renderer.text("relocation_action_\(alert.finding.action.rawValue)", locale: locale),
                        "raisedAt": alert.raisedAt.iso8601, "evidence": evidence]
            },
            "canClear": principal.can(.estateInstall),
            "policy": ["fixed": Int(policy.fixedToleranceMeters), "mobile": Int(policy.mobileToleranceMeters), "confirmations": policy.confirmations,
                       "alert": policy.action == .alert, "block": policy.action == .block],
            "canSetPolicy": principal.can(.fleetManage) && principal.orgPath.split(separator: "/").count == 1,
            "refreshSeconds": 30,
        ]
        return renderer.page("fleet", titleKey: "nav_fleet", context: context, data: data, status: status)
    }

    @Sendable func savePolicy(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(RelocationPolicyForm.self, request, context)
        do {
            _ = try await fleet.saveRelocationPolicy(try form.policy(), by: principal)
            return .redirect(to: "/console/fleet", type: .found)
        } catch let error as DomainError {
            return try await overviewPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func clearAlert(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(FleetNoteForm.self, request, context)
        do {
            _ = try await fleet.clearAlert(context.parameters.get("alert") ?? "", note: form.note ?? "", by: principal)
            return .redirect(to: "/console/fleet", type: .found)
        } catch let error as DomainError {
            return try await overviewPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func terminal(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await terminalPage(request, context, error: nil, status: .ok)
    }

    private func terminalPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let id: TerminalID = try context.id("id", resource: "terminal")
        let (latest, online) = try await fleet.status(of: id, by: principal)
        let (commands, lock) = try await fleet.commands(of: id, by: principal)
        let parameters = try await fleet.effectiveParameters(of: id, by: principal)
        let transactions = try await fleet.transactions(of: id, limit: 20, by: principal)
        let beat = latest?.heartbeat
        let facts: [(String, String?)] = [
            ("fleet_last_seen", latest.map { $0.lastSeenAt.iso8601 }), ("fleet_app_version", beat?.appVersion),
            ("fleet_firmware_version", beat?.firmwareVersion), ("fleet_battery", beat?.battery.map { "\($0)%" }),
            ("fleet_paper", beat?.paper.map { renderer.text("paper_\($0.rawValue)", locale: locale) }), ("fleet_signal", beat?.signal.map { "\($0) dBm" }),
            ("fleet_location", beat?.location.map { "\($0.latitude), \($0.longitude) (\($0.source.rawValue), ± \(Int($0.uncertainty)) m)" }),
            ("fleet_last_transaction", latest?.lastTransactionAt.map(\.iso8601)), ("fleet_parameters_version", parameters.version),
        ]
        let data: [String: Any] = [
            "error": error as Any, "terminalId": id.rawValue, "online": online, "neverSeen": latest == nil,
            "facts": facts.map { ["label": renderer.text($0.0, locale: locale), "value": $0.1 ?? "—"] },
            "lock": lock.map { ["cause": renderer.text("lock_cause_\($0.cause.rawValue)", locale: locale), "reason": $0.reason ?? "", "by": $0.lockedBy,
                                "at": $0.lockedAt.iso8601, "operator": $0.cause == .operator] } as Any,
            "commands": commands.map { command -> [String: Any] in
                ["kind": renderer.text("command_\(command.kind.rawValue)", locale: locale), "reason": command.reason ?? "", "by": command.issuedBy,
                 "at": command.issuedAt.iso8601, "done": command.doneAt.map(\.iso8601) ?? renderer.text("command_pending", locale: locale),
                 "outcome": command.outcome.map { renderer.text("command_outcome_\($0.rawValue)", locale: locale) } ?? "", "detail": command.detail ?? ""]
            },
            "parameters": parameters.values.keys.sorted().map { ["key": $0, "value": parameters.values[$0] ?? "", "source": parameters.sources[$0] ?? ""] },
            "transactions": transactions.map { item -> [String: Any] in
                let transaction = item.transaction
                return ["at": transaction.at.iso8601, "kind": transaction.kind.rawValue, "amount": Money(minorUnits: transaction.amount).decimalText,
                        "tender": transaction.tender.rawValue, "approved": transaction.approved, "code": transaction.responseCode,
                        "pan": transaction.maskedPan ?? ""]
            },
            "canManage": principal.can(.fleetManage),
            "refreshSeconds": 30,
        ]
        return renderer.page("fleet_terminal", titleKey: "fleet_terminal_title", context: context, data: data, status: status)
    }

    @Sendable func command(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TerminalID = try context.id("id", resource: "terminal")
        let form = try await forms.decode(FleetCommandForm.self, request, context)
        do {
            switch TerminalCommandKind(rawValue: form.kind) {
            case .lock: _ = try await fleet.lock(id, reason: form.note ?? "", by: principal)
            case .unlock: try await fleet.unlock(id, note: form.note, by: principal)
            case .some(let kind): _ = try await fleet.command(kind, to: id, reason: form.note, by: principal)
            case nil: throw DomainError.invalid("kind", "choose a command")
            }
            return .redirect(to: "/console/fleet/terminals/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await terminalPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }
}
