import Foundation

/// Where an alert stands: open → investigating → closed with a verdict.
public enum RiskAlertStatus: String, Codable, Sendable, CaseIterable {
    case open, investigating
    case closedFraud = "closed_fraud"
    case closedFalsePositive = "closed_false_positive"
    case closedAccepted = "closed_accepted"

    public var isClosed: Bool { self != .open && self != .investigating }

    /// The moves a person may make: nothing leaves a closed alert.
    public func canMove(to next: RiskAlertStatus) -> Bool {
        switch self {
        case .open: return next != .open
        case .investigating: return next.isClosed
        default: return false
        }
    }
}

/// A transaction an alert points at.
public struct RiskTransactionRef: Codable, Sendable, Equatable, Hashable {
    public var terminalId: TerminalID
    public var transactionId: String
    public init(terminalId: TerminalID, transactionId: String) {
        self.terminalId = terminalId
        self.transactionId = transactionId
    }
}

/// One alert of the queue (or, in shadow mode, of the shadow log): the rule that fired with its
/// numbers, what it points at, and its handling.
public struct RiskAlert: Codable, Sendable, Equatable {
    public var id: String
    /// The organisation that owns the terminal (or merchant) the alert is about.
    public var orgId: OrgID
    public var rule: RiskRuleKind
    public var ruleVersion: Int
    public var mode: RiskMode
    public var severity: RiskSeverity
    public var status: RiskAlertStatus
    public var dedupeKey: String
    public var summary: String
    public var numbers: [String: Int64]
    public var actions: [RiskAction]
    public var terminalId: TerminalID?
    public var merchantId: OrgID?
    /// The fleet's relocation alert this one mirrors.
    public var relocationAlertId: String?
    public var assignee: String?
    public var raisedAt: Date
    public var updatedAt: Date
    public var closedBy: String?
    public var version: Int

    public init(id: String, orgId: OrgID, hit: RiskHit, terminalId: TerminalID?, merchantId: OrgID?, at: Date) {
        self.id = id
        self.orgId = orgId
        self.rule = hit.rule
        self.ruleVersion = hit.ruleVersion
        self.mode = hit.mode
        self.severity = hit.severity
        self.status = .open
        self.dedupeKey = hit.dedupeKey
        self.summary = hit.summary
        self.numbers = hit.numbers
        self.actions = hit.actions
        self.terminalId = terminalId
        self.merchantId = merchantId
        self.relocationAlertId = nil
        self.assignee = nil
        self.raisedAt = at
        self.updatedAt = at
        self.closedBy = nil
        self.version = 1
    }

    /// Whether the alert holds the merchant's settlement now.
    public var holdsSettlement: Bool { mode == .enforced && actions.contains(.holdSettlement) && !status.isClosed }
}

/// A note on an alert by whoever investigates it.
public struct RiskComment: Codable, Sendable, Equatable {
    public var id: String
    public var alertId: String
    public var author: String
    public var text: String
    public var at: Date
    public init(id: String, alertId: String, author: String, text: String, at: Date) {
        self.id = id
        self.alertId = alertId
        self.author = author
        self.text = text
        self.at = at
    }
}

/// How well a rule did: its closed alerts by verdict. Precision = (closed − false positives) / closed.
public struct RiskRulePrecision: Codable, Sendable, Equatable {
    public var rule: RiskRuleKind
    public var open: Int
    public var closed: Int
    public var falsePositives: Int
    public var shadow: Int
    /// Percent, nil before the first closed alert.
    public var precision: Int? { closed == 0 ? nil : (closed - falsePositives) * 100 / closed }

    public init(rule: RiskRuleKind, open: Int = 0, closed: Int = 0, falsePositives: Int = 0, shadow: Int = 0) {
        self.rule = rule
        self.open = open
        self.closed = closed
        self.falsePositives = falsePositives
        self.shadow = shadow
    }
}

/// Which alerts to list.
public struct RiskAlertFilter: Sendable, Equatable {
    public var status: RiskAlertStatus?
    public var mode: RiskMode
    public var rule: RiskRuleKind?
    public var assignee: String?
    public init(status: RiskAlertStatus? = nil, mode: RiskMode = .enforced, rule: RiskRuleKind? = nil, assignee: String? = nil) {
        self.status = status
        self.mode = mode
        self.rule = rule
        self.assignee = assignee
    }
}

/// One line of a settlement batch: the terminal's totals of one kind.
public struct SettlementTotal: Codable, Sendable, Equatable {
    public var kind: TerminalTransactionKind
    public var count: Int
    public var amount: Int64
    public init(kind: TerminalTransactionKind, count: Int, amount: Int64) {
        self.kind = kind
        self.count = count
        self.amount = amount
    }
}

/// The body of `POST /terminal/v1/settlements`: the terminal closes a batch (结算) with its totals and,
/// when it keeps them, the ids of the approved transactions in it.
public struct SettlementUpload: Codable, Sendable, Equatable {
    public var batchNo: String
    /// The batch covers approved transactions after the terminal's previous batch up to this instant.
    public var closedAt: Date
    public var totals: [SettlementTotal]
    public var transactionIds: [String]?

    public enum CodingKeys: String, CodingKey, CaseIterable { case batchNo, closedAt, totals, transactionIds }

    public init(batchNo: String, closedAt: Date, totals: [SettlementTotal], transactionIds: [String]? = nil) {
        self.batchNo = batchNo
        self.closedAt = closedAt
        self.totals = totals
        self.transactionIds = transactionIds
    }
}

/// One kind's totals on both sides.
public struct SettlementLine: Codable, Sendable, Equatable {
    public var kind: TerminalTransactionKind
    public var terminalCount: Int
    public var terminalAmount: Int64
    public var storedCount: Int
    public var storedAmount: Int64
    public var matches: Bool { terminalCount == storedCount && terminalAmount == storedAmount }

    public init(kind: TerminalTransactionKind, terminalCount: Int, terminalAmount: Int64, storedCount: Int, storedAmount: Int64) {
        self.kind = kind
        self.terminalCount = terminalCount
        self.terminalAmount = terminalAmount
        self.storedCount = storedCount
        self.storedAmount = storedAmount
    }
}

/// A reconciled batch: both sides' totals per kind, and the transactions that differ.
public struct SettlementBatch: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    public var merchantId: OrgID?
    public var batchNo: String
    public var from: Date?
    public var closedAt: Date
    public var lines: [SettlementLine]
    /// Stored transactions the batch does not name (only when the terminal sent its ids).
    public var missingFromBatch: [String]
    /// Ids the batch names that were never uploaded.
    public var notUploaded: [String]
    /// True while an enforced alert holds the merchant's settlement.
    public var held: Bool
    public var receivedAt: Date
    public var matched: Bool { lines.allSatisfy(\.matches) && missingFromBatch.isEmpty && notUploaded.isEmpty }

    public init(id: String, terminalId: TerminalID, merchantId: OrgID?, batchNo: String, from: Date?, closedAt: Date, lines: [SettlementLine],
                missingFromBatch: [String], notUploaded: [String], held: Bool, receivedAt: Date) {
        self.id = id
        self.terminalId = terminalId
        self.merchantId = merchantId
        self.batchNo = batchNo
        self.from = from
        self.closedAt = closedAt
        self.lines = lines
        self.missingFromBatch = missingFromBatch
        self.notUploaded = notUploaded
        self.held = held
        self.receivedAt = receivedAt
    }
}

/// Reconciliation is pure: the batch against the stored approved transactions of its span.
public enum SettlementRules {
    /// Compares totals per kind and, when the terminal sent ids, the transactions themselves.
    public static func reconcile(_ upload: SettlementUpload, stored: [TerminalTransaction]) -> (lines: [SettlementLine], missing: [String], notUploaded: [String]) {
        let approved = stored.filter(\.approved)
        var kinds = Set(upload.totals.map(\.kind))
        kinds.formUnion(approved.map(\.kind))
        let lines = TerminalTransactionKind.allCases.filter(kinds.contains).map { kind -> SettlementLine in
            let mine = approved.filter { $0.kind == kind }
            let theirs = upload.totals.filter { $0.kind == kind }
            return SettlementLine(kind: kind, terminalCount: theirs.reduce(0) { $0 + $1.count }, terminalAmount: theirs.reduce(0) { $0 + $1.amount },
                                  storedCount: mine.count, storedAmount: mine.reduce(0) { $0 + $1.amount })
        }
        guard let ids = upload.transactionIds else { return (lines, [], []) }
        let named = Set(ids), storedIds = Set(approved.map(\.id))
        return (lines, approved.map(\.id).filter { !named.contains($0) }, ids.filter { !storedIds.contains($0) })
    }

    /// A batch as uploaded, checked: a batch number, at most 20 lines, counts and amounts not negative.
    public static func checked(_ upload: SettlementUpload) throws -> SettlementUpload {
        let batchNo = upload.batchNo.trimmingCharacters(in: .whitespaces)
        guard (1...32).contains(batchNo.count), batchNo.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw DomainError.invalid("batchNo", "must be 1–32 letters, digits or '-'")
        }
        guard upload.totals.count <= 20 else { throw DomainError.invalid("totals", "at most 20 lines") }
        for (index, total) in upload.totals.enumerated() where total.count < 0 || total.amount < 0 {
            throw DomainError.invalid("totals.\(index)", "counts and amounts are not negative")
        }
        guard (upload.transactionIds?.count ?? 0) <= 10_000 else { throw DomainError.invalid("transactionIds", "at most 10000") }
        var upload = upload
        upload.batchNo = batchNo
        return upload
    }
}

/// Live figures of a subtree over a period.
public struct RiskMonitor: Codable, Sendable, Equatable {
    /// A group's count, approved count and approved amount.
    public struct Group: Codable, Sendable, Equatable {
        public var key: String
        public var label: String
        public var count: Int
        public var approved: Int
        public var amount: Int64
        public init(key: String, label: String, count: Int, approved: Int, amount: Int64) {
            self.key = key
            self.label = label
            self.count = count
            self.approved = approved
            self.amount = amount
        }
    }
    public var from: Date
    public var to: Date
    public var byRegion: [Group]
    public var byMerchant: [Group]
    public var byResponseCode: [Group]
    /// Per hour (key: hour start, ISO 8601): count and approved, for the approval-rate trend.
    public var trend: [Group]
    /// Merchants with the most alerts in the period (count in `count`).
    public var topAlerting: [Group]

    public init(from: Date, to: Date, byRegion: [Group], byMerchant: [Group], byResponseCode: [Group], trend: [Group], topAlerting: [Group]) {
        self.from = from
        self.to = to
        self.byRegion = byRegion
        self.byMerchant = byMerchant
        self.byResponseCode = byResponseCode
        self.trend = trend
        self.topAlerting = topAlerting
    }
}

/// Storage of the risk area: rules, counters, alerts, comments, settlement batches and the monitor's sums.
public protocol RiskRepository: Sendable {
    /// Every saved version of an acquirer's rules (the effective set is the newest per kind).
    func rules(of acquirer: OrgID) async throws -> [RiskRule]
    /// Stores a new version if `version - 1` is still the newest (false otherwise).
    func saveRule(_ rule: RiskRule, of acquirer: OrgID) async throws -> Bool
    /// The stored versions of one rule, newest first.
    func ruleHistory(_ kind: RiskRuleKind, of acquirer: OrgID) async throws -> [RiskRule]

    /// The counters and last-seen entries one transaction reads.
    func snapshot(_ reads: RiskReads) async throws -> RiskSnapshot
    /// Adds to counters (created at zero) and moves last-seen entries forward.
    func count(_ increments: [(RiskCounterKey, RiskCount)], lastSeen: [(String, RiskLastSeen)], acquirer: OrgID) async throws

    /// Stores an alert unless one with its mode and dedupe key exists; returns the stored alert's id
    /// (the existing one on a repeat) and whether it was new.
    func raise(_ alert: RiskAlert, orgPath: String, transactions: [RiskTransactionRef]) async throws -> (id: String, new: Bool)
    func alert(_ id: String) async throws -> (alert: RiskAlert, orgPath: String)?
    /// Alerts in a subtree, newest first, paged by id.
    func alerts(under path: String, filter: RiskAlertFilter, page: PageRequest) async throws -> Page<RiskAlert>
    /// Saves status, assignee and closing fields if `alert.version - 1` is still stored.
    func update(_ alert: RiskAlert) async throws -> Bool
    func evidence(of alert: String) async throws -> [StoredTerminalTransaction]
    func addComment(_ comment: RiskComment) async throws
    func comments(of alert: String) async throws -> [RiskComment]
    /// Alerts per rule and outcome in a subtree.
    func precision(under path: String) async throws -> [RiskRulePrecision]
    /// Whether an open enforced alert holds the merchant's settlement.
    func settlementHeld(merchant: OrgID) async throws -> Bool

    /// Transactions of a subtree in a time span as the rules see them (without business hours),
    /// oldest first, at most `limit` (for back-tests).
    func history(under path: String, from: Date, to: Date, limit: Int) async throws -> [RiskFacts]

    /// Approved and all stored transactions of a terminal after `from` (exclusive) up to `to`.
    func transactions(of terminal: TerminalID, after from: Date?, upTo to: Date) async throws -> [TerminalTransaction]
    /// The terminal's newest batch (its close bounds the next one).
    func lastBatch(of terminal: TerminalID) async throws -> SettlementBatch?
    /// Stores a batch once per (terminal, batch number); false when it exists.
    func insertBatch(_ batch: SettlementBatch, orgPath: String) async throws -> Bool
    func batch(_ id: String) async throws -> (batch: SettlementBatch, orgPath: String)?
    func batch(terminal: TerminalID, batchNo: String) async throws -> SettlementBatch?
    func batches(under path: String, mismatchedOnly: Bool, page: PageRequest) async throws -> Page<SettlementBatch>

    /// Merchants of an acquirer with sales or refunds counted on a business day (for the scheduled sweep).
    func merchantsCounted(day: Int, acquirer: OrgID) async throws -> [OrgID]

    /// Sums of a subtree's transactions in a span.
    func monitor(under path: String, from: Date, to: Date) async throws -> RiskMonitor
}
