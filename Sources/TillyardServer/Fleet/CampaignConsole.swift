import Foundation
import Hummingbird
import TillyardKit

/// The campaign form of the console: a package, a name, a few target conditions and the plan.
struct CampaignForm: Decodable, CSRFCarrying {
    var name: String; var packageId: String; var rollbackPackageId: String?; var modelIds: String?; var orgId: String?; var maxVersion: String?
    var stages: String?; var window: String?; var maxFailurePercent: String?; var maxApprovalDropPercent: String?; var minimumReports: String?
    var soakMinutes: String?; var _csrf: String

    func input() throws -> CampaignInput {
        func whole(_ raw: String?, _ field: String) throws -> Int? {
            guard let text = raw?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw DomainError.invalid(field, "must be a whole number") }
            return value
        }
        /// Percent with up to two decimals as basis points ("5" → 500, "0.5" → 50).
        func percent(_ raw: String?, _ field: String) throws -> Int? {
            guard let text = raw?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return Int(try Money.minorUnits(fromYuan: text, field: field))
        }
        let list = { (raw: String?) in
            (raw ?? "").split(whereSeparator: { $0 == "," || $0 == "，" || $0 == " " }).map(String.init).filter { !$0.isEmpty }
        }
        let defaults = CampaignPlan()
        let stages = try list(stages).enumerated().map { index, text -> Int in
            guard let value = try percent(text, "stages.\(index)") else { throw DomainError.invalid("stages", "give percentages such as 1, 10, 50, 100") }
            return value
        }
        let hours = try window.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try BusinessHours.parse($0, field: "window") }
        let plan = CampaignPlan(stages: stages.isEmpty ? defaults.stages : stages, window: hours == .allDay ? nil : hours,
                                maxFailureRate: try percent(maxFailurePercent, "maxFailurePercent") ?? defaults.maxFailureRate,
                                maxApprovalDrop: try percent(maxApprovalDropPercent, "maxApprovalDropPercent") ?? defaults.maxApprovalDrop,
                                minimumReports: try whole(minimumReports, "minimumReports") ?? defaults.minimumReports,
                                soakMinutes: try whole(soakMinutes, "soakMinutes") ?? defaults.soakMinutes)
        let target = CampaignTarget(modelIds: try list(modelIds).enumerated().map { try ModelID.parse($1, field: "modelIds.\($0)") },
                                    orgId: try OrgID.parse(ifPresent: orgId.flatMap { $0.isEmpty ? nil : $0 }, field: "orgId"),
                                    maxVersion: maxVersion.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 })
        return CampaignInput(name: name, packageId: try PackageID.parse(packageId, field: "packageId"),
                             rollbackPackageId: try PackageID.parse(ifPresent: rollbackPackageId.flatMap { $0.isEmpty ? nil : $0 }, field: "rollbackPackageId"),
                             target: target, plan: plan)
    }
}

/// An operator action on a campaign: the version read and an optional reason.
struct CampaignActionForm: Decodable, CSRFCarrying { var version: String; var reason: String?; var _csrf: String }

/// Console pages of the software-update area: packages, campaigns (list, form, one campaign with its
/// stages and the pause / resume / roll back buttons) and the version compliance report.
struct CampaignConsole {
    let campaigns: CampaignService
    let compliance: ComplianceService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("packages", use: packages)
        console.get("campaigns", use: list)
        console.post("campaigns", use: create)
        console.get("campaigns/:id", use: show)
        console.post("campaigns/:id/:action", use: act)
        console.get("compliance", use: report)
    }

    @Sendable func packages(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let found = try await campaigns.packages(kind: try request.query("kind", as: PackageKind.self), page: try request.pageRequest(), by: principal)
        let locale = context.locale
        let rows = found.items.map { package -> [String: Any] in
            ["id": package.id.rawValue, "kind": renderer.text("package_kind_\(package.kind.rawValue)", locale: locale), "version": package.version,
             "models": package.modelIds.count, "sha256": package.sha256, "size": Self.size(package.size),
             "filename": package.filename as Any, "createdBy": package.createdBy, "createdAt": package.createdAt.iso8601]
        }
        return renderer.page("packages", titleKey: "nav_packages", context: context,
                             data: ["packages": rows, "next": found.nextCursor as Any, "canRelease": principal.can(.fleetRelease)])
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await listPage(request, context, error: nil, status: .ok)
    }

    private func listPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let filter = try request.query("state", as: CampaignState.self)
        let found = try await campaigns.campaigns(state: filter, page: try request.pageRequest(), by: principal)
        let rows = found.items.map { campaign -> [String: Any] in
            ["id": campaign.id.rawValue, "name": campaign.name, "state": renderer.text("campaign_state_\(campaign.state.rawValue)", locale: locale),
             "stage": "\(campaign.stage + 1) / \(campaign.plan.stages.count)", "share": Self.percent(campaign.plan.stages[min(campaign.stage, campaign.plan.stages.count - 1)]),
             "reason": campaign.reason as Any]
        }
        var data: [String: Any] = ["campaigns": rows, "next": found.nextCursor as Any, "error": error as Any,
                                   "states": forms.options(CampaignState.allCases, prefix: "campaign_state", selected: filter?.rawValue, locale: locale),
                                   "canRelease": principal.can(.fleetRelease)]
        if principal.can(.fleetRelease) {
            let packages = try await campaigns.packages(kind: nil, page: PageRequest(limit: PageRequest.maxLimit), by: principal)
            data["packages"] = packages.items.map { ["id": $0.id.rawValue, "label": "\($0.kind.rawValue) \($0.version)"] }
        }
        return renderer.page("campaigns", titleKey: "nav_campaigns", context: context, data: data, status: status)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(CampaignForm.self, request, context)
        do {
            let campaign = try await campaigns.create(try form.input(), by: principal)
            return .redirect(to: "/console/campaigns/\(campaign.id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await listPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await showPage(request, context, error: nil, status: .ok)
    }

    private func showPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let id: CampaignID = try context.id("id", resource: "campaign")
        let campaign = try await campaigns.campaign(id, by: principal)
        let package = try? await campaigns.package(campaign.packageId, by: principal)
        let progress = try await campaigns.progress(id, by: principal)
        let stages = progress.enumerated().map { index, stage -> [String: Any] in
            let metrics = stage.metrics
            return ["number": index + 1, "share": Self.percent(stage.share), "targeted": stage.targeted, "offered": stage.offered,
                    "installed": metrics.installed, "failed": metrics.failed,
                    "before": Self.rate(metrics.approvedBefore, metrics.attemptedBefore), "after": Self.rate(metrics.approvedAfter, metrics.attemptedAfter),
                    "current": index == campaign.stage && campaign.state != .draft]
        }
        let release = principal.can(.fleetRelease)
        let actions = CampaignAction.allCases.filter { release && CampaignRules.allowed($0).contains(campaign.state) }.map {
            ["action": $0.rawValue, "label": renderer.text("campaign_action_\($0 == .rollBack ? "rollback" : $0.rawValue)", locale: locale),
             "danger": $0 == .rollBack]
        }
        let plan = campaign.plan
        let data: [String: Any] = [
            "id": campaign.id.rawValue, "name": campaign.name, "version": campaign.version, "error": error as Any,
            "state": renderer.text("campaign_state_\(campaign.state.rawValue)", locale: locale), "reason": campaign.reason as Any,
            "package": package.map { "\($0.kind.rawValue) \($0.version)" } ?? campaign.packageId.rawValue,
            "rollback": campaign.rollbackPackageId?.rawValue as Any,
            "window": plan.window?.description ?? renderer.text("campaign_any_time", locale: locale), "timeZone": plan.timeZone,
            "thresholds": "\(Self.percent(plan.maxFailureRate)) / \(Self.percent(plan.maxApprovalDrop)) / \(plan.minimumReports)",
            "soak": plan.soakMinutes, "stages": stages, "actions": actions,
        ]
        return renderer.page("campaign", titleKey: "nav_campaigns", context: context, data: data, status: status)
    }

    @Sendable func act(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: CampaignID = try context.id("id", resource: "campaign")
        guard let action = CampaignAction(rawValue: context.parameters.get("action") ?? "") else {
            throw DomainError.notFound(resource: "campaign action", id: context.parameters.get("action") ?? "")
        }
        let form = try await forms.decode(CampaignActionForm.self, request, context)
        do {
            guard let version = Int(form.version) else { throw DomainError.invalid("version", "reload the page") }
            _ = try await campaigns.act(action, on: id, expectedVersion: version, reason: form.reason, by: principal)
            return .redirect(to: "/console/campaigns/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await showPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func report(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        var data: [String: Any] = ["minApp": request.query("minApp") as Any, "minFirmware": request.query("minFirmware") as Any,
                                   "silentDays": request.query("silentDays") ?? "7"]
        do {
            let found = try await compliance.report(try CampaignAPI.criteria(request), limit: 200, cursor: try CampaignAPI.cursor(request), by: principal)
            data["items"] = found.findings.map { finding -> [String: Any] in
                let terminal = finding.row.terminal
                return ["id": terminal.id.rawValue, "sn": terminal.sn, "tid": terminal.tid, "model": "\(finding.row.model.manufacturer) \(finding.row.model.name)",
                        "app": finding.row.appVersion ?? "—", "firmware": finding.row.firmwareVersion ?? "—",
                        "lastSeen": finding.row.lastSeenAt?.iso8601 ?? renderer.text("compliance_never", locale: locale),
                        "issues": finding.issues.map { renderer.text("compliance_issue_\($0.rawValue)", locale: locale) }.joined(separator: ", ")]
            }
            data["counts"] = ComplianceIssue.allCases.map { ["label": renderer.text("compliance_issue_\($0.rawValue)", locale: locale), "count": found.counts[$0] ?? 0] }
            data["scanned"] = found.scanned
            if let next = found.nextCursor {
                var query = "cursor=\(next)&silentDays=\(data["silentDays"] as? String ?? "7")"
                if let minApp = request.query("minApp") { query += "&minApp=\(minApp.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                if let minFirmware = request.query("minFirmware") {
                    query += "&minFirmware=\(minFirmware.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                }
                data["next"] = query
            }
        } catch let error as DomainError {
            data["error"] = error.message
            return renderer.page("compliance", titleKey: "nav_compliance", context: context, data: data, status: ConsoleForms.status(error))
        }
        return renderer.page("compliance", titleKey: "nav_compliance", context: context, data: data)
    }

    /// Bytes for people ("1.5 MB").
    static func size(_ bytes: Int64) -> String {
        bytes < 1 << 20 ? String(format: "%.1f KB", Double(bytes) / 1024) : String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }

    /// Basis points as a percentage ("10%", "0.5%").
    static func percent(_ points: Int) -> String {
        points % 100 == 0 ? "\(points / 100)%" : String(format: "%.2f%%", Double(points) / 100)
    }

    /// An approval rate, or a dash when nothing was attempted.
    static func rate(_ approved: Int, _ attempted: Int) -> String {
        attempted == 0 ? "—" : String(format: "%.1f%% (%d)", Double(approved) * 100 / Double(attempted), attempted)
    }
}
