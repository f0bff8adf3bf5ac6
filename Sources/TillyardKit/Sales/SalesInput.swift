import Foundation

/// A line as the register sends it. Without `unitPrice` the server prices the line (catalog price and
/// running promotions); with it, the register priced it and the price the customer paid is kept.
public struct SaleLineInput: Codable, Sendable, Equatable {
    public var productId: ProductID
    /// Milli-units: 1000 per piece; grams for weighed goods.
    public var quantity: Int64
    public var unitPrice: Int64?
    /// Promotion discount the register applied, fen.
    public var discount: Int64?
    public var promotionId: PromotionID?
    public var promotionName: String?
    /// Discount the cashier gave on the line, fen.
    public var manualDiscount: Int64?

    public init(productId: ProductID, quantity: Int64, unitPrice: Int64? = nil, discount: Int64? = nil, promotionId: PromotionID? = nil,
                promotionName: String? = nil, manualDiscount: Int64? = nil) {
        self.productId = productId
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.discount = discount
        self.promotionId = promotionId
        self.promotionName = promotionName
        self.manualDiscount = manualDiscount
    }
}

/// A manager's credentials typed at the till to approve something beyond the cashier's rights.
public struct ApprovalInput: Codable, Sendable, Equatable {
    public var username: String
    public var password: String
    public var reason: SaleReason

    public init(username: String, password: String, reason: SaleReason) {
        self.username = username
        self.password = password
        self.reason = reason
    }
}

/// A completed sale as a register uploads it (online right away, or later from its offline queue).
public struct SaleInput: Sendable {
    /// UUIDv7 made by the register: the upload's idempotency key.
    public var id: SaleID
    /// The store; the cashier's own store when nil.
    public var storeId: OrgID?
    public var registerId: String
    /// The register's own gap-free counter of documents.
    public var registerSeq: Int64
    public var shiftId: ShiftID?
    /// When the register made the sale; now when nil.
    public var soldAt: Date?
    public var lines: [SaleLineInput]
    public var orderDiscount: Int64
    public var tenders: [TenderInput]
    public var memberId: String?
    public var isMember: Bool
    /// The total the register showed the customer; refused when the server's differs.
    public var expectedTotal: Int64?
    public var approval: ApprovalInput?
    public var note: String?

    public init(id: SaleID, storeId: OrgID? = nil, registerId: String, registerSeq: Int64, shiftId: ShiftID? = nil, soldAt: Date? = nil,
                lines: [SaleLineInput], orderDiscount: Int64 = 0, tenders: [TenderInput], memberId: String? = nil, isMember: Bool = false,
                expectedTotal: Int64? = nil, approval: ApprovalInput? = nil, note: String? = nil) {
        self.id = id
        self.storeId = storeId
        self.registerId = registerId
        self.registerSeq = registerSeq
        self.shiftId = shiftId
        self.soldAt = soldAt
        self.lines = lines
        self.orderDiscount = orderDiscount
        self.tenders = tenders
        self.memberId = memberId
        self.isMember = isMember
        self.expectedTotal = expectedTotal
        self.approval = approval
        self.note = note
    }
}

/// An order held open at a register (parked, or waiting for a wallet payment).
public struct OrderInput: Sendable {
    public var id: SaleID
    public var storeId: OrgID?
    public var registerId: String
    public var lines: [SaleLineInput]
    public var isMember: Bool
    public var memberId: String?
    public var note: String?

    public init(id: SaleID, storeId: OrgID? = nil, registerId: String, lines: [SaleLineInput], isMember: Bool = false, memberId: String? = nil,
                note: String? = nil) {
        self.id = id
        self.storeId = storeId
        self.registerId = registerId
        self.lines = lines
        self.isMember = isMember
        self.memberId = memberId
        self.note = note
    }
}

/// How much of one line of the original sale goes back.
public struct RefundLineInput: Codable, Sendable, Equatable {
    /// Index of the line in the original sale.
    public var line: Int
    public var quantity: Int64

    public init(line: Int, quantity: Int64) {
        self.line = line
        self.quantity = quantity
    }
}

/// A refund against an earlier sale.
public struct RefundInput: Sendable {
    /// UUIDv7 made by the register: the refund's idempotency key.
    public var id: SaleID
    public var registerId: String
    public var registerSeq: Int64
    public var shiftId: ShiftID?
    public var lines: [RefundLineInput]
    /// How the money goes back; by default to the original tenders (wallets and stored value first, then cash).
    public var tenders: [TenderInput]?
    public var reason: SaleReason
    /// Whether the goods go back on the shelf.
    public var restock: Bool
    public var approval: ApprovalInput?
    public var note: String?

    public init(id: SaleID, registerId: String, registerSeq: Int64, shiftId: ShiftID? = nil, lines: [RefundLineInput], tenders: [TenderInput]? = nil,
                reason: SaleReason, restock: Bool = true, approval: ApprovalInput? = nil, note: String? = nil) {
        self.id = id
        self.registerId = registerId
        self.registerSeq = registerSeq
        self.shiftId = shiftId
        self.lines = lines
        self.tenders = tenders
        self.reason = reason
        self.restock = restock
        self.approval = approval
        self.note = note
    }
}

/// A register's numbering as the server sees it, with the sequence numbers that never arrived.
public struct RegisterSync: Codable, Sendable, Equatable {
    public var registerId: String
    public var lastSeq: Int64
    public var received: Int64
    public var missing: [SequenceGap]
    /// The shift open at this register, if any: a register that restarts (a reloaded browser) carries on in it.
    public var openShift: Shift?

    public init(registerId: String, lastSeq: Int64, received: Int64, missing: [SequenceGap], openShift: Shift? = nil) {
        self.registerId = registerId
        self.lastSeq = lastSeq
        self.received = received
        self.missing = missing
        self.openShift = openShift
    }
}
