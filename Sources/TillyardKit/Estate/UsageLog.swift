import Foundation

/// One line of a terminal's usage log (使用登记): who was responsible, what was done, when,
/// and an amount where one applies (e.g. a settlement total). Appended by the merchant side,
/// staff and, later, the terminals themselves; never edited.
public struct UsageEntry: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    /// The organisation of whoever recorded it.
    public var orgId: OrgID
    public var at: Date
    /// The person responsible for the terminal at the time.
    public var responsible: String
    /// What was done, e.g. "daily settlement", "paper roll changed", "handed to night shift".
    public var operation: String
    /// Amount in fen, when the operation has one.
    public var amount: Int64?
    public var recordedBy: String

    public init(id: String, terminalId: TerminalID, orgId: OrgID, at: Date, responsible: String, operation: String,
                amount: Int64?, recordedBy: String) {
        self.id = id
        self.terminalId = terminalId
        self.orgId = orgId
        self.at = at
        self.responsible = responsible
        self.operation = operation
        self.amount = amount
        self.recordedBy = recordedBy
    }
}

/// Usage log storage.
public protocol UsageLogRepository: Sendable {
    func append(_ entry: UsageEntry) async throws
    /// Newest first.
    func list(_ terminal: TerminalID, limit: Int) async throws -> [UsageEntry]
}

extension EstateService {
    /// Appends a usage line for a terminal the caller can see (its owner side or its merchant).
    public func recordUsage(_ id: TerminalID, responsible: String?, operation: String, amount: Int64?,
                            by principal: Principal) async throws -> UsageEntry {
        try principal.require(.estateRead)
        let what = try AccessRules.text(operation, field: "operation", max: 200)
        let who = try responsible.map { try AccessRules.text($0, field: "responsible", max: 100) } ?? principal.user.displayName
        if let amount, amount < 0 { throw DomainError.invalid("amount", "must not be negative") }
        let now = clock.now()
        return try await store.write { repos in
            let (terminal, owner, merchant) = try await Self.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            let entry = UsageEntry(id: UUIDv7.make(now: now), terminalId: terminal.id, orgId: principal.user.orgId, at: now,
                                   responsible: who, operation: what, amount: amount, recordedBy: principal.user.username)
            try await repos.usage.append(entry)
            var summary = ["sn": terminal.sn, "operation": what, "responsible": who]
            if let amount { summary["amount"] = Money(minorUnits: amount).description }
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: "terminal.usage", resourceType: "terminal",
                           resourceId: terminal.id.rawValue, origin: principal.origin, summary: summary),
                orgPath: (merchant ?? owner).path, at: now)
            return entry
        }
    }
}
