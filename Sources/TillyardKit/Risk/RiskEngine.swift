import Foundation

/// One transaction as the rules see it: what the terminal sent, reduced to what the rules read,
/// with the card only as a keyed hash and its leading digits.
public struct RiskFacts: Sendable, Equatable {
    public var terminalId: String
    public var transactionId: String
    public var merchantId: String?
    /// HMAC of the masked PAN under the installation key (nil for QR payments without a card).
    public var cardHash: String?
    /// The leading digits the terminal left unmasked (up to 8).
    public var cardPrefix: String?
    public var kind: TerminalTransactionKind
    public var amount: Int64
    public var approved: Bool
    public var at: Date
    /// The merchant's hours from its file (nil when it has none).
    public var businessHours: BusinessHours?

    public init(terminalId: String, transactionId: String, merchantId: String?, cardHash: String?, cardPrefix: String?,
                kind: TerminalTransactionKind, amount: Int64, approved: Bool, at: Date, businessHours: BusinessHours?) {
        self.terminalId = terminalId
        self.transactionId = transactionId
        self.merchantId = merchantId
        self.cardHash = cardHash
        self.cardPrefix = cardPrefix
        self.kind = kind
        self.amount = amount
        self.approved = approved
        self.at = at
        self.businessHours = businessHours
    }

    /// The business day (days since 1970 in the business zone).
    public var day: Int { RiskClock.day(of: at) }
    /// Minute of the local day (0–1439).
    public var minute: Int { RiskClock.minute(of: at) }
    /// Money moving towards the merchant (sales and completions), counted for volumes.
    var isSale: Bool { kind == .sale || kind == .completion }
    var isRefund: Bool { kind == .refund }
}

/// Business days and minutes. China has one zone without daylight saving, so a fixed offset is exact
/// and needs no calendar on the hot path.
public enum RiskClock {
    public static let utcOffset: Int64 = 8 * 3600

    public static func day(of date: Date) -> Int {
        Int((Int64(date.timeIntervalSince1970.rounded(.down)) + utcOffset).floorDiv(86_400))
    }

    public static func minute(of date: Date) -> Int {
        Int(((Int64(date.timeIntervalSince1970.rounded(.down)) + utcOffset) % 86_400 + 86_400) % 86_400 / 60)
    }

    /// The first instant of a business day.
    public static func start(ofDay day: Int) -> Date {
        Date(timeIntervalSince1970: TimeInterval(Int64(day) * 86_400 - utcOffset))
    }
}

extension Int64 {
    func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// One counter: a key (the rule dimension: card, card + merchant + amount, prefix + merchant…) on one business day.
public struct RiskCounterKey: Hashable, Sendable {
    public var key: String
    public var day: Int
    public init(key: String, day: Int) {
        self.key = key
        self.day = day
    }
}

/// What a counter holds.
public struct RiskCount: Sendable, Equatable {
    public var count: Int64
    public var amount: Int64
    public init(count: Int64 = 0, amount: Int64 = 0) {
        self.count = count
        self.amount = amount
    }
}

/// Where a card or terminal was last seen (for split transactions and dormant terminals).
public struct RiskLastSeen: Sendable, Equatable {
    public var terminalId: String
    public var at: Date
    public init(terminalId: String, at: Date) {
        self.terminalId = terminalId
        self.at = at
    }
}

/// What one transaction needs read before it is judged: fixed keys, never a scan of history.
public struct RiskReads: Sendable, Equatable {
    /// Today's counters.
    public var counters: [RiskCounterKey]
    /// The merchant's daily volume key and the days of its average (`from..<to`).
    public var history: (key: String, from: Int, to: Int)?
    /// Last-seen keys (card, terminal).
    public var lastSeen: [String]

    public static func == (lhs: RiskReads, rhs: RiskReads) -> Bool {
        lhs.counters == rhs.counters && lhs.lastSeen == rhs.lastSeen && lhs.history?.key == rhs.history?.key
            && lhs.history?.from == rhs.history?.from && lhs.history?.to == rhs.history?.to
    }
}

/// The counters as read before the transaction is counted.
public struct RiskSnapshot: Sendable, Equatable {
    public var counters: [RiskCounterKey: RiskCount]
    /// Sum of the merchant's daily volume over the history window.
    public var historyAmount: Int64
    /// Days of the history window on which the merchant had sales.
    public var historyDays: Int64
    public var lastSeen: [String: RiskLastSeen]

    public init(counters: [RiskCounterKey: RiskCount] = [:], historyAmount: Int64 = 0, historyDays: Int64 = 0, lastSeen: [String: RiskLastSeen] = [:]) {
        self.counters = counters
        self.historyAmount = historyAmount
        self.historyDays = historyDays
        self.lastSeen = lastSeen
    }
}

/// What a rule found: the rule (its version and mode), the dimension it found it on (one alert
/// per dimension per day), and its numbers as evidence.
public struct RiskHit: Codable, Sendable, Equatable {
    public var rule: RiskRuleKind
    public var ruleVersion: Int
    public var mode: RiskMode
    public var severity: RiskSeverity
    public var actions: [RiskAction]
    /// Alerts are deduplicated on it: the rule, its dimension and the day.
    public var dedupeKey: String
    public var numbers: [String: Int64]
    /// One sentence for the queue.
    public var summary: String

    public init(rule: RiskRule, dedupeKey: String, numbers: [String: Int64], summary: String) {
        self.rule = rule.kind
        self.ruleVersion = rule.version
        self.mode = rule.mode
        self.severity = rule.severity
        self.actions = rule.actions
        self.dedupeKey = dedupeKey
        self.numbers = numbers
        self.summary = summary
    }
}

/// The rules engine: pure. Given a transaction, the counters read before it, and the rules, it
/// says what fires; `increments` says how the counters move. Storage (SQL in the upload's
/// transaction, a dictionary in a back-test) applies both.
public enum RiskEngine {
    /// How far back a merchant's daily volume is kept for the average (the largest `days`).
    public static let historyDays = 90

    // Counter keys: one namespace per dimension.
    static func cardKey(_ card: String) -> String { "c:\(card)" }
    static func cardMerchantAmountKey(_ card: String, _ merchant: String, _ amount: Int64) -> String { "cma:\(card):\(merchant):\(amount)" }
    static func prefixKey(_ prefix: String, _ merchant: String) -> String { "bin:\(merchant):\(prefix)" }
    static func merchantAmountKey(_ merchant: String, _ amount: Int64) -> String { "ma:\(merchant):\(amount)" }
    static func salesKey(_ merchant: String) -> String { "ms:\(merchant)" }
    static func refundsKey(_ merchant: String) -> String { "mr:\(merchant)" }
    static func lastCardKey(_ card: String) -> String { "c:\(card)" }
    static func lastTerminalKey(_ terminal: String) -> String { "t:\(terminal)" }

    /// The leading digits of a card for the prefix rule (always 8 digits kept, the rule may read fewer).
    static func prefix(_ facts: RiskFacts, digits: Int) -> String? {
        guard let prefix = facts.cardPrefix, prefix.count >= digits else { return nil }
        return String(prefix.prefix(digits))
    }

    /// The keys to read for one transaction.
    public static func reads(_ facts: RiskFacts) -> RiskReads {
        let day = facts.day
        var counters: [RiskCounterKey] = []
        var last = [lastTerminalKey(facts.terminalId)]
        if let card = facts.cardHash {
            counters.append(RiskCounterKey(key: cardKey(card), day: day))
            last.append(lastCardKey(card))
            if let merchant = facts.merchantId {
                counters.append(RiskCounterKey(key: cardMerchantAmountKey(card, merchant, facts.amount), day: day))
            }
        }
        var history: (String, Int, Int)?
        if let merchant = facts.merchantId {
            if let prefix = prefix(facts, digits: 8) { counters.append(RiskCounterKey(key: prefixKey(prefix, merchant), day: day)) }
            counters.append(RiskCounterKey(key: merchantAmountKey(merchant, facts.amount), day: day))
            counters.append(RiskCounterKey(key: salesKey(merchant), day: day))
            counters.append(RiskCounterKey(key: refundsKey(merchant), day: day))
            history = (salesKey(merchant), day - historyDays, day)
        }
        return RiskReads(counters: counters, history: history, lastSeen: last)
    }

    /// How the counters move for one transaction (after it was judged).
    public static func increments(_ facts: RiskFacts) -> [(RiskCounterKey, RiskCount)] {
        let day = facts.day
        let one = RiskCount(count: 1, amount: facts.amount)
        var result: [(RiskCounterKey, RiskCount)] = []
        // Attempts count whatever the answer: declined tries of one card are what card testing looks like.
        if let card = facts.cardHash, !facts.isRefund, facts.kind != .void, facts.kind != .reversal {
            result.append((RiskCounterKey(key: cardKey(card), day: day), one))
            if let merchant = facts.merchantId {
                result.append((RiskCounterKey(key: cardMerchantAmountKey(card, merchant, facts.amount), day: day), one))
            }
        }
        guard let merchant = facts.merchantId else { return result }
        if facts.isSale || facts.kind == .preAuth {
            if let prefix = prefix(facts, digits: 8) { result.append((RiskCounterKey(key: prefixKey(prefix, merchant), day: day), one)) }
            result.append((RiskCounterKey(key: merchantAmountKey(merchant, facts.amount), day: day), one))
        }
        // Volumes are money that moved: approved only.
        if facts.approved, facts.isSale { result.append((RiskCounterKey(key: salesKey(merchant), day: day), one)) }
        if facts.approved, facts.isRefund { result.append((RiskCounterKey(key: refundsKey(merchant), day: day), one)) }
        return result
    }

    /// The last-seen entries one transaction leaves.
    public static func lastSeen(_ facts: RiskFacts) -> [(String, RiskLastSeen)] {
        let seen = RiskLastSeen(terminalId: facts.terminalId, at: facts.at)
        var result = [(lastTerminalKey(facts.terminalId), seen)]
        if let card = facts.cardHash { result.append((lastCardKey(card), seen)) }
        return result
    }

    /// The rules that fire on a transaction (all modes but `off`; the caller keeps shadow hits apart).
    public static func evaluate(_ facts: RiskFacts, snapshot: RiskSnapshot, rules: [RiskRule]) -> [RiskHit] {
        rules.compactMap { rule in rule.mode == .off ? nil : evaluate(rule, facts, snapshot) }
    }

    static func count(_ snapshot: RiskSnapshot, _ key: String, _ day: Int) -> RiskCount {
        snapshot.counters[RiskCounterKey(key: key, day: day)] ?? RiskCount()
    }

    static func yuan(_ fen: Int64) -> String {
        fen % 100 == 0 ? "\(fen / 100)" : String(format: "%.2f", Double(fen) / 100)
    }

    static func evaluate(_ rule: RiskRule, _ facts: RiskFacts, _ snapshot: RiskSnapshot) -> RiskHit? {
        let day = facts.day
        let dayTag = String(day)
        let forward = facts.isSale || facts.kind == .preAuth
        switch rule.kind {
        case .largeAmount:
            let minimum = rule.parameter("minAmount")
            guard forward, facts.amount >= minimum else { return nil }
            return RiskHit(rule: rule, dedupeKey: "large_amount:\(facts.terminalId):\(facts.transactionId)",
                           numbers: ["amount": facts.amount, "minAmount": minimum],
                           summary: "one transaction of \(yuan(facts.amount)) (at least \(yuan(minimum)))")
        case .cardVelocity:
            guard let card = facts.cardHash, forward else { return nil }
            let seen = count(snapshot, cardKey(card), day).count + 1
            let minimum = rule.parameter("minCount")
            guard seen >= minimum else { return nil }
            return RiskHit(rule: rule, dedupeKey: "card_velocity:\(card):\(dayTag)", numbers: ["count": seen, "minCount": minimum],
                           summary: "the same card \(seen) times today (at least \(minimum))")
        case .binCluster:
            guard forward, let merchant = facts.merchantId, let prefix = prefix(facts, digits: 8) else { return nil }
            let seen = count(snapshot, prefixKey(prefix, merchant), day).count + 1
            let maximum = rule.parameter("maxCount")
            guard seen > maximum else { return nil }
            return RiskHit(rule: rule, dedupeKey: "bin_cluster:\(merchant):\(prefix):\(dayTag)", numbers: ["count": seen, "maxCount": maximum],
                           summary: "\(seen) transactions with cards starting \(prefix) at this merchant today (more than \(maximum))")
        case .repeatedAmount:
            guard forward, let card = facts.cardHash, let merchant = facts.merchantId else { return nil }
            let seen = count(snapshot, cardMerchantAmountKey(card, merchant, facts.amount), day).count + 1
            let minimum = rule.parameter("minCount")
            guard seen >= minimum else { return nil }
            return RiskHit(rule: rule, dedupeKey: "repeated_amount:\(card):\(merchant):\(facts.amount):\(dayTag)",
                           numbers: ["count": seen, "amount": facts.amount, "minCount": minimum],
                           summary: "the same card paid \(yuan(facts.amount)) here \(seen) times today (at least \(minimum))")
        case .suspiciousAmount:
            guard forward, let merchant = facts.merchantId else { return nil }
            let unit = rule.parameter("roundUnit"), margin = rule.parameter("margin")
            let round = facts.amount >= unit && facts.amount % unit == 0
            let underLimit = [rule.parameter("limitLow"), rule.parameter("limitHigh")].contains { limit in
                facts.amount < limit && facts.amount >= limit - margin
            }
            guard round || underLimit else { return nil }
            let seen = count(snapshot, merchantAmountKey(merchant, facts.amount), day).count + 1
            let minimum = rule.parameter("minRepeats")
            guard seen >= minimum else { return nil }
            return RiskHit(rule: rule, dedupeKey: "suspicious_amount:\(merchant):\(facts.amount):\(dayTag)",
                           numbers: ["count": seen, "amount": facts.amount, "minRepeats": minimum],
                           summary: "\(round ? "round" : "just-under-limit") amount \(yuan(facts.amount)) \(seen) times at this merchant today")
        case .offHours:
            let minute = facts.minute
            let open: Bool
            if let hours = facts.businessHours {
                open = hours.isOpen(atMinute: minute)
            } else {
                let start = Int(rule.parameter("quietStart")), end = Int(rule.parameter("quietEnd"))
                open = !BusinessHours(opens: start, closes: end).isOpen(atMinute: minute) || start == end
            }
            guard !open, forward else { return nil }
            return RiskHit(rule: rule, dedupeKey: "off_hours:\(facts.terminalId):\(dayTag)", numbers: ["minute": Int64(minute)],
                           summary: String(format: "a transaction at %02d:%02d, outside the merchant's hours (%@)", minute / 60, minute % 60,
                                           facts.businessHours?.description ?? "quiet window"))
        case .splitTerminals:
            guard let card = facts.cardHash, forward, let last = snapshot.lastSeen[lastCardKey(card)], last.terminalId != facts.terminalId else {
                return nil
            }
            let window = rule.parameter("windowMinutes")
            let gap = Int64(abs(facts.at.timeIntervalSince(last.at)) / 60)
            guard gap < window else { return nil }
            return RiskHit(rule: rule, dedupeKey: "split_terminals:\(card):\(dayTag)", numbers: ["minutes": gap, "windowMinutes": window],
                           summary: "the same card at another terminal \(gap) minutes before (within \(window))")
        case .refundsExceedSales:
            guard facts.isRefund, facts.approved, let merchant = facts.merchantId else { return nil }
            let refunds = count(snapshot, refundsKey(merchant), day).amount + facts.amount
            let sales = count(snapshot, salesKey(merchant), day).amount
            guard refunds > sales else { return nil }
            return RiskHit(rule: rule, dedupeKey: "refunds_exceed_sales:\(merchant):\(dayTag)", numbers: ["refunds": refunds, "sales": sales],
                           summary: "refunds of \(yuan(refunds)) today exceed sales of \(yuan(sales))")
        case .volumeSpike:
            guard facts.isSale, facts.approved, let merchant = facts.merchantId else { return nil }
            // The average is over the `historyDays` before today, days without sales counting as zero;
            // a merchant with sales on fewer than `minHistoryDays` of them has no baseline yet.
            guard snapshot.historyDays >= rule.parameter("minHistoryDays") else { return nil }
            let average = snapshot.historyAmount / Int64(historyDays)
            guard average > 0 else { return nil }
            let today = count(snapshot, salesKey(merchant), day).amount + facts.amount
            let percent = rule.parameter("percent")
            guard today * 100 > average * percent else { return nil }
            return RiskHit(rule: rule, dedupeKey: "volume_spike:\(merchant):\(dayTag)",
                           numbers: ["today": today, "dailyAverage": average, "percent": today * 100 / average, "threshold": percent],
                           summary: "volume of \(yuan(today)) today is \(today * 100 / average)% of the daily average \(yuan(average))")
        case .dormantTerminal:
            guard let last = snapshot.lastSeen[lastTerminalKey(facts.terminalId)] else { return nil }
            let days = rule.parameter("days")
            let silent = Int64(facts.at.timeIntervalSince(last.at) / 86_400)
            guard silent >= days else { return nil }
            return RiskHit(rule: rule, dedupeKey: "dormant_terminal:\(facts.terminalId):\(dayTag)", numbers: ["silentDays": silent, "days": days],
                           summary: "the terminal transacts again after \(silent) silent days")
        case .refusedTerminal, .relocation:
            return nil
        }
    }
}

/// Counters in memory: what a back-test replays history through, with the same keys and increments
/// as the stored counters.
public struct RiskMemoryCounters: Sendable {
    public private(set) var counters: [RiskCounterKey: RiskCount] = [:]
    public private(set) var lastSeen: [String: RiskLastSeen] = [:]

    public init() {}

    /// The snapshot the engine reads for one transaction.
    public func snapshot(for reads: RiskReads) -> RiskSnapshot {
        var snapshot = RiskSnapshot()
        for key in reads.counters { if let value = counters[key] { snapshot.counters[key] = value } }
        if let history = reads.history {
            for day in history.from..<history.to {
                guard let amount = counters[RiskCounterKey(key: history.key, day: day)]?.amount else { continue }
                snapshot.historyAmount += amount
                snapshot.historyDays += 1
            }
        }
        for key in reads.lastSeen { if let value = lastSeen[key] { snapshot.lastSeen[key] = value } }
        return snapshot
    }

    /// Counts one transaction.
    public mutating func apply(_ facts: RiskFacts) {
        for (key, delta) in RiskEngine.increments(facts) {
            var value = counters[key] ?? RiskCount()
            value.count += delta.count
            value.amount += delta.amount
            counters[key] = value
        }
        for (key, seen) in RiskEngine.lastSeen(facts) where (lastSeen[key]?.at ?? .distantPast) <= seen.at { lastSeen[key] = seen }
    }
}

/// What a back-test found: how many alerts (distinct dedupe keys) and hits a rule would have produced.
public struct RiskBacktestResult: Codable, Sendable, Equatable {
    public var rule: RiskRuleKind
    public var transactions: Int
    public var hits: Int
    public var alerts: Int
    /// A few of the alerts it would have raised, for a look.
    public var samples: [String]
    /// True when the history was longer than the back-test reads.
    public var truncated: Bool

    public init(rule: RiskRuleKind, transactions: Int, hits: Int, alerts: Int, samples: [String], truncated: Bool) {
        self.rule = rule
        self.transactions = transactions
        self.hits = hits
        self.alerts = alerts
        self.samples = samples
        self.truncated = truncated
    }
}

extension RiskEngine {
    /// Replays transactions (oldest first) through fresh counters and one rule (evaluated whatever its mode).
    public static func backtest(_ rule: RiskRule, history: [RiskFacts], truncated: Bool = false) -> RiskBacktestResult {
        var memory = RiskMemoryCounters()
        var rule = rule
        rule.mode = .enforced
        var keys = Set<String>(), samples: [String] = [], hits = 0
        for facts in history {
            let snapshot = memory.snapshot(for: reads(facts))
            if let hit = evaluate(rule, facts, snapshot) {
                hits += 1
                if keys.insert(hit.dedupeKey).inserted, samples.count < 10 { samples.append(hit.summary) }
            }
            memory.apply(facts)
        }
        return RiskBacktestResult(rule: rule.kind, transactions: history.count, hits: hits, alerts: keys.count, samples: samples, truncated: truncated)
    }
}
