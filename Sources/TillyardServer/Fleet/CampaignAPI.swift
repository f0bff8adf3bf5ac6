import Foundation
import HTTPTypes
import Hummingbird
import TillyardKit

/// A package as the API shows it.
struct PackageBody: Codable, Sendable {
    var id: String
    var orgId: String
    var kind: PackageKind
    var version: String
    var modelIds: [String]
    var sha256: String
    var size: Int64
    var filename: String?
    var notes: String?
    var createdBy: String
    var createdAt: Date
    var downloadPath: String

    init(_ package: SoftwarePackage) {
        id = package.id.rawValue; orgId = package.orgId.rawValue; kind = package.kind; version = package.version
        modelIds = package.modelIds.map(\.rawValue); sha256 = package.sha256; size = package.size; filename = package.filename
        notes = package.notes; createdBy = package.createdBy; createdAt = package.createdAt; downloadPath = package.downloadPath
    }
}

/// A campaign's target as the API reads and shows it.
struct CampaignTargetBody: Codable, Sendable {
    var modelIds: [String]?
    var orgId: String?
    var merchantId: String?
    var maxVersion: String?
    var states: [TerminalState]?

    init(_ target: CampaignTarget) {
        modelIds = target.modelIds.map(\.rawValue); orgId = target.orgId?.rawValue; merchantId = target.merchantId?.rawValue
        maxVersion = target.maxVersion; states = target.states
    }

    var target: CampaignTarget {
        get throws {
            CampaignTarget(modelIds: try (modelIds ?? []).enumerated().map { try ModelID.parse($1, field: "target.modelIds.\($0)") },
                           orgId: try OrgID.parse(ifPresent: orgId, field: "target.orgId"),
                           merchantId: try OrgID.parse(ifPresent: merchantId, field: "target.merchantId"), maxVersion: maxVersion,
                           states: states ?? CampaignTarget.defaultStates)
        }
    }
}

/// A campaign's plan as the API reads and shows it (every field optional on input: the defaults apply).
struct CampaignPlanBody: Codable, Sendable {
    var stages: [Int]?
    /// Local hours ("01:00-05:00"); absent for any time.
    var window: String?
    var maxFailureRate: Int?
    var maxApprovalDrop: Int?
    var minimumReports: Int?
    var soakMinutes: Int?
    var observationMinutes: Int?
    var timeZone: String?

    init(_ plan: CampaignPlan) {
        stages = plan.stages; window = plan.window?.description; maxFailureRate = plan.maxFailureRate; maxApprovalDrop = plan.maxApprovalDrop
        minimumReports = plan.minimumReports; soakMinutes = plan.soakMinutes; observationMinutes = plan.observationMinutes; timeZone = plan.timeZone
    }

    var plan: CampaignPlan {
        get throws {
            let defaults = CampaignPlan()
            let hours = try window.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try BusinessHours.parse($0, field: "plan.window") }
            return CampaignPlan(stages: stages ?? defaults.stages, window: hours == .allDay ? nil : hours,
                                maxFailureRate: maxFailureRate ?? defaults.maxFailureRate, maxApprovalDrop: maxApprovalDrop ?? defaults.maxApprovalDrop,
                                minimumReports: minimumReports ?? defaults.minimumReports, soakMinutes: soakMinutes ?? defaults.soakMinutes,
                                observationMinutes: observationMinutes ?? defaults.observationMinutes, timeZone: timeZone ?? defaults.timeZone)
        }
    }
}

/// One stage's progress.
struct StageProgressBody: Codable, Sendable {
    var stage: Int
    /// Cumulative share of the target released by this stage, basis points.
    var share: Int
    var targeted: Int
    var offered: Int
    var installed: Int
    var failed: Int
    var approvedBefore: Int
    var attemptedBefore: Int
    var approvedAfter: Int
    var attemptedAfter: Int

    init(stage: Int, _ progress: StageProgress) {
        self.stage = stage + 1; share = progress.share; targeted = progress.targeted; offered = progress.offered
        let metrics = progress.metrics
        installed = metrics.installed; failed = metrics.failed; approvedBefore = metrics.approvedBefore; attemptedBefore = metrics.attemptedBefore
        approvedAfter = metrics.approvedAfter; attemptedAfter = metrics.attemptedAfter
    }
}

/// A campaign as the API shows it (with its stages' progress when one campaign is read).
struct CampaignBody: Codable, Sendable {
    var id: String
    var orgId: String
    var name: String
    var packageId: String
    var rollbackPackageId: String?
    var target: CampaignTargetBody
    var plan: CampaignPlanBody
    var state: CampaignState
    /// The stage released now, 1-based.
    var stage: Int
    var stageStartedAt: Date?
    var reason: String?
    var createdBy: String
    var createdAt: Date
    var startedAt: Date?
    var updatedAt: Date
    var version: Int
    var progress: [StageProgressBody]?

    init(_ campaign: Campaign, progress: [StageProgress]? = nil) {
        id = campaign.id.rawValue; orgId = campaign.orgId.rawValue; name = campaign.name; packageId = campaign.packageId.rawValue
        rollbackPackageId = campaign.rollbackPackageId?.rawValue; target = CampaignTargetBody(campaign.target); plan = CampaignPlanBody(campaign.plan)
        state = campaign.state; stage = campaign.stage + 1; stageStartedAt = campaign.stageStartedAt; reason = campaign.reason
        createdBy = campaign.createdBy; createdAt = campaign.createdAt; startedAt = campaign.startedAt; updatedAt = campaign.updatedAt
        version = campaign.version; self.progress = progress?.enumerated().map { StageProgressBody(stage: $0, $1) }
    }
}

/// The body of `POST /campaigns`.
struct CampaignInputBody: APIInput {
    var name: String
    var packageId: String
    var rollbackPackageId: String?
    var target: CampaignTargetBody?
    var plan: CampaignPlanBody?
    enum CodingKeys: String, CodingKey, CaseIterable { case name, packageId, rollbackPackageId, target, plan }
    typealias Field = CodingKeys

    var input: CampaignInput {
        get throws {
            CampaignInput(name: name, packageId: try PackageID.parse(packageId, field: "packageId"),
                          rollbackPackageId: try PackageID.parse(ifPresent: rollbackPackageId, field: "rollbackPackageId"),
                          target: try target?.target ?? CampaignTarget(), plan: try plan?.plan ?? CampaignPlan())
        }
    }
}

/// The body of `POST /campaigns/{id}/start|pause|resume|rollback`.
struct CampaignActionInput: APIInput {
    /// The version read (optimistic).
    var version: Int
    var reason: String?
    /// Rollback only: the package to go back to, when the campaign named none.
    var rollbackPackageId: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case version, reason, rollbackPackageId }
    typealias Field = CodingKeys
}

/// The body of `POST /terminal/v1/updates/{campaignId}/result` is an `InstallReport`, decoded strictly.
extension InstallReport: APIInput {
    public typealias Field = CodingKeys
}

/// What a terminal's report is answered with: whether this report was the one stored.
struct InstallReportReply: Codable, Sendable {
    var recorded: Bool
    var duplicate: Bool
}

/// One terminal on the compliance report.
struct ComplianceItemBody: Codable, Sendable {
    var terminalId: String
    var sn: String
    var tid: String
    var state: TerminalState
    var modelId: String
    var model: String
    var appVersion: String?
    var firmwareVersion: String?
    var lastSeenAt: Date?
    var issues: [ComplianceIssue]

    init(_ finding: ComplianceFinding) {
        let terminal = finding.row.terminal
        terminalId = terminal.id.rawValue; sn = terminal.sn; tid = terminal.tid; state = terminal.state; modelId = terminal.modelId.rawValue
        model = "\(finding.row.model.manufacturer) \(finding.row.model.name)"; appVersion = finding.row.appVersion
        firmwareVersion = finding.row.firmwareVersion; lastSeenAt = finding.row.lastSeenAt; issues = finding.issues
    }
}

/// The compliance report page.
struct ComplianceBody: Codable, Sendable {
    var items: [ComplianceItemBody]
    var scanned: Int
    var counts: [String: Int]
    /// Continue the scan with `?cursor=` (absent when the scan reached the end).
    var nextCursor: String?

    init(_ report: ComplianceReport) {
        items = report.findings.map(ComplianceItemBody.init)
        scanned = report.scanned
        counts = Dictionary(uniqueKeysWithValues: report.counts.map { ($0.key.rawValue, $0.value) })
        nextCursor = report.nextCursor
    }
}

/// `/api/v1/packages`, `/api/v1/campaigns`, `/api/v1/compliance` and the terminal side of updates
/// (`GET /terminal/v1/packages/{id}`, `POST /terminal/v1/updates/{campaignId}/result`).
struct CampaignAPI {
    let campaigns: CampaignService
    let compliance: ComplianceService
    let fleet: FleetService
    let routes: APIRoutes

    func register(api: RouterGroup<AppRequestContext>, router: Router<AppRequestContext>) {
        let campaigns = self.campaigns
        let compliance = self.compliance
        let fleet = self.fleet
        let routes = self.routes

        api.get("packages") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await campaigns.packages(kind: try request.query("kind", as: PackageKind.self), page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page, PackageBody.init))
        }
        api.post("packages") { request, context in
            let principal = try context.requirePrincipal()
            let input = try Self.packageInput(request)
            let package = try await Self.publish(request, input: input, campaigns: campaigns, principal: principal)
            return try JSONResponse.make(PackageBody(package), status: .created)
        }
        api.get("packages/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id: PackageID = try context.id("id", resource: "package")
            return try JSONResponse.make(PackageBody(try await campaigns.package(id, by: principal)))
        }

        api.get("campaigns") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await campaigns.campaigns(state: try request.query("state", as: CampaignState.self), page: try request.pageRequest(),
                                                     by: principal)
            return try JSONResponse.make(PageBody(page) { CampaignBody($0) })
        }
        api.post("campaigns") { request, context in
            try await routes.create(request, context) { (body: CampaignInputBody, principal) in
                CampaignBody(try await campaigns.create(try body.input, by: principal))
            }
        }
        api.get("campaigns/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id: CampaignID = try context.id("id", resource: "campaign")
            let campaign = try await campaigns.campaign(id, by: principal)
            return try JSONResponse.make(CampaignBody(campaign, progress: try await campaigns.progress(id, by: principal)))
        }
        for action in CampaignAction.allCases {
            api.post("campaigns/:id/\(action.rawValue)") { request, context in
                let id: CampaignID = try context.id("id", resource: "campaign")
                return try await routes.update(request, context) { (body: CampaignActionInput, principal) in
                    let back = try PackageID.parse(ifPresent: body.rollbackPackageId, field: "rollbackPackageId")
                    guard back == nil || action == .rollBack else { throw DomainError.invalid("rollbackPackageId", "is only used when rolling back") }
                    return CampaignBody(try await campaigns.act(action, on: id, expectedVersion: body.version, reason: body.reason, rollbackPackageId: back,
                                                                by: principal))
                }
            }
        }

        api.get("compliance") { request, context in
            let principal = try context.requirePrincipal()
            let report = try await compliance.report(try Self.criteria(request), limit: try Self.number(request, "limit") ?? 100,
                                                     cursor: try Self.cursor(request), by: principal)
            return try JSONResponse.make(ComplianceBody(report))
        }

        let terminal = router.group("terminal/v1")
        terminal.get("packages/:id") { request, context in
            let (caller, _) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            let id: PackageID = try context.id("id", resource: "package")
            let (package, file) = try await campaigns.download(id, for: caller.terminal)
            let body = try await FileIO().loadFile(path: file.path, context: context)
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            headers[HTTPField.Name("X-Tillyard-SHA256")!] = package.sha256
            return Response(status: .ok, headers: headers, body: body)
        }
        terminal.post("updates/:campaignId/result") { request, context in
            let (caller, body) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            let id: CampaignID = try context.id("campaignId", resource: "campaign")
            let report = try JSONIO.decode(InstallReport.self, from: body)
            let stored = try await campaigns.report(report, campaign: id, from: caller.terminal)
            return try JSONResponse.make(InstallReportReply(recorded: true, duplicate: !stored))
        }
    }

    /// The package's description from the query (`kind`, `version`, `models`, optional `sha256`, `filename`, `notes`);
    /// the body is the file itself.
    static func packageInput(_ request: Request) throws -> PackageInput {
        guard let kind = try request.query("kind", as: PackageKind.self) else { throw DomainError.invalid("kind", "is required: app or firmware") }
        guard let version = request.query("version") else { throw DomainError.invalid("version", "is required") }
        let models = (request.query("models") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return PackageInput(kind: kind, version: version, modelIds: try models.enumerated().map { try ModelID.parse($1, field: "models.\($0)") },
                            sha256: request.query("sha256"), filename: request.query("filename"), notes: request.query("notes"))
    }

    /// Streams the request body to the package folder (hashing as it goes) and publishes it.
    static func publish(_ request: Request, input: PackageInput, campaigns: CampaignService, principal: Principal) async throws -> SoftwarePackage {
        let upload = try campaigns.beginUpload(by: principal)
        var size: Int64 = 0
        do {
            for try await buffer in request.body {
                size += Int64(buffer.readableBytes)
                // Stop reading at the limit: 413 without taking in the rest.
                guard size <= campaigns.maxPackageBytes else {
                    throw HTTPError(.contentTooLarge, message: "a package is at most \(campaigns.maxPackageBytes >> 20) MB")
                }
                try buffer.withUnsafeReadableBytes { try upload.append($0) }
            }
        } catch {
            upload.abandon()
            throw error
        }
        return try await campaigns.publish(input, upload: upload, by: principal)
    }

    static func criteria(_ request: Request) throws -> ComplianceCriteria {
        ComplianceCriteria(minimumApp: request.query("minApp"), minimumFirmware: request.query("minFirmware"),
                           silentDays: try number(request, "silentDays") ?? 7)
    }

    static func number(_ request: Request, _ name: String) throws -> Int? {
        guard let raw = request.query(name) else { return nil }
        guard let value = Int(raw) else { throw DomainError.invalid(name, "must be a whole number") }
        return value
    }

    /// The compliance scan goes on after a terminal id.
    static func cursor(_ request: Request) throws -> String? {
        guard let raw = request.query("cursor") else { return nil }
        guard TerminalID(validating: raw) != nil else { throw DomainError.invalid("cursor", "is not a cursor returned by this API") }
        return raw
    }
}
