import Foundation

/// Register settings of a store: time zone, cash rounding, the cashier's discount limit, receipt texts.
public struct RegisterSettings: Codable, Sendable, Equatable {
    public var storeId: OrgID
    /// IANA time zone of the store (promotion hours, receipts, reports).
    public var timeZone: String
    public var cashRounding: CashRounding
    /// Manual discounts a cashier may give without a manager, in basis points of what the order costs (1000 = 10%).
    public var cashierDiscountLimit: Int
    public var receiptHeader: [String]
    public var receiptFooter: [String]
    public var version: Int

    public init(storeId: OrgID, timeZone: String = "Asia/Shanghai", cashRounding: CashRounding = .none, cashierDiscountLimit: Int = 1000,
                receiptHeader: [String] = [], receiptFooter: [String] = [], version: Int = 0) {
        self.storeId = storeId
        self.timeZone = timeZone
        self.cashRounding = cashRounding
        self.cashierDiscountLimit = cashierDiscountLimit
        self.receiptHeader = receiptHeader
        self.receiptFooter = receiptFooter
        self.version = version
    }

    /// Checks the values a manager typed.
    public func validate() throws {
        guard TimeZone(identifier: timeZone) != nil else { throw DomainError.invalid("timeZone", "must be an IANA time zone like Asia/Shanghai") }
        try cashRounding.validate()
        guard (0...10_000).contains(cashierDiscountLimit) else {
            throw DomainError.invalid("cashierDiscountLimit", "must be from 0 to 10000 basis points")
        }
        for (field, lines) in [("receiptHeader", receiptHeader), ("receiptFooter", receiptFooter)] {
            guard lines.count <= 5, lines.allSatisfy({ $0.count <= 48 }) else {
                throw DomainError.invalid(field, "at most 5 lines of 48 characters")
            }
        }
    }
}

/// What the server knows of a register's numbering: the highest sequence seen and how many arrived.
public struct RegisterDevice: Codable, Sendable, Equatable {
    public var id: String
    public var storeId: OrgID
    public var lastSeq: Int64
    public var received: Int64
    public var lastSeenAt: Date

    public init(id: String, storeId: OrgID, lastSeq: Int64, received: Int64, lastSeenAt: Date) {
        self.id = id
        self.storeId = storeId
        self.lastSeq = lastSeq
        self.received = received
        self.lastSeenAt = lastSeenAt
    }
}

/// Sequence numbers of a register that never arrived: `from...to`.
public struct SequenceGap: Codable, Sendable, Equatable {
    public var from: Int64
    public var to: Int64

    public init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }
}

/// The per-store counters (receipts, shifts, Z reports) and the head of the store's sales journal.
public struct JournalHead: Sendable, Equatable {
    public var receiptNumber: Int64
    public var shiftNumber: Int64
    public var zNumber: Int64
    public var hash: String

    public init(receiptNumber: Int64 = 0, shiftNumber: Int64 = 0, zNumber: Int64 = 0, hash: String = "") {
        self.receiptNumber = receiptNumber
        self.shiftNumber = shiftNumber
        self.zNumber = zNumber
        self.hash = hash
    }
}

/// Filter of a sales list.
public struct SaleFilter: Sendable, Equatable {
    public var storeId: OrgID?
    public var kind: SaleKind?
    public var status: SaleStatus?
    public var registerId: String?
    public var shiftId: ShiftID?
    public var from: Date?
    public var to: Date?

    public init(storeId: OrgID? = nil, kind: SaleKind? = nil, status: SaleStatus? = nil, registerId: String? = nil, shiftId: ShiftID? = nil,
                from: Date? = nil, to: Date? = nil) {
        self.storeId = storeId
        self.kind = kind
        self.status = status
        self.registerId = registerId
        self.shiftId = shiftId
        self.from = from
        self.to = to
    }
}

/// Stock of one product at one store, milli-units (may go below zero when the shelf had more than the books).
public struct StockLevel: Codable, Sendable, Equatable {
    public var storeId: OrgID
    public var productId: ProductID
    public var quantity: Int64
    public var updatedAt: Date

    public init(storeId: OrgID, productId: ProductID, quantity: Int64, updatedAt: Date) {
        self.storeId = storeId
        self.productId = productId
        self.quantity = quantity
        self.updatedAt = updatedAt
    }
}

/// Sales, refunds and open orders, with the store journal and register numbering.
public protocol SaleRepository: Sendable {
    /// Stores a new document. `content` is `JournalContent(sale)` when the caller encoded it ahead:
    /// the stored body reuses its lines and tenders instead of encoding them again (in the single writer).
    func insert(_ sale: Sale, orgPath: String, content: SaleRules.JournalContent?) async throws
    /// Replaces an open order (completion or void); `sale.version` must be the stored version + 1.
    func update(_ sale: Sale) async throws
    func find(_ id: SaleID) async throws -> Sale?
    func find(register: String, seq: Int64) async throws -> Sale?
    /// The document under an id and the one holding a register's sequence number, read in one query
    /// (the two checks a completed sale makes under the journal lock). Either may be nil.
    func find(_ id: SaleID, orRegister register: String, seq: Int64) async throws -> (byId: Sale?, bySequence: Sale?)
    /// Refunds of a sale, oldest first.
    func refunds(of id: SaleID) async throws -> [Sale]
    /// Sales in a subtree, newest first.
    func list(under path: String, filter: SaleFilter, page: PageRequest) async throws -> Page<Sale>
    /// Completed entries of a store's journal after a receipt number, in receipt order (verification).
    func journal(store: OrgID, after receiptNumber: Int64, limit: Int) async throws -> [Sale]
    /// The store's counters and journal head, locked until the transaction ends (created when missing).
    func lockJournal(store: OrgID) async throws -> JournalHead
    func saveJournal(store: OrgID, head: JournalHead) async throws
    /// The store's counters and journal head as stored (no lock).
    func journalHead(store: OrgID) async throws -> JournalHead
    /// Notes that a register used a sequence number (highest seen, count received).
    func recordSequence(register: String, store: OrgID, seq: Int64, at: Date) async throws
    func register(_ id: String) async throws -> RegisterDevice?
    /// Sequence numbers below the highest seen that never arrived, first gaps first.
    func gaps(register: String, limit: Int) async throws -> [SequenceGap]
}

/// Shifts, their running totals, cash movements and Z reports.
public protocol ShiftRepository: Sendable {
    func insert(_ shift: Shift, orgPath: String) async throws
    func find(_ id: ShiftID) async throws -> Shift?
    /// The open shift of a register.
    func open(register: String) async throws -> Shift?
    /// Adds to the running totals (atomic increments: concurrent sales never lose each other's totals).
    func apply(_ delta: ShiftDelta, to id: ShiftID) async throws
    /// Adds to the running totals of a shift only while it is open; false (nothing changed) when it
    /// has closed, so a caller that chose the shift before its transaction can choose again.
    func applyIfOpen(_ delta: ShiftDelta, to id: ShiftID) async throws -> Bool
    func countLate(_ id: ShiftID) async throws
    /// Closes an open shift; `conflict` when it is no longer open.
    func close(_ id: ShiftID, by: String, at: Date, zNumber: Int64) async throws
    func list(under path: String, store: OrgID?, page: PageRequest) async throws -> Page<Shift>
    func insertMovement(_ movement: CashMovement) async throws
    func movements(of id: ShiftID) async throws -> [CashMovement]
    func insertReport(_ report: ShiftSummary, storeId: OrgID, orgPath: String) async throws
    func report(_ id: ZReportID) async throws -> (summary: ShiftSummary, orgPath: String)?
    func reports(under path: String, store: OrgID?, page: PageRequest) async throws -> Page<ShiftSummary>
}

/// Stock per store.
public protocol StockRepository: Sendable {
    /// Adds `delta` (negative to take away), creating the level at 0 first.
    func adjust(store: OrgID, product: ProductID, by delta: Int64, at: Date) async throws
    /// Adds each product's delta in one statement (a sale's lines); one entry per product.
    func adjust(store: OrgID, deltas: [(product: ProductID, delta: Int64)], at: Date) async throws
    func levels(store: OrgID, products: [ProductID]) async throws -> [ProductID: Int64]
    func list(store: OrgID, page: PageRequest) async throws -> Page<StockLevel>
}

/// Register settings per store.
public protocol RegisterSettingsRepository: Sendable {
    func find(store: OrgID) async throws -> RegisterSettings?
    /// Stores the settings; `settings.version` must be the stored version + 1 (1 for the first save).
    func save(_ settings: RegisterSettings) async throws
}

extension SaleRepository {
    /// Stores a new document, encoding all of it.
    public func insert(_ sale: Sale, orgPath: String) async throws {
        try await insert(sale, orgPath: orgPath, content: nil)
    }
}
