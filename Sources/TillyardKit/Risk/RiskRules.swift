import Foundation

/// The rules of the library. Each kind reads its own parameters (`RiskLibrary.parameters`).
public enum RiskRuleKind: String, Codable, Sendable, CaseIterable {
    /// One transaction of at least `minAmount`.
    case largeAmount = "large_amount"
    /// The same card at least `minCount` times in a business day.
    case cardVelocity = "card_velocity"
    /// More than `maxCount` transactions sharing the first 8 card digits at one merchant in a day.
    case binCluster = "bin_cluster"
    /// Same card, merchant and amount at least `minCount` times in a day.
    case repeatedAmount = "repeated_amount"
    /// A round amount (a multiple of `roundUnit`) or one just under a limit, repeated `minRepeats` times at a merchant in a day.
    case suspiciousAmount = "suspicious_amount"
    /// Outside the merchant's business hours (its file's hours; without them, the quiet window).
    case offHours = "off_hours"
    /// The same card at two or more terminals within `windowMinutes`.
    case splitTerminals = "split_terminals"
    /// A merchant's refunds exceed its sales in a day.
    case refundsExceedSales = "refunds_exceed_sales"
    /// A merchant's day volume above `percent` of its daily average over the 90 days before.
    case volumeSpike = "volume_spike"
    /// A terminal silent for `days` suddenly transacting.
    case dormantTerminal = "dormant_terminal"
    /// A transaction from a terminal that must not transact (unbound, locked, scrapped, uncertified).
    case refusedTerminal = "refused_terminal"
    /// A terminal found away from its placement (raised by the fleet's relocation guard).
    case relocation
}

/// Whether a rule runs, and what its hits do.
public enum RiskMode: String, Codable, Sendable, CaseIterable {
    case off
    /// Evaluated and logged (shadow alerts), never acted on: how a new rule is tried before it is enforced.
    case shadow
    case enforced
}

/// What an enforced hit does besides entering the alert queue.
public enum RiskAction: String, Codable, Sendable, CaseIterable {
    case alert
    /// The merchant's settlement for the day is held until the alert is closed.
    case holdSettlement = "hold_settlement"
    /// The terminal is locked (its next transactions are refused and its heartbeat says so).
    case blockTerminal = "block_terminal"
}

/// How urgent an alert is.
public enum RiskSeverity: String, Codable, Sendable, CaseIterable, Comparable {
    case low, medium, high, critical

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: RiskSeverity, rhs: RiskSeverity) -> Bool { lhs.rank < rhs.rank }
}

/// A versioned rule definition of one acquirer: every change stores a new version, the old ones stay.
public struct RiskRule: Codable, Sendable, Equatable {
    public var kind: RiskRuleKind
    /// 0 for the library default nobody has changed yet.
    public var version: Int
    public var mode: RiskMode
    public var severity: RiskSeverity
    public var actions: [RiskAction]
    public var parameters: [String: Int64]
    public var updatedBy: String?
    public var updatedAt: Date?

    public init(kind: RiskRuleKind, version: Int = 0, mode: RiskMode = .enforced, severity: RiskSeverity, actions: [RiskAction] = [.alert],
                parameters: [String: Int64] = [:], updatedBy: String? = nil, updatedAt: Date? = nil) {
        self.kind = kind
        self.version = version
        self.mode = mode
        self.severity = severity
        self.actions = actions
        self.parameters = parameters
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// A parameter, or the library's default for it.
    public func parameter(_ name: String) -> Int64 {
        parameters[name] ?? RiskLibrary.rule(kind).parameters[name] ?? 0
    }
}

/// The default rules shipped with Tillyard (parameters editable per acquirer).
public enum RiskLibrary {
    /// Every rule with its default parameters, in display order.
    public static let defaults: [RiskRule] = [
        RiskRule(kind: .largeAmount, severity: .medium, parameters: ["minAmount": 800_000]),
        RiskRule(kind: .cardVelocity, severity: .medium, parameters: ["minCount": 5]),
        RiskRule(kind: .binCluster, severity: .high, parameters: ["maxCount": 8]),
        RiskRule(kind: .repeatedAmount, severity: .medium, parameters: ["minCount": 3]),
        RiskRule(kind: .suspiciousAmount, severity: .medium,
                 parameters: ["roundUnit": 100_000, "limitLow": 100_000, "limitHigh": 1_000_000, "margin": 200, "minRepeats": 3]),
        RiskRule(kind: .offHours, severity: .low, parameters: ["quietStart": 60, "quietEnd": 300]),
        RiskRule(kind: .splitTerminals, severity: .high, parameters: ["windowMinutes": 30]),
        RiskRule(kind: .refundsExceedSales, severity: .high, parameters: [:]),
        // A merchant with fewer days of sales than `minHistoryDays` in the window has no baseline yet.
        RiskRule(kind: .volumeSpike, severity: .medium, parameters: ["percent": 600, "minHistoryDays": 30]),
        RiskRule(kind: .dormantTerminal, severity: .medium, parameters: ["days": 90]),
        RiskRule(kind: .refusedTerminal, severity: .critical, parameters: [:]),
        RiskRule(kind: .relocation, severity: .high, parameters: [:]),
    ]

    /// The default of one kind.
    public static func rule(_ kind: RiskRuleKind) -> RiskRule {
        defaults.first { $0.kind == kind } ?? RiskRule(kind: kind, severity: .medium)
    }

    /// The parameters a kind reads, with the range each may take.
    public static func parameters(_ kind: RiskRuleKind) -> [String: ClosedRange<Int64>] {
        switch kind {
        case .largeAmount: return ["minAmount": 1...10_000_000_000]
        case .cardVelocity, .repeatedAmount: return ["minCount": 2...10_000]
        case .binCluster: return ["maxCount": 1...100_000]
        case .suspiciousAmount:
            return ["roundUnit": 100...100_000_000, "limitLow": 100...10_000_000_000, "limitHigh": 100...10_000_000_000,
                    "margin": 1...100_000, "minRepeats": 2...10_000]
        case .offHours: return ["quietStart": 0...1439, "quietEnd": 0...1439]
        case .splitTerminals: return ["windowMinutes": 1...1440]
        case .volumeSpike: return ["percent": 100...100_000, "minHistoryDays": 0...90]
        case .dormantTerminal: return ["days": 1...3650]
        case .refundsExceedSales, .refusedTerminal, .relocation: return [:]
        }
    }

    /// A rule as someone wants to save it: known parameters within their ranges, at least one action.
    public static func validated(_ rule: RiskRule) throws -> RiskRule {
        let allowed = parameters(rule.kind)
        for (name, value) in rule.parameters {
            guard let range = allowed[name] else {
                throw DomainError.invalid("parameters.\(name)", "is not a parameter of \(rule.kind.rawValue)")
            }
            guard range.contains(value) else { throw DomainError.invalid("parameters.\(name)", "must be from \(range.lowerBound) to \(range.upperBound)") }
        }
        guard !rule.actions.isEmpty else { throw DomainError.invalid("actions", "give at least one action (alert)") }
        var rule = rule
        // Every hit enters the queue: the other actions come with an alert.
        if !rule.actions.contains(.alert) { rule.actions.insert(.alert, at: 0) }
        rule.actions = RiskAction.allCases.filter(rule.actions.contains)
        if rule.kind == .relocation || rule.kind == .refusedTerminal, rule.actions.contains(.blockTerminal) {
            throw DomainError.invalid("actions", "the fleet decides blocks for \(rule.kind.rawValue)")
        }
        return rule
    }

    /// The effective rules: the library with the acquirer's saved versions laid over it.
    public static func effective(_ saved: [RiskRule]) -> [RiskRule] {
        defaults.map { base in saved.filter { $0.kind == base.kind }.max { $0.version < $1.version } ?? base }
    }
}
