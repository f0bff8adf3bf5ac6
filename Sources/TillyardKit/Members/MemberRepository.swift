import Foundation

/// How a list of members is narrowed.
public struct MemberFilter: Sendable, Equatable {
    public var tier: String?
    public var tag: String?
    /// A card number prefix.
    public var cardPrefix: String?
    public var includeErased: Bool

    public init(tier: String? = nil, tag: String? = nil, cardPrefix: String? = nil, includeErased: Bool = false) {
        self.tier = tier
        self.tag = tag
        self.cardPrefix = cardPrefix
        self.includeErased = includeErased
    }
}

/// One change of a member's balances and totals, applied in one conditional statement: nothing moves
/// when a balance would go below zero or stored value above `maxStoredValue`.
public struct MemberMovement: Sendable, Equatable {
    public var points: Int64 = 0
    public var storedValue: Int64 = 0
    public var spend: Int64 = 0
    public var pointsEarned: Int64 = 0
    public var visits: Int = 0
    public var visitAt: Date?
    public var maxStoredValue: Int64?

    public init(points: Int64 = 0, storedValue: Int64 = 0, spend: Int64 = 0, pointsEarned: Int64 = 0, visits: Int = 0, visitAt: Date? = nil,
                maxStoredValue: Int64? = nil) {
        self.points = points
        self.storedValue = storedValue
        self.spend = spend
        self.pointsEarned = pointsEarned
        self.visits = visits
        self.visitAt = visitAt
        self.maxStoredValue = maxStoredValue
    }
}

/// A member's part in one sale or refund: the short purchase history the till shows, and what a
/// refund reverses (points earned and redeemed, stored value spent, on the money paid).
public struct MemberPurchase: Codable, Sendable, Equatable {
    public var saleId: SaleID
    public var memberId: MemberID
    public var storeId: OrgID
    public var kind: SaleKind
    /// The original sale of a refund.
    public var originalSaleId: SaleID?
    public var soldAt: Date
    public var total: Int64
    /// What counted as spend: the total less points redeemed (negative on refunds).
    public var paid: Int64
    public var pointsEarned: Int64
    public var pointsRedeemed: Int64
    public var storedValueSpent: Int64

    public init(saleId: SaleID, memberId: MemberID, storeId: OrgID, kind: SaleKind, originalSaleId: SaleID?, soldAt: Date, total: Int64,
                paid: Int64, pointsEarned: Int64, pointsRedeemed: Int64, storedValueSpent: Int64) {
        self.saleId = saleId
        self.memberId = memberId
        self.storeId = storeId
        self.kind = kind
        self.originalSaleId = originalSaleId
        self.soldAt = soldAt
        self.total = total
        self.paid = paid
        self.pointsEarned = pointsEarned
        self.pointsRedeemed = pointsRedeemed
        self.storedValueSpent = storedValueSpent
    }
}

/// Storage of members, their ledgers, purchases and category spend, and the merchants' programs.
/// Phone and name arrive sealed (`SealedContact`): the store never sees them in clear.
public protocol MemberRepository: Sendable {
    /// Inserts; a card number or phone already used at the merchant is a `conflict`.
    func insert(_ member: Member, orgPath: String) async throws
    /// Saves profile, contact, tier and erasure if `member.version - 1` is still stored; else `conflict`.
    /// Balances and totals are not written here (only `apply` moves them).
    func update(_ member: Member) async throws
    func find(_ id: MemberID) async throws -> Member?
    func find(merchant: OrgID, phoneHash: String) async throws -> Member?
    func find(merchant: OrgID, cardNumber: String) async throws -> Member?
    /// A merchant's members, newest first.
    func list(merchant: OrgID, filter: MemberFilter, page: PageRequest) async throws -> Page<Member>
    /// Members in id order after `after` (a merchant's, or all with a key other than `notKey`), for scans.
    func scan(merchant: OrgID?, notKey: String?, after: MemberID?, limit: Int) async throws -> [Member]
    /// Applies a movement; the member after it, or nil when a balance would leave its bounds.
    func apply(_ movement: MemberMovement, to id: MemberID) async throws -> Member?
    /// Sets the tier code (the tier follows the totals; no version bump).
    func setTier(_ id: MemberID, tier: String) async throws
    /// Appends lines of one member, numbered after their last; called after `apply` in the same
    /// transaction (its row lock keeps the numbering in order).
    func appendLedger(_ entries: [MemberLedgerEntry], orgPath: String) async throws
    /// A member's ledger, newest line first.
    func ledger(member: MemberID, page: PageRequest) async throws -> Page<MemberLedgerEntry>
    /// The sum of a member's ledger per balance.
    func ledgerSums(member: MemberID) async throws -> [MemberBalance: Int64]
    func recordPurchase(_ purchase: MemberPurchase, merchant: OrgID, orgPath: String) async throws
    func purchase(sale: SaleID) async throws -> MemberPurchase?
    /// The refunds recorded against an original sale.
    func refunds(of sale: SaleID) async throws -> [MemberPurchase]
    /// A member's latest purchases and refunds, newest first.
    func purchases(member: MemberID, limit: Int) async throws -> [MemberPurchase]
    /// Adds spend per category (negative for refunds).
    func addCategorySpend(_ id: MemberID, spend: [String: Int64]) async throws
    /// The category each member spent most on (members without positive spend are absent).
    func favourites(_ ids: [MemberID]) async throws -> [MemberID: String]
    /// Forgets a member's category spend (erasure: no profile is kept).
    func clearCategorySpend(_ id: MemberID) async throws
    func program(merchant: OrgID) async throws -> MemberProgram?
    /// Saves a program; `program.version - 1` must be the stored version (0: none stored yet).
    func saveProgram(_ program: MemberProgram, orgPath: String) async throws
}
