import Crypto
import Foundation

/// Where a staged update campaign stands.
public enum CampaignState: String, Codable, Sendable, CaseIterable {
    case draft, running, paused
    /// Stopped by its own thresholds; an operator looks, then resumes or rolls back.
    case halted
    case completed
    /// Terminals are told to go back to the previous version.
    case rolledBack = "rolled_back"
}

/// When and how an update goes out: stages as shares of the target set, a daily maintenance window,
/// and the thresholds that halt it.
public struct CampaignPlan: Codable, Sendable, Equatable {
    /// Cumulative shares of the target terminals in basis points, ascending, the last 10000
    /// (the default 1% → 10% → 50% → 100%).
    public var stages: [Int]
    /// Local hours when terminals may install ("01:00-05:00"); nil for any time.
    public var window: BusinessHours?
    /// Halt when more than this share of a stage's reported installs failed (basis points).
    public var maxFailureRate: Int
    /// Halt when the stage's terminals' approval rate after installing is lower than before by
    /// more than this (basis points, e.g. 200 = two percentage points).
    public var maxApprovalDrop: Int
    /// A stage is judged once this many of its terminals have reported (fewer say nothing yet).
    public var minimumReports: Int
    /// A healthy stage is kept this long after it started before the next one starts (0: at once).
    public var soakMinutes: Int
    /// How long after installing a terminal's transactions are compared with the same length before.
    public var observationMinutes: Int
    /// The IANA zone the window is read in (the terminals' local time).
    public var timeZone: String

    public init(stages: [Int] = [100, 1000, 5000, 10_000], window: BusinessHours? = nil, maxFailureRate: Int = 500, maxApprovalDrop: Int = 200,
                minimumReports: Int = 20, soakMinutes: Int = 0, observationMinutes: Int = 1440, timeZone: String = CampaignPlan.defaultTimeZone) {
        self.stages = stages
        self.window = window
        self.maxFailureRate = maxFailureRate
        self.maxApprovalDrop = maxApprovalDrop
        self.minimumReports = minimumReports
        self.soakMinutes = soakMinutes
        self.observationMinutes = observationMinutes
        self.timeZone = timeZone
    }

    /// Terminals' local time unless a plan says otherwise (the code base has no per-organisation zone yet).
    public static let defaultTimeZone = "Asia/Shanghai"

    /// Checks the numbers.
    public func validate() throws {
        guard !stages.isEmpty, stages.count <= 10, stages.last == 10_000, stages.first.map({ $0 >= 1 }) == true,
              zip(stages, stages.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DomainError.invalid("stages", "give 1 to 10 rising shares in basis points ending at 10000 (100%), e.g. 100, 1000, 5000, 10000")
        }
        guard (1...10_000).contains(maxFailureRate) else { throw DomainError.invalid("maxFailureRate", "must be from 1 to 10000 basis points") }
        guard (0...10_000).contains(maxApprovalDrop) else { throw DomainError.invalid("maxApprovalDrop", "must be from 0 to 10000 basis points") }
        guard (1...100_000).contains(minimumReports) else { throw DomainError.invalid("minimumReports", "must be from 1 to 100000") }
        guard (0...43_200).contains(soakMinutes) else { throw DomainError.invalid("soakMinutes", "must be from 0 to 43200 (30 days)") }
        guard (1...43_200).contains(observationMinutes) else { throw DomainError.invalid("observationMinutes", "must be from 1 to 43200 (30 days)") }
        guard TimeZone(identifier: timeZone) != nil else { throw DomainError.invalid("timeZone", "is not an IANA time zone such as Asia/Shanghai") }
    }
}

/// What a stage's terminals reported.
public struct StageMetrics: Codable, Sendable, Equatable {
    public var installed: Int
    public var failed: Int
    /// Approved and attempted transactions of the stage's terminals in equal periods before and after installing.
    public var approvedBefore: Int
    public var attemptedBefore: Int
    public var approvedAfter: Int
    public var attemptedAfter: Int

    public init(installed: Int = 0, failed: Int = 0, approvedBefore: Int = 0, attemptedBefore: Int = 0, approvedAfter: Int = 0, attemptedAfter: Int = 0) {
        self.installed = installed
        self.failed = failed
        self.approvedBefore = approvedBefore
        self.attemptedBefore = attemptedBefore
        self.approvedAfter = approvedAfter
        self.attemptedAfter = attemptedAfter
    }
}

/// The decision on a stage.
public enum StageVerdict: Sendable, Equatable {
    /// Not enough reports yet.
    case waiting
    /// Healthy: the next stage may start.
    case healthy
    /// Over a threshold: the campaign halts, with the reason for the operator.
    case halt(String)
}

/// Campaign arithmetic: which terminals a stage holds, when they may install, when to halt. Pure.
public enum CampaignRules {
    /// A terminal's place in the campaign, 0–9999: the same terminal always lands in the same place
    /// for one campaign (so stages only grow), and different campaigns spread differently (so the
    /// same terminals are not always first).
    public static func bucket(terminal: String, campaign: String) -> Int {
        let digest = Array(SHA256.hash(data: Data("\(campaign)\u{0}\(terminal)".utf8)))
        let value = (UInt32(digest[0]) << 24) | (UInt32(digest[1]) << 16) | (UInt32(digest[2]) << 8) | UInt32(digest[3])
        return Int(value % 10_000)
    }

    /// Whether a terminal is in the campaign's stages up to `stage` (0-based).
    public static func includes(terminal: String, campaign: String, plan: CampaignPlan, stage: Int) -> Bool {
        guard plan.stages.indices.contains(stage) else { return false }
        return bucket(terminal: terminal, campaign: campaign) < plan.stages[stage]
    }

    /// Whether a terminal may install now: inside the window, in the terminal's local time.
    public static func mayInstall(plan: CampaignPlan, minuteOfDay: Int) -> Bool {
        plan.window.map { $0.isOpen(atMinute: minuteOfDay) } ?? true
    }

    /// The verdict on a stage from what its terminals reported. `required` lowers the number of
    /// reports that make a stage judgeable (a stage with fewer terminals than `minimumReports`);
    /// a stage that needs none and has none is healthy.
    public static func judge(_ metrics: StageMetrics, plan: CampaignPlan, required: Int? = nil) -> StageVerdict {
        let reported = metrics.installed + metrics.failed
        guard reported >= (required ?? plan.minimumReports) else { return .waiting }
        guard reported > 0 else { return .healthy }
        let failureRate = metrics.failed * 10_000 / reported
        if failureRate > plan.maxFailureRate {
            return .halt("\(metrics.failed) of \(reported) installs failed (\(percent(failureRate)), above \(percent(plan.maxFailureRate)))")
        }
        if metrics.attemptedBefore > 0, metrics.attemptedAfter >= plan.minimumReports {
            let before = metrics.approvedBefore * 10_000 / metrics.attemptedBefore
            let after = metrics.approvedAfter * 10_000 / metrics.attemptedAfter
            if before - after > plan.maxApprovalDrop {
                return .halt("approval rate fell from \(percent(before)) to \(percent(after)) after installing (more than \(percent(plan.maxApprovalDrop)))")
            }
        }
        return .healthy
    }

    /// Basis points as a percentage with two decimals ("5.00%").
    static func percent(_ points: Int) -> String {
        String(format: "%d.%02d%%", points / 100, points % 100)
    }
}
