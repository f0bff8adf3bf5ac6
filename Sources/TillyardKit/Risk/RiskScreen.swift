import Crypto
import Foundation

/// A card's stable identity without its number: HMAC-SHA256 of the masked PAN under a key derived
/// from the installation key, so the same card hashes alike across terminals and the hash means
/// nothing outside this installation.
public struct CardIdentity: Sendable {
    private let key: SymmetricKey

    public init(secret: Data) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data("tillyard card identity v1".utf8),
                                     outputByteCount: 32)
    }

    /// The hash of a (checked) masked PAN; nil without one (QR payments).
    public func hash(_ maskedPan: String?) -> String? {
        guard let maskedPan else { return nil }
        return Hex.string(Array(HMAC<SHA256>.authenticationCode(for: Data(maskedPan.utf8), using: key))).prefix(32).description
    }

    /// The unmasked leading digits of a masked PAN (at most 8).
    public static func prefix(_ maskedPan: String?) -> String? {
        guard let maskedPan else { return nil }
        let lead = maskedPan.prefix { $0.isASCII && $0.isNumber }
        return lead.count >= 6 ? String(lead.prefix(8)) : nil
    }
}

/// Whom a screened transaction belongs to: its terminal, the terminal's owner and merchant.
public struct RiskSubject: Sendable, Equatable {
    public var terminalId: TerminalID
    public var orgId: OrgID
    public var merchantId: OrgID?
    public var ownerPath: String
    public init(terminalId: TerminalID, orgId: OrgID, merchantId: OrgID?, ownerPath: String) {
        self.terminalId = terminalId
        self.orgId = orgId
        self.merchantId = merchantId
        self.ownerPath = ownerPath
    }
}

/// What screening a batch did: alerts raised now (enforced ones go to the webhook) and whether the
/// terminal was blocked.
public struct RiskScreenResult: Sendable {
    public var raised: [RiskAlert] = []
    public var blocked = false
    public init() {}
}

/// Runs the rules on uploaded transactions inside the upload's own write transaction: counters are
/// read by key and moved in the same transaction, so the stored transactions, counters and alerts
/// never disagree, and nothing scans history.
public struct RiskScreen: Sendable {
    public let cards: CardIdentity

    public init(secret: Data) {
        cards = CardIdentity(secret: secret)
    }

    /// The acquirer of a path (its first organisation).
    public static func acquirer(of path: String) -> OrgID {
        OrgID(rawValue: path.split(separator: "/").first.map(String.init) ?? "")
    }

    /// The facts of one transaction of a terminal.
    public func facts(_ transaction: TerminalTransaction, terminal: Terminal, hours: BusinessHours?) -> RiskFacts {
        RiskFacts(terminalId: terminal.id.rawValue, transactionId: transaction.id, merchantId: terminal.merchantId?.rawValue,
                  cardHash: cards.hash(transaction.maskedPan), cardPrefix: CardIdentity.prefix(transaction.maskedPan), kind: transaction.kind,
                  amount: transaction.amount, approved: transaction.approved, at: transaction.at, businessHours: hours)
    }

    /// Screens transactions stored now (oldest first) with the acquirer's rules, counts them, raises
    /// alerts and takes the enforced actions. Runs in the caller's transaction.
    public func screen(_ transactions: [TerminalTransaction], context: TerminalContext, repos: any Repositories, at now: Date) async throws
        -> RiskScreenResult {
        var result = RiskScreenResult()
        guard !transactions.isEmpty else { return result }
        let terminal = context.terminal
        let acquirer = Self.acquirer(of: context.ownerPath)
        let rules = RiskLibrary.effective(try await repos.risk.rules(of: acquirer)).filter { $0.mode != .off }
        let hours = try await terminal.merchantId.asyncMap { try await repos.merchants.find($0)?.businessHours } ?? nil
        for transaction in transactions.sorted(by: { ($0.at, $0.id) < ($1.at, $1.id) }) {
            let subject = RiskSubject(terminalId: terminal.id, orgId: terminal.orgId, merchantId: terminal.merchantId, ownerPath: context.ownerPath)
            for (alert, hit) in try await judge(facts(transaction, terminal: terminal, hours: hours), subject: subject, rules: rules,
                                                acquirer: acquirer, repos: repos, at: now) {
                result.raised.append(alert)
                if hit.actions.contains(.blockTerminal), !result.blocked, try await repos.fleetOps.lock(of: terminal.id) == nil {
                    try await repos.fleetOps.setLock(TerminalLock(terminalId: terminal.id, cause: .risk, reason: hit.summary, alertId: alert.id,
                                                                  lockedBy: "risk", lockedAt: now))
                    try await repos.fleetOps.insertCommand(TerminalCommand(id: UUIDv7.make(now: now), terminalId: terminal.id, kind: .lock,
                                                                           reason: "risk", issuedBy: "risk", issuedAt: now))
                    result.blocked = true
                }
            }
        }
        return result
    }

    /// One transaction: reads its counters by key, runs the rules, moves the counters and raises
    /// (or, for a repeat, extends) the alerts. Returns the enforced alerts raised now with their hits.
    /// This is the whole per-transaction cost of risk on the upload path (the benchmark times it).
    public func judge(_ facts: RiskFacts, subject: RiskSubject, rules: [RiskRule], acquirer: OrgID, repos: any Repositories, at now: Date) async throws
        -> [(RiskAlert, RiskHit)] {
        let snapshot = try await repos.risk.snapshot(RiskEngine.reads(facts))
        let hits = RiskEngine.evaluate(facts, snapshot: snapshot, rules: rules)
        try await repos.risk.count(RiskEngine.increments(facts), lastSeen: RiskEngine.lastSeen(facts), acquirer: acquirer)
        var raised: [(RiskAlert, RiskHit)] = []
        for hit in hits {
            let alert = RiskAlert(id: UUIDv7.make(now: now), orgId: subject.orgId, hit: hit, terminalId: subject.terminalId,
                                  merchantId: subject.merchantId, at: now)
            let (_, new) = try await repos.risk.raise(alert, orgPath: subject.ownerPath,
                                                      transactions: [RiskTransactionRef(terminalId: subject.terminalId, transactionId: facts.transactionId)])
            if new, hit.mode == .enforced { raised.append((alert, hit)) }
        }
        return raised
    }

    /// Raises the alert for a transaction refused because of the terminal's state (one per terminal
    /// and day); runs in its own transaction, since the upload itself is refused.
    public func refused(_ transaction: TerminalTransaction, why: String, context: TerminalContext, repos: any Repositories, at now: Date) async throws
        -> RiskAlert? {
        let rule = RiskLibrary.effective(try await repos.risk.rules(of: Self.acquirer(of: context.ownerPath))).first { $0.kind == .refusedTerminal }
            ?? RiskLibrary.rule(.refusedTerminal)
        guard rule.mode != .off else { return nil }
        let terminal = context.terminal
        let hit = RiskHit(rule: rule, dedupeKey: "refused_terminal:\(terminal.id.rawValue):\(RiskClock.day(of: now))",
                          numbers: ["amount": transaction.amount], summary: "transactions refused: the terminal \(terminal.sn) is \(why)")
        let alert = RiskAlert(id: UUIDv7.make(now: now), orgId: terminal.orgId, hit: hit, terminalId: terminal.id, merchantId: terminal.merchantId, at: now)
        let (_, new) = try await repos.risk.raise(alert, orgPath: context.ownerPath, transactions: [])
        return new && rule.mode == .enforced ? alert : nil
    }

    /// The risk queue's copy of a relocation alert (raised in the relocation alert's own transaction).
    public static func relocation(_ relocation: RelocationAlert, terminal: Terminal, ownerPath: String, repos: any Repositories) async throws
        -> RiskAlert? {
        let rule = RiskLibrary.effective(try await repos.risk.rules(of: acquirer(of: ownerPath))).first { $0.kind == .relocation }
            ?? RiskLibrary.rule(.relocation)
        guard rule.mode != .off else { return nil }
        let finding = relocation.finding
        let hit = RiskHit(rule: rule, dedupeKey: "relocation:\(relocation.id)",
                          numbers: ["distanceMeters": Int64(finding.certainDistanceMeters.rounded())],
                          summary: "terminal \(terminal.sn) reported \(Int(finding.certainDistanceMeters)) m from its placement")
        var alert = RiskAlert(id: UUIDv7.make(now: relocation.raisedAt), orgId: terminal.orgId, hit: hit, terminalId: terminal.id,
                              merchantId: terminal.merchantId, at: relocation.raisedAt)
        alert.relocationAlertId = relocation.id
        let (_, new) = try await repos.risk.raise(alert, orgPath: ownerPath, transactions: [])
        return new && rule.mode == .enforced ? alert : nil
    }
}

/// Where enforced alerts are announced (a webhook); called after the alert's transaction committed,
/// and must not block the caller.
public protocol RiskNotifier: Sendable {
    func notify(_ alerts: [RiskAlert])
}

/// No announcements (no webhook configured).
public struct SilentRiskNotifier: RiskNotifier {
    public init() {}
    public func notify(_ alerts: [RiskAlert]) {}
}

/// The notifier of a running server, set once by the composition root (the fleet service is
/// built before the notifier is).
public final class RiskNotifierSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var notifier: any RiskNotifier = SilentRiskNotifier()
    public init() {}
    public func set(_ notifier: any RiskNotifier) { lock.withLock { self.notifier = notifier } }
    /// Announces alerts (nothing when empty).
    public func notify(_ alerts: [RiskAlert]) {
        guard !alerts.isEmpty else { return }
        lock.withLock { notifier }.notify(alerts)
    }
}

/// When each acquirer's scheduled sweep is due: uploads ask after they commit, and at most one
/// sweep per acquirer runs per `interval` on this node (set by the composition root).
public final class RiskSchedule: @unchecked Sendable {
    /// Runs the sweep of an acquirer and returns the enforced alerts it raised.
    public typealias Sweeper = @Sendable (OrgID, Date) async throws -> [RiskAlert]
    private let lock = NSLock()
    private var sweeper: Sweeper?
    private var lastRun: [OrgID: Date] = [:]
    public let interval: TimeInterval

    public init(interval: TimeInterval = 600) {
        self.interval = interval
    }

    public func set(_ sweeper: @escaping Sweeper) { lock.withLock { self.sweeper = sweeper } }

    /// The sweeper, when one is set and the acquirer's sweep is due (it is then marked as run). The
    /// first upload of an acquirer on this node starts its interval: a node just started does not sweep at once.
    func due(_ acquirer: OrgID, at now: Date) -> Sweeper? {
        lock.withLock {
            guard let last = lastRun[acquirer] else {
                lastRun[acquirer] = now
                return nil
            }
            guard let sweeper, now.timeIntervalSince(last) >= interval else { return nil }
            lastRun[acquirer] = now
            return sweeper
        }
    }
}
