import Foundation
import Hummingbird
import TillyardKit

/// The case form of an alert page: assign to me, move, comment.
struct RiskCaseForm: Decodable, CSRFCarrying {
    var action: String
    var status: String?
    var text: String?
    var version: String
    var _csrf: String
}

/// A rule's form: mode, severity, hold / block, parameters as `name=value` pairs.
struct RiskRuleForm: Decodable, CSRFCarrying {
    var mode: String
    var severity: String
    var hold: String?
    var block: String?
    var parameters: String?
    var version: String
    var _csrf: String

    func change() throws -> RiskRuleChange {
        guard let mode = RiskMode(rawValue: mode) else { throw DomainError.invalid("mode", "choose off, shadow or enforced") }
        guard let severity = RiskSeverity(rawValue: severity) else { throw DomainError.invalid("severity", "choose a severity") }
        guard let version = Int(version) else { throw DomainError.invalid("version", "reload the page") }
        var actions: [RiskAction] = [.alert]
        if hold != nil { actions.append(.holdSettlement) }
        if block != nil { actions.append(.blockTerminal) }
        return RiskRuleChange(mode: mode, severity: severity, actions: actions, parameters: try RiskConsole.parameters(parameters ?? ""),
                              version: version)
    }
}

/// The back-test form of the rules page.
struct RiskBacktestForm: Decodable, CSRFCarrying {
    var kind: String
    var days: String
    var parameters: String?
    var _csrf: String
}

/// Console pages of risk: the monitor (server-made SVG charts) with the alert queue and
/// mismatched settlement batches, an alert's case page, and the rules with back-tests.
struct RiskConsole {
    let risk: RiskService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("risk", use: overview)
        console.get("risk/alerts/:id", use: alert)
        console.post("risk/alerts/:id", use: handle)
        console.get("risk/rules", use: rules)
        console.post("risk/rules/backtest", use: backtest)
        console.post("risk/rules/:kind", use: saveRule)
    }

    /// `minCount=5, maxCount=8` → parameters.
    static func parameters(_ text: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for pair in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == ";" }) {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let value = Int64(parts[1]) else {
                throw DomainError.invalid("parameters", "write name=number pairs separated by commas")
            }
            result[parts[0]] = value
        }
        return result
    }

    static func parameterText(_ parameters: [String: Int64]) -> String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }

    static func yuan(_ fen: Int64) -> String { Money(minorUnits: fen).decimalText }

    @Sendable func overview(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let status = try request.query("status", as: RiskAlertStatus.self)
        let monitor = try await risk.monitor(by: principal)
        let queue = try await risk.alerts(RiskAlertFilter(status: status), page: try request.pageRequest(), by: principal)
        let batches = try await risk.batches(mismatchedOnly: true, page: PageRequest(limit: 20), by: principal)
        let t = { (key: String) in renderer.text(key, locale: locale) }
        let charts = [
            SVGChart.bars(monitor.byMerchant.prefix(10).map { .init(label: $0.label, value: Double($0.amount), caption: Self.yuan($0.amount)) },
                          title: t("risk_chart_merchants")),
            SVGChart.bars(monitor.byRegion.prefix(10).map { .init(label: $0.label, value: Double($0.count), caption: "\($0.count)") },
                          title: t("risk_chart_regions"), colour: "#6a5acd"),
            SVGChart.bars(monitor.byResponseCode.prefix(10).map { .init(label: $0.key, value: Double($0.count), caption: "\($0.count)") },
                          title: t("risk_chart_codes"), colour: "#b8860b"),
            SVGChart.line(monitor.trend.map { .init(label: String($0.key.dropFirst(11).prefix(5)), value: $0.count == 0 ? 0 : Double($0.approved * 100) / Double($0.count),
                                                    caption: "") }, title: t("risk_chart_approval")),
            SVGChart.bars(monitor.topAlerting.map { .init(label: $0.label, value: Double($0.count), caption: "\($0.count)") },
                          title: t("risk_chart_top"), colour: "#b22222"),
        ]
        let total = monitor.byMerchant.reduce(0) { $0 + $1.count }, approved = monitor.byMerchant.reduce(0) { $0 + $1.approved }
        let data: [String: Any] = [
            "charts": charts,
            "total": total, "approved": approved, "rate": total == 0 ? "—" : "\(approved * 100 / total)%",
            "amount": Self.yuan(monitor.byMerchant.reduce(0) { $0 + $1.amount }),
            "statuses": forms.options(RiskAlertStatus.allCases, prefix: "risk_status", selected: status?.rawValue, locale: locale),
            "alerts": queue.items.map { alert -> [String: Any] in
                ["id": alert.id, "rule": t("risk_rule_\(alert.rule.rawValue)"), "severity": t("risk_severity_\(alert.severity.rawValue)"),
                 "severityClass": alert.severity.rawValue, "status": t("risk_status_\(alert.status.rawValue)"), "summary": alert.summary,
                 "assignee": alert.assignee ?? "—", "raisedAt": alert.raisedAt.iso8601]
            },
            "next": queue.nextCursor as Any,
            "batches": batches.items.map { batch -> [String: Any] in
                ["id": batch.id, "batchNo": batch.batchNo, "terminalId": batch.terminalId.rawValue, "closedAt": batch.closedAt.iso8601,
                 "missing": batch.missingFromBatch.joined(separator: ", "), "notUploaded": batch.notUploaded.joined(separator: ", "),
                 "lines": batch.lines.filter { !$0.matches }.map { "\($0.kind.rawValue): \($0.terminalCount) / \(Self.yuan($0.terminalAmount)) ≠ \($0.storedCount) / \(Self.yuan($0.storedAmount))" }
                    .joined(separator: "; ")]
            },
            "refreshSeconds": 60,
        ]
        return renderer.page("risk", titleKey: "nav_risk", context: context, data: data)
    }

    @Sendable func alert(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await alertPage(request, context, error: nil, status: .ok)
    }

    private func alertPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let detail = try await risk.alert(context.parameters.get("id") ?? "", by: principal)
        let alert = detail.alert
        let t = { (key: String) in renderer.text(key, locale: locale) }
        let next = RiskAlertStatus.allCases.filter { alert.status.canMove(to: $0) }
        let data: [String: Any] = [
            "error": error as Any,
            "id": alert.id, "version": alert.version, "rule": t("risk_rule_\(alert.rule.rawValue)"), "ruleVersion": alert.ruleVersion,
            "severity": t("risk_severity_\(alert.severity.rawValue)"), "severityClass": alert.severity.rawValue,
            "status": t("risk_status_\(alert.status.rawValue)"), "summary": alert.summary, "assignee": alert.assignee ?? "—",
            "raisedAt": alert.raisedAt.iso8601, "terminalId": alert.terminalId?.rawValue as Any, "shadow": alert.mode == .shadow,
            "actions": alert.actions.map { t("risk_action_\($0.rawValue)") }.joined(separator: ", "),
            "numbers": alert.numbers.keys.sorted().map { ["name": $0, "value": alert.numbers[$0] ?? 0] },
            "transactions": detail.transactions.map { item -> [String: Any] in
                let transaction = item.transaction
                return ["at": transaction.at.iso8601, "terminalId": item.terminalId.rawValue, "kind": transaction.kind.rawValue,
                        "amount": Self.yuan(transaction.amount), "tender": transaction.tender.rawValue, "code": transaction.responseCode,
                        "pan": transaction.maskedPan ?? "", "entry": transaction.entryMode?.rawValue ?? ""]
            },
            "comments": detail.comments.map { ["author": $0.author, "text": $0.text, "at": $0.at.iso8601] },
            "next": next.map { ["value": $0.rawValue, "label": t("risk_status_\($0.rawValue)")] },
            "canManage": principal.can(.riskManage) && alert.mode == .enforced,
            "open": !alert.status.isClosed,
        ]
        return renderer.page("risk_alert", titleKey: "risk_alert_title", context: context, data: data, status: status)
    }

    @Sendable func handle(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = context.parameters.get("id") ?? ""
        let form = try await forms.decode(RiskCaseForm.self, request, context)
        do {
            let version = Int(form.version) ?? 0
            switch form.action {
            case "assign": _ = try await risk.assign(id, to: principal.user.username, version: version, by: principal)
            case "status":
                guard let status = form.status.flatMap(RiskAlertStatus.init(rawValue:)) else { throw DomainError.invalid("status", "choose a status") }
                _ = try await risk.move(id, to: status, note: form.text, version: version, by: principal)
            default: _ = try await risk.comment(id, text: form.text ?? "", by: principal)
            }
            return .redirect(to: "/console/risk/alerts/\(id)", type: .found)
        } catch let error as DomainError {
            return try await alertPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func rules(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await rulesPage(request, context, error: nil, result: nil, status: .ok)
    }

    private func rulesPage(_ request: Request, _ context: AppRequestContext, error: String?, result: RiskBacktestResult?,
                           status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let t = { (key: String) in renderer.text(key, locale: locale) }
        let views = try await risk.rules(by: principal)
        let canEdit = principal.can(.riskManage) && principal.orgPath.split(separator: "/").count == 1
        let data: [String: Any] = [
            "error": error as Any,
            "rules": views.map { view -> [String: Any] in
                let rule = view.rule, figures = view.figures
                return ["kind": rule.kind.rawValue, "name": t("risk_rule_\(rule.kind.rawValue)"), "version": rule.version,
                        "mode": t("risk_mode_\(rule.mode.rawValue)"), "severity": t("risk_severity_\(rule.severity.rawValue)"),
                        "actions": rule.actions.map { t("risk_action_\($0.rawValue)") }.joined(separator: ", "),
                        "parameters": Self.parameterText(rule.parameters), "open": figures.open, "closed": figures.closed,
                        "falsePositives": figures.falsePositives, "shadow": figures.shadow,
                        "precision": figures.precision.map { "\($0)%" } ?? "—",
                        "modes": forms.options(RiskMode.allCases, prefix: "risk_mode", selected: rule.mode.rawValue, locale: locale),
                        "severities": forms.options(RiskSeverity.allCases, prefix: "risk_severity", selected: rule.severity.rawValue, locale: locale),
                        "hold": rule.actions.contains(.holdSettlement), "block": rule.actions.contains(.blockTerminal),
                        "canBlock": rule.kind != .relocation && rule.kind != .refusedTerminal]
            },
            "kinds": forms.options(RiskRuleKind.allCases, prefix: "risk_rule", selected: result?.rule.rawValue, locale: locale),
            "result": result.map { ["rule": t("risk_rule_\($0.rule.rawValue)"), "transactions": $0.transactions, "hits": $0.hits, "alerts": $0.alerts,
                                    "samples": $0.samples, "truncated": $0.truncated] } as Any,
            "canEdit": canEdit,
        ]
        return renderer.page("risk_rules", titleKey: "nav_risk_rules", context: context, data: data, status: status)
    }

    @Sendable func saveRule(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(RiskRuleForm.self, request, context)
        do {
            guard let kind = RiskRuleKind(rawValue: context.parameters.get("kind") ?? "") else {
                throw DomainError.notFound(resource: "risk rule", id: context.parameters.get("kind") ?? "")
            }
            _ = try await risk.saveRule(kind, try form.change(), by: principal)
            return .redirect(to: "/console/risk/rules", type: .found)
        } catch let error as DomainError {
            return try await rulesPage(request, context, error: error.message, result: nil, status: ConsoleForms.status(error))
        }
    }

    @Sendable func backtest(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(RiskBacktestForm.self, request, context)
        do {
            guard let kind = RiskRuleKind(rawValue: form.kind) else { throw DomainError.invalid("kind", "choose a rule") }
            guard let days = Int(form.days), (1...400).contains(days) else { throw DomainError.invalid("days", "from 1 to 400 days") }
            let parameters = try form.parameters.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try Self.parameters($0) }
            let now = risk.clock.now()
            let result = try await risk.backtest(kind, parameters: parameters, from: now.addingTimeInterval(-Double(days) * 86_400), to: now,
                                                 by: principal)
            return try await rulesPage(request, context, error: nil, result: result, status: .ok)
        } catch let error as DomainError {
            return try await rulesPage(request, context, error: error.message, result: nil, status: ConsoleForms.status(error))
        }
    }
}
