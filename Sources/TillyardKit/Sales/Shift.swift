import Foundation

/// Tag for shift ids.
public enum ShiftTag {}
/// Id of a register shift.
public typealias ShiftID = Identifier<ShiftTag>
/// Tag for Z report ids.
public enum ZReportTag {}
/// Id of a Z report.
public typealias ZReportID = Identifier<ZReportTag>

/// Open while the register sells; closed by its Z report.
public enum ShiftStatus: String, Codable, Sendable {
    case open
    case closed
}

/// Running totals of one tender within a shift.
public struct ShiftTenderTotal: Codable, Sendable, Equatable {
    public var kind: TenderKind
    public var salesAmount: Int64
    public var salesCount: Int
    public var refundAmount: Int64
    public var refundCount: Int

    public init(kind: TenderKind, salesAmount: Int64 = 0, salesCount: Int = 0, refundAmount: Int64 = 0, refundCount: Int = 0) {
        self.kind = kind
        self.salesAmount = salesAmount
        self.salesCount = salesCount
        self.refundAmount = refundAmount
        self.refundCount = refundCount
    }
}

/// A register's shift (班次): opened with a float, kept current by every sale, refund and cash
/// movement through running totals, closed by a numbered Z report. Closing reads these totals,
/// never the sales, so it costs the same after ten years of history.
public struct Shift: Codable, Sendable, Equatable {
    public var id: ShiftID
    public var merchantId: OrgID
    public var storeId: OrgID
    public var registerId: String
    /// Per store, gap-free.
    public var number: Int64
    public var status: ShiftStatus
    public var openedById: UserID
    public var openedBy: String
    public var openedAt: Date
    /// Cash in the drawer at the start, fen.
    public var openingFloat: Int64
    public var closedBy: String?
    public var closedAt: Date?
    public var zNumber: Int64?
    public var saleCount: Int
    /// Sum of sale totals, fen.
    public var saleAmount: Int64
    public var refundCount: Int
    /// Sum of refund totals, fen (positive).
    public var refundAmount: Int64
    public var discount: Int64
    public var rounding: Int64
    public var cashIn: Int64
    public var cashOut: Int64
    /// Sales that arrived after the shift they were made in had closed (counted, but not in its Z report).
    public var lateSales: Int
    public var tenders: [ShiftTenderTotal]
    public var version: Int

    public init(id: ShiftID, merchantId: OrgID, storeId: OrgID, registerId: String, number: Int64, status: ShiftStatus, openedById: UserID,
                openedBy: String, openedAt: Date, openingFloat: Int64, closedBy: String? = nil, closedAt: Date? = nil, zNumber: Int64? = nil,
                saleCount: Int = 0, saleAmount: Int64 = 0, refundCount: Int = 0, refundAmount: Int64 = 0, discount: Int64 = 0,
                rounding: Int64 = 0, cashIn: Int64 = 0, cashOut: Int64 = 0, lateSales: Int = 0, tenders: [ShiftTenderTotal] = [],
                version: Int = 1) {
        self.id = id
        self.merchantId = merchantId
        self.storeId = storeId
        self.registerId = registerId
        self.number = number
        self.status = status
        self.openedById = openedById
        self.openedBy = openedBy
        self.openedAt = openedAt
        self.openingFloat = openingFloat
        self.closedBy = closedBy
        self.closedAt = closedAt
        self.zNumber = zNumber
        self.saleCount = saleCount
        self.saleAmount = saleAmount
        self.refundCount = refundCount
        self.refundAmount = refundAmount
        self.discount = discount
        self.rounding = rounding
        self.cashIn = cashIn
        self.cashOut = cashOut
        self.lateSales = lateSales
        self.tenders = tenders
        self.version = version
    }

    /// What should be in hand for a tender: for cash the float, cash taken, cash given back, paid in
    /// and paid out; for the others what they took less what they gave back.
    public func expected(_ kind: TenderKind) -> Int64 {
        let total = tenders.first { $0.kind == kind }
        let net = (total?.salesAmount ?? 0) - (total?.refundAmount ?? 0)
        return kind == .cash ? openingFloat + net + cashIn - cashOut : net
    }
}

/// What one completed sale, refund or cash movement adds to its shift's running totals.
public struct ShiftDelta: Sendable, Equatable {
    public var saleCount: Int = 0
    public var saleAmount: Int64 = 0
    public var refundCount: Int = 0
    public var refundAmount: Int64 = 0
    public var discount: Int64 = 0
    public var rounding: Int64 = 0
    public var cashIn: Int64 = 0
    public var cashOut: Int64 = 0
    /// Per tender kind: what was taken (sales) or given back (refunds), and how often.
    public var tenders: [ShiftTenderTotal] = []

    public init() {}

    /// The delta of a completed sale or refund.
    public static func of(_ sale: Sale) -> ShiftDelta {
        var delta = ShiftDelta()
        let refund = sale.kind == .refund
        var byKind: [TenderKind: Int64] = [:]
        for tender in sale.tenders { byKind[tender.kind, default: 0] += tender.amount }
        delta.tenders = TenderKind.allCases.compactMap { kind in
            guard let amount = byKind[kind] else { return nil }
            return refund ? ShiftTenderTotal(kind: kind, refundAmount: amount, refundCount: 1)
                          : ShiftTenderTotal(kind: kind, salesAmount: amount, salesCount: 1)
        }
        if refund {
            delta.refundCount = 1
            delta.refundAmount = sale.total
            delta.rounding = -sale.rounding
        } else {
            delta.saleCount = 1
            delta.saleAmount = sale.total
            delta.discount = sale.discount
            delta.rounding = sale.rounding
        }
        return delta
    }
}

/// Cash put into or taken out of the drawer during a shift (change float top-up, bank drop, petty cash).
public struct CashMovement: Codable, Sendable, Equatable {
    public enum Direction: String, Codable, Sendable {
        case `in`
        case out
    }

    public var id: String
    public var shiftId: ShiftID
    public var direction: Direction
    public var amount: Int64
    public var reason: String
    public var by: String
    public var at: Date

    public init(id: String, shiftId: ShiftID, direction: Direction, amount: Int64, reason: String, by: String, at: Date) {
        self.id = id
        self.shiftId = shiftId
        self.direction = direction
        self.amount = amount
        self.reason = reason
        self.by = by
        self.at = at
    }
}

/// A tender's line on a closing report: expected, counted and the difference (over is positive).
public struct CountedTender: Codable, Sendable, Equatable {
    public var kind: TenderKind
    public var expected: Int64
    public var counted: Int64?
    public var difference: Int64?

    public init(kind: TenderKind, expected: Int64, counted: Int64?) {
        self.kind = kind
        self.expected = expected
        self.counted = counted
        self.difference = counted.map { $0 - expected }
    }
}

/// An X report (mid-shift, changes nothing) or a Z report (closes the shift; numbered per store,
/// stored once and never changed; reprints are marked as copies).
public struct ShiftSummary: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case x
        case z
    }

    public var id: ZReportID?
    public var kind: Kind
    public var zNumber: Int64?
    public var shift: Shift
    public var tenders: [CountedTender]
    public var printedAt: Date
    public var closedBy: String?

    public init(id: ZReportID?, kind: Kind, zNumber: Int64?, shift: Shift, counted: [TenderKind: Int64], printedAt: Date, closedBy: String?) {
        self.id = id
        self.kind = kind
        self.zNumber = zNumber
        self.shift = shift
        let kinds = TenderKind.allCases.filter { kind in
            kind == .cash || shift.tenders.contains { $0.kind == kind } || counted[kind] != nil
        }
        self.tenders = kinds.map { CountedTender(kind: $0, expected: shift.expected($0), counted: counted[$0]) }
        self.printedAt = printedAt
        self.closedBy = closedBy
    }
}
