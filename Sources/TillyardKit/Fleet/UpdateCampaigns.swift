import Foundation

/// Tag for update campaign ids.
public enum CampaignTag {}
/// Id of an update campaign.
public typealias CampaignID = Identifier<CampaignTag>

/// Which terminals a campaign is for. Every condition given must hold; an empty one is no condition.
/// The package's compatible models always apply on top.
public struct CampaignTarget: Codable, Sendable, Equatable {
    public var modelIds: [ModelID]
    /// Only terminals owned inside this organisation's subtree (a region, an agent).
    public var orgId: OrgID?
    /// Only terminals bound to this merchant.
    public var merchantId: OrgID?
    /// Only terminals whose current version of the package's kind is at or below this one.
    public var maxVersion: String?
    /// Terminal states (default: bound, installed, in service — the states that talk to us).
    public var states: [TerminalState]

    public init(modelIds: [ModelID] = [], orgId: OrgID? = nil, merchantId: OrgID? = nil, maxVersion: String? = nil,
                states: [TerminalState] = CampaignTarget.defaultStates) {
        self.modelIds = modelIds
        self.orgId = orgId
        self.merchantId = merchantId
        self.maxVersion = maxVersion
        self.states = states
    }

    /// The states in which a terminal is activated and sends heartbeats.
    public static let defaultStates: [TerminalState] = [.bound, .installed, .inService]
}

/// A staged update campaign.
public struct Campaign: Codable, Sendable, Equatable {
    public var id: CampaignID
    /// The organisation that runs it; only its subtree's terminals are targeted.
    public var orgId: OrgID
    public var name: String
    public var packageId: PackageID
    /// Offered to the terminals that installed `packageId` once the campaign is rolled back.
    public var rollbackPackageId: PackageID?
    public var target: CampaignTarget
    public var plan: CampaignPlan
    public var state: CampaignState
    /// The stage released now (0-based index into `plan.stages`).
    public var stage: Int
    public var stageStartedAt: Date?
    /// Terminals of each stage's band when the campaign started (the targeted counts).
    public var stageTargets: [Int]
    /// Why it halted (the verdict), or why an operator paused or rolled it back.
    public var reason: String?
    /// A stage an operator resumed after a halt: its thresholds no longer halt it.
    public var acceptedStage: Int?
    public var createdBy: String
    public var createdAt: Date
    public var startedAt: Date?
    public var updatedAt: Date
    public var version: Int

    public init(id: CampaignID, orgId: OrgID, name: String, packageId: PackageID, rollbackPackageId: PackageID?, target: CampaignTarget,
                plan: CampaignPlan, state: CampaignState = .draft, stage: Int = 0, stageStartedAt: Date? = nil, stageTargets: [Int] = [],
                reason: String? = nil, acceptedStage: Int? = nil, createdBy: String, createdAt: Date, startedAt: Date? = nil, updatedAt: Date,
                version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.name = name
        self.packageId = packageId
        self.rollbackPackageId = rollbackPackageId
        self.target = target
        self.plan = plan
        self.state = state
        self.stage = stage
        self.stageStartedAt = stageStartedAt
        self.stageTargets = stageTargets
        self.reason = reason
        self.acceptedStage = acceptedStage
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// What an operator fills in for a campaign.
public struct CampaignInput: Sendable, Equatable {
    public var name: String
    public var packageId: PackageID
    public var rollbackPackageId: PackageID?
    public var target: CampaignTarget
    public var plan: CampaignPlan

    public init(name: String, packageId: PackageID, rollbackPackageId: PackageID? = nil, target: CampaignTarget = CampaignTarget(),
                plan: CampaignPlan = CampaignPlan()) {
        self.name = name
        self.packageId = packageId
        self.rollbackPackageId = rollbackPackageId
        self.target = target
        self.plan = plan
    }
}

/// One terminal's report on one package of a campaign (stored once: a repeat changes nothing).
public struct InstallResult: Codable, Sendable, Equatable {
    public var campaignId: CampaignID
    public var terminalId: TerminalID
    public var packageId: PackageID
    /// The stage band of the terminal (by its bucket).
    public var stage: Int
    public var outcome: InstallOutcome
    public var detail: String?
    public var reportedAt: Date

    public init(campaignId: CampaignID, terminalId: TerminalID, packageId: PackageID, stage: Int, outcome: InstallOutcome, detail: String?, reportedAt: Date) {
        self.campaignId = campaignId
        self.terminalId = terminalId
        self.packageId = packageId
        self.stage = stage
        self.outcome = outcome
        self.detail = detail
        self.reportedAt = reportedAt
    }
}

/// An offer made in a heartbeat reply, recorded (in batches) for the progress counts.
public struct OfferRecord: Sendable, Equatable, Hashable {
    public var campaignId: CampaignID
    public var terminalId: TerminalID
    public var packageId: PackageID
    public var stage: Int
    public var offeredAt: Date

    public init(campaignId: CampaignID, terminalId: TerminalID, packageId: PackageID, stage: Int, offeredAt: Date) {
        self.campaignId = campaignId
        self.terminalId = terminalId
        self.packageId = packageId
        self.stage = stage
        self.offeredAt = offeredAt
    }
}

/// Progress of one stage band.
public struct StageProgress: Codable, Sendable, Equatable {
    /// Cumulative share released by this stage, basis points.
    public var share: Int
    public var targeted: Int
    public var offered: Int
    public var metrics: StageMetrics

    public init(share: Int, targeted: Int, offered: Int, metrics: StageMetrics) {
        self.share = share
        self.targeted = targeted
        self.offered = offered
        self.metrics = metrics
    }
}

/// Storage of update campaigns, their offers and the terminals' reports.
public protocol CampaignRepository: Sendable {
    func insert(_ campaign: Campaign, orgPath: String) async throws
    /// Saves if `campaign.version - 1` is still the stored version; else `conflict`.
    func update(_ campaign: Campaign) async throws
    func find(_ id: CampaignID) async throws -> Campaign?
    /// Campaigns run inside a subtree or by its ancestors, newest first.
    func list(visibleTo path: String, state: CampaignState?, page: PageRequest) async throws -> Page<Campaign>
    /// Campaigns that may offer something now (running, completed, rolled back), with their owner paths.
    func live() async throws -> [(campaign: Campaign, orgPath: String)]
    /// Stores a report unless one for the same terminal, campaign and package exists; true when stored.
    func record(_ result: InstallResult) async throws -> Bool
    /// Reports of a campaign stored at or after `since`, oldest first.
    func results(of campaign: CampaignID, since: Date) async throws -> [InstallResult]
    /// Stores offers (an offer already stored is skipped).
    func recordOffers(_ offers: [OfferRecord]) async throws
    /// Per stage band: offers made of a package.
    func offerCounts(of campaign: CampaignID, package: PackageID) async throws -> [Int: Int]
    /// Per stage band: installs and failures reported for a package, and the approval counts of the
    /// installed terminals in `observation` after installing against the same length before (the
    /// after period ends at `now` while it is still running).
    func stageMetrics(of campaign: CampaignID, package: PackageID, observation: TimeInterval, now: Date) async throws -> [Int: StageMetrics]
    /// Terminals owned inside `path` matching the target's state, model and merchant conditions, by id, after `after`.
    func candidates(under path: String, target: CampaignTarget, after: TerminalID?, limit: Int) async throws -> [Terminal]
}

/// Where a stage goes next.
public enum CampaignStep: Sendable, Equatable {
    case stay
    case advance
    case complete
    case halt(String)
}

extension CampaignRules {
    /// The stage band a bucket falls in: the first stage whose share is above it.
    public static func band(of bucket: Int, plan: CampaignPlan) -> Int {
        plan.stages.firstIndex { bucket < $0 } ?? plan.stages.count - 1
    }

    /// Whether a terminal meets a campaign's target and the package's models. `currentVersion` is
    /// what the terminal runs of the package's kind (nil when unknown).
    public static func matches(_ target: CampaignTarget, compatible: [ModelID], terminal: Terminal, ownerPath: String, scopePath: String,
                               targetPath: String?, currentVersion: String?) -> Bool {
        guard ownerPath.hasPrefix(scopePath), compatible.contains(terminal.modelId), target.states.contains(terminal.state) else { return false }
        if !target.modelIds.isEmpty, !target.modelIds.contains(terminal.modelId) { return false }
        if let targetPath, !ownerPath.hasPrefix(targetPath) { return false }
        if let merchant = target.merchantId, terminal.merchantId != merchant { return false }
        if let maxVersion = target.maxVersion {
            // A terminal that never said what it runs is not known to be at or below the limit.
            guard let currentVersion, SoftwareVersions.compare(currentVersion, maxVersion) != .orderedDescending else { return false }
        }
        return true
    }

    /// Whether a terminal still needs a version: it runs something lower, or nothing we know of.
    public static func needs(_ version: String, current: String?) -> Bool {
        guard let current else { return true }
        return SoftwareVersions.isBelow(current, version)
    }

    /// The minute of the day at `now` in a zone (the window is read in the terminals' local time).
    public static func minuteOfDay(_ now: Date, zone: TimeZone) -> Int {
        let seconds = Int(now.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: now)
        return ((seconds % 86_400 + 86_400) % 86_400) / 60
    }

    /// What a running campaign does next, from every released stage's metrics: halt when a stage
    /// crosses a threshold (unless an operator accepted that stage), advance when the current one
    /// is healthy and has soaked, complete after the last.
    public static func step(_ campaign: Campaign, metrics: [Int: StageMetrics], now: Date) -> CampaignStep {
        let plan = campaign.plan
        var current: StageVerdict = .waiting
        for stage in 0...min(campaign.stage, plan.stages.count - 1) {
            let targeted = campaign.stageTargets.indices.contains(stage) ? campaign.stageTargets[stage] : 0
            let verdict = judge(metrics[stage] ?? StageMetrics(), plan: plan, required: min(plan.minimumReports, targeted))
            if case .halt(let reason) = verdict, campaign.acceptedStage.map({ stage > $0 }) ?? true {
                return .halt("stage \(stage + 1): \(reason)")
            }
            if stage == campaign.stage { current = verdict }
        }
        guard current != .waiting else { return .stay }
        // Only with a soak time: a stored start (whole milliseconds) may round to just after `now`.
        if plan.soakMinutes > 0, let started = campaign.stageStartedAt, now.timeIntervalSince(started) < TimeInterval(plan.soakMinutes * 60) {
            return .stay
        }
        return campaign.stage + 1 < plan.stages.count ? .advance : .complete
    }

    /// The states an operator action may start from.
    public static func allowed(_ action: CampaignAction) -> Set<CampaignState> {
        switch action {
        case .start: return [.draft]
        case .pause: return [.running, .completed]
        case .resume: return [.paused, .halted]
        case .rollBack: return [.running, .paused, .halted, .completed]
        }
    }
}

/// What an operator can do to a campaign.
public enum CampaignAction: String, Sendable, CaseIterable {
    case start, pause, resume
    case rollBack = "rollback"
}
