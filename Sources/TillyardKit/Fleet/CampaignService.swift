import Foundation

/// Software packages and staged update campaigns: publishing (files streamed to the package
/// folder), campaigns with their operator actions, the terminals' install reports, automatic halt
/// and advance, and — for the heartbeat — `offer`, answered from an in-memory snapshot of the live
/// campaigns (no database access), refreshed at most every `refreshEvery` and at once after a change
/// made through this service.
public final class CampaignService: Sendable {
    public let store: any Persistence
    public let clock: Clock
    public let files: any PackageFiles
    /// Largest package file accepted, bytes.
    public let maxPackageBytes: Int64
    /// How stale the snapshot may get before a heartbeat starts a refresh in the background.
    public let refreshEvery: TimeInterval
    /// Whether `offer` starts background refreshes (tests turn it off and call `tick` themselves).
    public let autoRefresh: Bool

    private let snapshot = LiveSnapshot()
    /// One refresh at a time: a refresh merges reports into the sets it read before.
    private let gate = AsyncGate()

    /// Default package size limit: 512 MB.
    public static let defaultMaxPackageBytes: Int64 = 512 << 20
    /// Reports are reloaded with this overlap, so one committed late on another node is not missed.
    static let reloadOverlap: TimeInterval = 120

    public init(store: any Persistence, files: any PackageFiles, clock: Clock = .system, maxPackageBytes: Int64 = CampaignService.defaultMaxPackageBytes,
                refreshEvery: TimeInterval = 5, autoRefresh: Bool = true) {
        self.store = store
        self.files = files
        self.clock = clock
        self.maxPackageBytes = maxPackageBytes
        self.refreshEvery = refreshEvery
        self.autoRefresh = autoRefresh
    }

    // MARK: - Packages

    /// Starts an upload for a caller allowed to publish (the file is then streamed into it).
    public func beginUpload(by principal: Principal) throws -> any PackageUpload {
        try principal.require(.fleetRelease)
        return try files.begin(limit: maxPackageBytes)
    }

    /// Publishes an uploaded file as a package: checks the metadata and the uploader's checksum,
    /// moves the file into place, then stores the record and its audit event. A refused upload
    /// leaves no file behind.
    public func publish(_ input: PackageInput, upload: any PackageUpload, by principal: Principal) async throws -> SoftwarePackage {
        do {
            try principal.require(.fleetRelease)
            let version = try SoftwareVersions.validated(input.version)
            let expected = try input.sha256.map { try SoftwareVersions.sha256($0) }
            let filename = try input.filename.flatMap { EstateService.optionalText($0) }.map { try AccessRules.text($0, field: "filename", max: 120) }
            let notes = try input.notes.flatMap { EstateService.optionalText($0) }.map { try AccessRules.text($0, field: "notes", max: 500) }
            guard !input.modelIds.isEmpty, input.modelIds.count <= 100 else {
                throw DomainError.invalid("modelIds", "name the 1 to 100 models the package may be installed on")
            }
            let (sha256, size) = try upload.finish()
            guard size > 0 else { throw DomainError.invalid("file", "is empty") }
            if let expected, expected != sha256 {
                throw DomainError.invalid("sha256", "the file's SHA-256 is \(sha256), not \(expected): the upload is damaged or not the file meant")
            }
            let now = clock.now()
            let id = PackageID.generate(now: now)
            let package = try await store.write { repos in
                let org = try await Self.home(principal, repos: repos)
                if let twin = try await repos.packages.find(org: org.id, kind: input.kind, version: version) {
                    throw DomainError.conflict("\(input.kind.rawValue) \(version) is already published as package \(twin.id); packages never change, publish a new version")
                }
                for (index, modelId) in input.modelIds.enumerated() {
                    guard let model = try await repos.models.find(modelId), let tenant = try await repos.orgs.find(model.orgId),
                          principal.worksWith(path: tenant.path) else {
                        throw DomainError.invalid("modelIds.\(index)", "\(modelId) is not a model of this catalogue")
                    }
                }
                let package = SoftwarePackage(id: id, orgId: org.id, kind: input.kind, version: version, modelIds: Array(Set(input.modelIds)).sorted(),
                                              sha256: sha256, size: size, filename: filename, notes: notes, createdBy: principal.user.username,
                                              createdAt: now)
                // The file goes into place before the record commits: a crash leaves an orphan file, never a record without one.
                try upload.commit(as: id)
                try await repos.packages.insert(package, orgPath: org.path)
                _ = try await repos.audit.append(
                    AuditDraft(orgId: org.id, actor: principal.actor, action: "package.publish", resourceType: "package", resourceId: id.rawValue,
                               origin: principal.origin,
                               summary: ["kind": package.kind.rawValue, "version": version, "sha256": sha256, "size": String(size),
                                         "models": package.modelIds.map(\.rawValue).joined(separator: ",")]),
                    orgPath: org.path, at: now)
                return package
            }
            return package
        } catch {
            upload.abandon()
            throw error
        }
    }

    /// One package the caller may use.
    public func package(_ id: PackageID, by principal: Principal) async throws -> SoftwarePackage {
        try principal.require(.estateRead)
        return try await store.read { try await Self.visiblePackage(id, repos: $0, principal: principal) }
    }

    /// Packages the caller may use (published in their subtree or above it), newest first.
    public func packages(kind: PackageKind?, page: PageRequest, by principal: Principal) async throws -> Page<SoftwarePackage> {
        try principal.require(.estateRead)
        return try await store.read { try await $0.packages.list(visibleTo: principal.orgPath, kind: kind, page: page) }
    }

    /// The file a terminal (whose request the route authenticated) may download: a package for its
    /// model, published by its owner's organisation or above it. Anything else is "not found".
    public func download(_ id: PackageID, for terminal: Terminal) async throws -> (package: SoftwarePackage, file: URL) {
        let refused = DomainError.notFound(resource: "package", id: id.rawValue)
        let (package, ownerPath) = try await store.read { repos -> (SoftwarePackage?, String?) in
            guard let package = try await repos.packages.find(id), let publisher = try await repos.orgs.find(package.orgId),
                  let owner = try await repos.orgs.find(terminal.orgId) else { return (nil, nil) }
            return (package, owner.path.hasPrefix(publisher.path) ? owner.path : nil)
        }
        guard let package, ownerPath != nil, package.modelIds.contains(terminal.modelId) else { throw refused }
        guard let file = files.file(of: id) else { throw DomainError.conflict("the file of package \(id) is missing from the package folder") }
        return (package, file)
    }

    // MARK: - Campaigns

    /// Makes a draft campaign.
    public func create(_ input: CampaignInput, by principal: Principal) async throws -> Campaign {
        try principal.require(.fleetRelease)
        let name = try AccessRules.text(input.name, field: "name", max: 80)
        try input.plan.validate()
        let target = try Self.checked(input.target)
        let now = clock.now()
        let campaign = try await store.write { repos in
            let org = try await Self.home(principal, repos: repos)
            let package = try await Self.usable(input.packageId, field: "packageId", repos: repos, principal: principal)
            if let rollback = input.rollbackPackageId {
                try await Self.checkRollback(rollback, of: package, repos: repos, principal: principal)
            }
            for (index, modelId) in target.modelIds.enumerated() where !package.modelIds.contains(modelId) {
                throw DomainError.invalid("target.modelIds.\(index)", "package \(package.version) is not for model \(modelId)")
            }
            for (field, id) in [("target.orgId", target.orgId), ("target.merchantId", target.merchantId)] {
                guard let id else { continue }
                guard let found = try await repos.orgs.find(id), principal.sees(path: found.path) else {
                    throw DomainError.invalid(field, "\(id) is not an organisation of yours")
                }
                if field == "target.merchantId", found.kind != .merchant { throw DomainError.invalid(field, "\(id) is not a merchant") }
            }
            let campaign = Campaign(id: .generate(now: now), orgId: org.id, name: name, packageId: package.id, rollbackPackageId: input.rollbackPackageId,
                                    target: target, plan: input.plan, createdBy: principal.user.username, createdAt: now, updatedAt: now)
            try await repos.campaigns.insert(campaign, orgPath: org.path)
            try await Self.audit("campaign.create", campaign, org.path, actor: principal.actor, origin: principal.origin, repos: repos, now: now,
                                 extra: ["name": name, "package": package.version, "stages": input.plan.stages.map(String.init).joined(separator: ",")])
            return campaign
        }
        return campaign
    }

    /// One campaign the caller may see.
    public func campaign(_ id: CampaignID, by principal: Principal) async throws -> Campaign {
        try principal.require(.estateRead)
        return try await store.read { try await Self.visibleCampaign(id, repos: $0, principal: principal).0 }
    }

    /// Campaigns run in the caller's subtree or above it, newest first.
    public func campaigns(state: CampaignState?, page: PageRequest, by principal: Principal) async throws -> Page<Campaign> {
        try principal.require(.estateRead)
        return try await store.read { try await $0.campaigns.list(visibleTo: principal.orgPath, state: state, page: page) }
    }

    /// Per stage band: targeted, offered, installed, failed, approval before and after.
    public func progress(_ id: CampaignID, by principal: Principal) async throws -> [StageProgress] {
        try principal.require(.estateRead)
        let now = clock.now()
        try await flushOffers()
        return try await store.read { repos in
            let (campaign, _) = try await Self.visibleCampaign(id, repos: repos, principal: principal)
            let offered = try await repos.campaigns.offerCounts(of: id, package: campaign.packageId)
            let metrics = try await repos.campaigns.stageMetrics(of: id, package: campaign.packageId,
                                                                 observation: TimeInterval(campaign.plan.observationMinutes * 60), now: now)
            return campaign.plan.stages.enumerated().map { index, share in
                StageProgress(share: share, targeted: campaign.stageTargets.indices.contains(index) ? campaign.stageTargets[index] : 0,
                              offered: offered[index] ?? 0, metrics: metrics[index] ?? StageMetrics())
            }
        }
    }

    /// Starts, pauses, resumes or rolls back a campaign (optimistic on `expectedVersion`). Starting
    /// counts the targeted terminals of each stage; rolling back may name the package to go back to.
    public func act(_ action: CampaignAction, on id: CampaignID, expectedVersion: Int, reason: String? = nil, rollbackPackageId: PackageID? = nil,
                    by principal: Principal) async throws -> Campaign {
        try principal.require(.fleetRelease)
        let note = try reason.flatMap { EstateService.optionalText($0) }.map { try AccessRules.text($0, field: "reason", max: 300) }
        // Counted before the write transaction: a large estate is read in pages without holding the writer.
        let counts: [Int] = if action == .start {
            try await store.read { repos in
                let (campaign, path) = try await Self.visibleCampaign(id, repos: repos, principal: principal, acting: true)
                return try await Self.count(campaign, scopePath: path, repos: repos)
            }
        } else {
            []
        }
        let now = clock.now()
        let changed = try await store.write { repos in
            var (campaign, path) = try await Self.visibleCampaign(id, repos: repos, principal: principal, acting: true)
            guard campaign.version == expectedVersion else {
                throw DomainError.conflict("the campaign was changed (version \(campaign.version)); reload it")
            }
            guard CampaignRules.allowed(action).contains(campaign.state) else {
                throw DomainError.conflict("a \(campaign.state.rawValue) campaign cannot be \(action == .rollBack ? "rolled back" : action.rawValue + "ed")")
            }
            let before = campaign.state
            switch action {
            case .start:
                campaign.state = .running
                campaign.stage = 0
                campaign.stageStartedAt = now
                campaign.startedAt = now
                campaign.stageTargets = counts
                campaign.reason = nil
            case .pause:
                campaign.state = .paused
                campaign.reason = note
            case .resume:
                // Resuming a halt is the operator's judgement that the halted stage is acceptable.
                if campaign.state == .halted { campaign.acceptedStage = campaign.stage }
                // A paused completed campaign comes back as running; the next tick completes it again.
                campaign.state = .running
                campaign.reason = note
            case .rollBack:
                if let rollbackPackageId {
                    let package = try await Self.usable(campaign.packageId, field: "packageId", repos: repos, principal: principal)
                    try await Self.checkRollback(rollbackPackageId, of: package, repos: repos, principal: principal)
                    campaign.rollbackPackageId = rollbackPackageId
                }
                guard campaign.rollbackPackageId != nil else {
                    throw DomainError.invalid("rollbackPackageId", "name the package to go back to (or pause the campaign instead)")
                }
                campaign.state = .rolledBack
                campaign.reason = note
            }
            campaign.updatedAt = now
            campaign.version += 1
            try await repos.campaigns.update(campaign)
            var extra = ["from": before.rawValue, "to": campaign.state.rawValue]
            if let note { extra["reason"] = note }
            if action == .start { extra["targeted"] = String(counts.reduce(0, +)) }
            if let back = campaign.rollbackPackageId, action == .rollBack { extra["rollbackPackage"] = back.rawValue }
            try await Self.audit("campaign.\(action.rawValue)", campaign, path, actor: principal.actor, origin: principal.origin, repos: repos,
                                 now: now, extra: extra)
            return campaign
        }
        try await refresh(judge: false)
        return changed
    }

    /// A terminal's report on an offered package (the route authenticated the terminal). Stored once
    /// per terminal, campaign and package: a repeat answers false and counts nothing twice.
    @discardableResult
    public func report(_ report: InstallReport, campaign id: CampaignID, from terminal: Terminal) async throws -> Bool {
        let detail = try report.detail.flatMap { EstateService.optionalText($0) }.map { text -> String in
            guard text.count <= 500 else { throw DomainError.invalid("detail", "must be at most 500 characters") }
            return text
        }
        guard let packageId = PackageID(validating: report.packageId) else { throw DomainError.invalid("packageId", "is not a package id") }
        let now = clock.now()
        let stored = try await store.write { repos -> Bool in
            guard let campaign = try await repos.campaigns.find(id), let org = try await repos.orgs.find(campaign.orgId),
                  let owner = try await repos.orgs.find(terminal.orgId), owner.path.hasPrefix(org.path) else {
                throw DomainError.notFound(resource: "campaign", id: id.rawValue)
            }
            guard packageId == campaign.packageId || packageId == campaign.rollbackPackageId else {
                throw DomainError.invalid("packageId", "is not a package of this campaign")
            }
            let stage = CampaignRules.band(of: CampaignRules.bucket(terminal: terminal.id.rawValue, campaign: id.rawValue), plan: campaign.plan)
            let result = InstallResult(campaignId: id, terminalId: terminal.id, packageId: packageId, stage: stage, outcome: report.outcome,
                                       detail: detail, reportedAt: now)
            guard try await repos.campaigns.record(result) else { return false }
            var summary = ["package": packageId.rawValue, "outcome": report.outcome.rawValue, "sn": terminal.sn]
            if let detail { summary["detail"] = detail }
            _ = try await repos.audit.append(
                AuditDraft(orgId: org.id, actor: AuditActor(kind: .terminal, id: terminal.id.rawValue, name: terminal.sn), action: "campaign.install_report",
                           resourceType: "campaign", resourceId: id.rawValue, outcome: report.outcome == .installed ? .success : .failure,
                           origin: terminal.id.rawValue, summary: summary),
                orgPath: org.path, at: now)
            return true
        }
        // At once in this node's snapshot: the terminal is not offered the package again.
        snapshot.take([InstallResult(campaignId: id, terminalId: terminal.id, packageId: packageId, stage: 0, outcome: report.outcome, detail: nil,
                                     reportedAt: now)])
        return stored
    }

    // MARK: - The heartbeat's question

    /// The update to offer a terminal in its heartbeat reply, or nil. Synchronous and from memory
    /// only (the heartbeat path must stay cheap): the live campaigns that include the terminal's
    /// stage band now, inside the window in the plan's local time, for a version the terminal does
    /// not run yet and on which it has not reported; after a roll back, the terminals that installed
    /// are offered the rollback package. A stale snapshot starts a refresh in the background.
    public func offer(terminal: Terminal, ownerPath: String, heartbeat: Heartbeat, now: Date) -> UpdateOffer? {
        if autoRefresh, snapshot.due(at: now, every: refreshEvery) {
            Task { [self] in try? await self.tick() }
        }
        return snapshot.offer(terminal: terminal, ownerPath: ownerPath, heartbeat: heartbeat, now: now)
    }

    /// Writes the recorded offers, judges the running campaigns (halt, advance, complete) and
    /// reloads the snapshot. Runs in the background from `offer`; tests and the CLI call it directly.
    public func tick() async throws {
        try await refresh(judge: true)
    }

    private func refresh(judge: Bool) async throws {
        try await gate.run { try await reload(judge: judge) }
    }

    private func reload(judge: Bool) async throws {
        let now = clock.now()
        snapshot.markRefreshed(at: now)
        try await flushOffers()
        if judge { try await judgeRunning(now: now) }
        let live = try await store.read { repos -> [LiveCampaign] in
            var built: [LiveCampaign] = []
            for (campaign, path) in try await repos.campaigns.live() {
                guard let package = try await repos.packages.find(campaign.packageId) else { continue }
                let rollback = try await campaign.rollbackPackageId.asyncMap { try await repos.packages.find($0) } ?? nil
                let targetPath = try await campaign.target.orgId.asyncMap { try await repos.orgs.find($0)?.path } ?? nil
                built.append(LiveCampaign(campaign: campaign, scopePath: path, targetPath: targetPath, package: package, rollback: rollback))
            }
            return built
        }
        var loads: [CampaignID: [InstallResult]] = [:]
        for entry in live {
            let since = snapshot.loadedUntil(entry.campaign.id).map { $0.addingTimeInterval(-Self.reloadOverlap) } ?? .distantPast
            loads[entry.campaign.id] = try await store.read { try await $0.campaigns.results(of: entry.campaign.id, since: since) }
        }
        snapshot.replace(live, results: loads, at: now)
    }

    private func judgeRunning(now: Date) async throws {
        let running = try await store.read { try await $0.campaigns.live() }.filter { $0.campaign.state == .running }
        for (candidate, path) in running {
            do {
                // Judged inside the write: the campaign and its reports are read under the writer, so an
                // operator's pause or another node's step in between is seen, never overwritten.
                try await store.write { repos in
                    guard var current = try await repos.campaigns.find(candidate.id), current.state == .running else { return }
                    let metrics = try await repos.campaigns.stageMetrics(of: current.id, package: current.packageId,
                                                                         observation: TimeInterval(current.plan.observationMinutes * 60), now: now)
                    var extra: [String: String] = ["from": current.state.rawValue]
                    let action: String
                    switch CampaignRules.step(current, metrics: metrics, now: now) {
                    case .stay: return
                    case .advance:
                        current.stage += 1
                        current.stageStartedAt = now
                        action = "campaign.advance"
                        extra["stage"] = String(current.stage + 1)
                    case .complete:
                        current.state = .completed
                        current.reason = "completed"
                        action = "campaign.complete"
                    case .halt(let reason):
                        current.state = .halted
                        current.reason = reason
                        action = "campaign.halt"
                        extra["reason"] = reason
                    }
                    extra["to"] = current.state.rawValue
                    current.updatedAt = now
                    current.version += 1
                    try await repos.campaigns.update(current)
                    try await Self.audit(action, current, path, actor: .system, origin: "campaigns", repos: repos, now: now, extra: extra)
                }
            } catch DomainError.conflict {
                // Another node changed it first (PostgreSQL, optimistic version); the next tick sees the new state.
                continue
            }
        }
    }

    private func flushOffers() async throws {
        let offers = snapshot.drainOffers()
        guard !offers.isEmpty else { return }
        do {
            try await store.write { try await $0.campaigns.recordOffers(offers) }
        } catch {
            snapshot.restoreOffers(offers)
            throw error
        }
    }

    // MARK: - Helpers

    /// The caller's own organisation, where what they publish or run belongs.
    static func home(_ principal: Principal, repos: any Repositories) async throws -> Organization {
        guard let org = try await repos.orgs.find(principal.user.orgId) else { throw DomainError.forbidden("your organisation is gone") }
        return org
    }

    static func visiblePackage(_ id: PackageID, repos: any Repositories, principal: Principal) async throws -> SoftwarePackage {
        guard let package = try await repos.packages.find(id), let org = try await repos.orgs.find(package.orgId),
              principal.worksWith(path: org.path) else {
            throw DomainError.notFound(resource: "package", id: id.rawValue)
        }
        return package
    }

    /// A package a campaign may name (a wrong one is a field error, not a 404 of the request).
    static func usable(_ id: PackageID, field: String, repos: any Repositories, principal: Principal) async throws -> SoftwarePackage {
        do {
            return try await visiblePackage(id, repos: repos, principal: principal)
        } catch DomainError.notFound {
            throw DomainError.invalid(field, "\(id) is not a package you may use")
        }
    }

    /// A rollback package must be usable and another package of the same kind.
    static func checkRollback(_ id: PackageID, of package: SoftwarePackage, repos: any Repositories, principal: Principal) async throws {
        let back = try await usable(id, field: "rollbackPackageId", repos: repos, principal: principal)
        guard back.kind == package.kind, back.id != package.id else {
            throw DomainError.invalid("rollbackPackageId", "must be another \(package.kind.rawValue) package")
        }
    }

    /// A campaign and its organisation's path. Reading is open to the subtree and those below the
    /// campaign's organisation; acting needs the campaign inside the caller's own subtree.
    static func visibleCampaign(_ id: CampaignID, repos: any Repositories, principal: Principal, acting: Bool = false) async throws -> (Campaign, String) {
        guard let campaign = try await repos.campaigns.find(id), let org = try await repos.orgs.find(campaign.orgId),
              principal.worksWith(path: org.path) else {
            throw DomainError.notFound(resource: "campaign", id: id.rawValue)
        }
        if acting, !principal.sees(path: org.path) {
            throw DomainError.forbidden("campaign \(campaign.name) is run by an organisation above yours")
        }
        return (campaign, org.path)
    }

    static func checked(_ target: CampaignTarget) throws -> CampaignTarget {
        var target = target
        target.maxVersion = try target.maxVersion.flatMap { EstateService.optionalText($0) }.map { try SoftwareVersions.validated($0, field: "target.maxVersion") }
        guard target.modelIds.count <= 100 else { throw DomainError.invalid("target.modelIds", "name at most 100 models") }
        if target.states.isEmpty { target.states = CampaignTarget.defaultStates }
        guard target.states.allSatisfy({ CampaignTarget.defaultStates.contains($0) }) else {
            throw DomainError.invalid("target.states", "only bound, installed and in_service terminals talk to the server")
        }
        target.modelIds = Array(Set(target.modelIds)).sorted()
        target.states = Array(Set(target.states)).sorted { $0.rawValue < $1.rawValue }
        return target
    }

    /// The targeted terminals of each stage band, counted from the dossiers (their recorded versions).
    static func count(_ campaign: Campaign, scopePath: String, repos: any Repositories) async throws -> [Int] {
        guard let package = try await repos.packages.find(campaign.packageId) else { throw DomainError.conflict("the campaign's package is gone") }
        let targetPath = try await campaign.target.orgId.asyncMap { try await repos.orgs.find($0)?.path } ?? nil
        var counts = Array(repeating: 0, count: campaign.plan.stages.count)
        var after: TerminalID?
        while true {
            let batch = try await repos.campaigns.candidates(under: targetPath ?? scopePath, target: campaign.target, after: after, limit: 1000)
            for terminal in batch {
                let current = package.kind == .app ? terminal.appVersion : terminal.firmwareVersion
                // The candidates are owned inside the path asked for, so that path stands for their owners'.
                guard CampaignRules.matches(campaign.target, compatible: package.modelIds, terminal: terminal, ownerPath: targetPath ?? scopePath,
                                            scopePath: scopePath, targetPath: targetPath, currentVersion: current),
                      CampaignRules.needs(package.version, current: current) else { continue }
                counts[CampaignRules.band(of: CampaignRules.bucket(terminal: terminal.id.rawValue, campaign: campaign.id.rawValue), plan: campaign.plan)] += 1
            }
            guard batch.count == 1000, let last = batch.last else { return counts }
            after = last.id
        }
    }

    static func audit(_ action: String, _ campaign: Campaign, _ path: String, actor: AuditActor, origin: String, repos: any Repositories, now: Date,
                      extra: [String: String]) async throws {
        var summary = extra
        summary["name"] = campaign.name
        _ = try await repos.audit.append(
            AuditDraft(orgId: campaign.orgId, actor: actor, action: action, resourceType: "campaign", resourceId: campaign.id.rawValue, origin: origin,
                       summary: summary),
            orgPath: path, at: now)
    }
}

/// A live campaign as the heartbeat path sees it, with who has reported.
struct LiveCampaign: Sendable {
    var campaign: Campaign
    var scopePath: String
    var targetPath: String?
    var package: SoftwarePackage
    var rollback: SoftwarePackage?
    var zone: TimeZone
    /// Terminals that reported on the campaign's package (never offered it again).
    var reported: Set<TerminalID> = []
    /// Terminals that installed it (offered the rollback package after a roll back).
    var installed: Set<TerminalID> = []
    /// Terminals that reported on the rollback package.
    var reportedBack: Set<TerminalID> = []
    /// Offers already recorded (each is written once), of the package and of the rollback package.
    var offered: Set<TerminalID> = []
    var offeredBack: Set<TerminalID> = []
    var loadedUntil: Date?

    init(campaign: Campaign, scopePath: String, targetPath: String?, package: SoftwarePackage, rollback: SoftwarePackage?) {
        self.campaign = campaign
        self.scopePath = scopePath
        self.targetPath = targetPath
        self.package = package
        self.rollback = rollback
        self.zone = TimeZone(identifier: campaign.plan.timeZone) ?? TimeZone(identifier: CampaignPlan.defaultTimeZone)!
    }

    mutating func take(_ result: InstallResult) {
        if result.packageId == package.id {
            reported.insert(result.terminalId)
            if result.outcome == .installed { installed.insert(result.terminalId) }
        } else if result.packageId == rollback?.id {
            reportedBack.insert(result.terminalId)
        }
    }
}

/// The in-memory state behind `CampaignService.offer`, under one lock.
final class LiveSnapshot: @unchecked Sendable {
    private let lock = NSLock()
    private var campaigns: [LiveCampaign] = []
    private var pending: [OfferRecord] = []
    private var lastRefresh = Date.distantPast
    private var refreshing = false

    func due(at now: Date, every interval: TimeInterval) -> Bool {
        lock.withLock {
            guard !refreshing, now.timeIntervalSince(lastRefresh) >= interval else { return false }
            refreshing = true
            return true
        }
    }

    func markRefreshed(at now: Date) {
        lock.withLock { lastRefresh = now }
    }

    func loadedUntil(_ id: CampaignID) -> Date? {
        lock.withLock { campaigns.first { $0.campaign.id == id }?.loadedUntil }
    }

    /// Swaps in freshly read campaigns, keeping what each already knew of reports and offers.
    func replace(_ fresh: [LiveCampaign], results: [CampaignID: [InstallResult]], at now: Date) {
        lock.withLock {
            var merged: [LiveCampaign] = []
            for var entry in fresh {
                if let old = campaigns.first(where: { $0.campaign.id == entry.campaign.id }), old.package.id == entry.package.id {
                    entry.reported = old.reported
                    entry.installed = old.installed
                    entry.reportedBack = old.reportedBack
                    entry.offered = old.offered
                    entry.offeredBack = old.offeredBack
                }
                for result in results[entry.campaign.id] ?? [] { entry.take(result) }
                entry.loadedUntil = now
                merged.append(entry)
            }
            campaigns = merged
            refreshing = false
        }
    }

    func take(_ results: [InstallResult]) {
        lock.withLock {
            for result in results {
                if let index = campaigns.firstIndex(where: { $0.campaign.id == result.campaignId }) { campaigns[index].take(result) }
            }
        }
    }

    func drainOffers() -> [OfferRecord] {
        lock.withLock {
            defer { pending.removeAll() }
            return pending
        }
    }

    func restoreOffers(_ offers: [OfferRecord]) {
        lock.withLock { pending.insert(contentsOf: offers, at: 0) }
    }

    func offer(terminal: Terminal, ownerPath: String, heartbeat: Heartbeat, now: Date) -> UpdateOffer? {
        lock.withLock {
            for index in campaigns.indices {
                let entry = campaigns[index]
                guard ownerPath.hasPrefix(entry.scopePath),
                      CampaignRules.mayInstall(plan: entry.campaign.plan, minuteOfDay: CampaignRules.minuteOfDay(now, zone: entry.zone)) else { continue }
                let package: SoftwarePackage
                switch entry.campaign.state {
                case .running, .completed:
                    let current = Self.current(entry.package.kind, terminal: terminal, heartbeat: heartbeat)
                    guard !entry.reported.contains(terminal.id),
                          CampaignRules.needs(entry.package.version, current: current),
                          CampaignRules.matches(entry.campaign.target, compatible: entry.package.modelIds, terminal: terminal, ownerPath: ownerPath,
                                                scopePath: entry.scopePath, targetPath: entry.targetPath, currentVersion: current),
                          CampaignRules.includes(terminal: terminal.id.rawValue, campaign: entry.campaign.id.rawValue, plan: entry.campaign.plan,
                                                 stage: entry.campaign.stage) else { continue }
                    package = entry.package
                case .rolledBack:
                    guard let rollback = entry.rollback, entry.installed.contains(terminal.id), !entry.reportedBack.contains(terminal.id),
                          rollback.modelIds.contains(terminal.modelId),
                          Self.current(rollback.kind, terminal: terminal, heartbeat: heartbeat) != rollback.version else { continue }
                    package = rollback
                case .draft, .paused, .halted:
                    continue
                }
                let first = package.id == entry.package.id ? campaigns[index].offered.insert(terminal.id).inserted
                    : campaigns[index].offeredBack.insert(terminal.id).inserted
                if first {
                    let band = CampaignRules.band(of: CampaignRules.bucket(terminal: terminal.id.rawValue, campaign: entry.campaign.id.rawValue),
                                                  plan: entry.campaign.plan)
                    pending.append(OfferRecord(campaignId: entry.campaign.id, terminalId: terminal.id, packageId: package.id, stage: band, offeredAt: now))
                }
                return UpdateOffer(campaignId: entry.campaign.id.rawValue, packageId: package.id.rawValue, kind: package.kind.rawValue,
                                   version: package.version, sha256: package.sha256, size: package.size, url: package.downloadPath)
            }
            return nil
        }
    }

    /// What the terminal runs of a kind: its heartbeat's word first, the dossier's otherwise.
    static func current(_ kind: PackageKind, terminal: Terminal, heartbeat: Heartbeat) -> String? {
        switch kind {
        case .app: return heartbeat.appVersion ?? terminal.appVersion
        case .firmware: return heartbeat.firmwareVersion ?? terminal.firmwareVersion
        }
    }
}

/// What the heartbeat asks for the software a terminal should install: `FleetService` holds one
/// and puts its answer in `HeartbeatReply.update`. Implementations answer from memory only.
public protocol UpdateOffering: Sendable {
    /// The update for this terminal now, or nil (see `CampaignService.offer`).
    func offer(terminal: Terminal, ownerPath: String, heartbeat: Heartbeat, now: Date) -> UpdateOffer?
}

extension CampaignService: UpdateOffering {}
