import Foundation

/// The money figures of a group of sales and refunds, fen (quantities in milli-units, as on sale lines).
///
/// Refunds are kept apart (`refunds`, `refundAmount`, `refundQuantity`); `cost` and `costedAmount`
/// are net of refunds and cover only lines whose product had a cost when the rollup was written, so
/// the margin is never guessed for goods without a cost.
public struct SalesFigures: Codable, Sendable, Equatable {
    public var sales: Int64 = 0
    public var amount: Int64 = 0
    public var refunds: Int64 = 0
    public var refundAmount: Int64 = 0
    public var quantity: Int64 = 0
    public var refundQuantity: Int64 = 0
    public var discount: Int64 = 0
    /// Cost of the goods sold less the goods refunded (lines with a known cost only).
    public var cost: Int64 = 0
    /// What the customers paid for the lines whose cost is known, less refunds of such lines.
    public var costedAmount: Int64 = 0

    public init(sales: Int64 = 0, amount: Int64 = 0, refunds: Int64 = 0, refundAmount: Int64 = 0, quantity: Int64 = 0, refundQuantity: Int64 = 0,
                discount: Int64 = 0, cost: Int64 = 0, costedAmount: Int64 = 0) {
        self.sales = sales
        self.amount = amount
        self.refunds = refunds
        self.refundAmount = refundAmount
        self.quantity = quantity
        self.refundQuantity = refundQuantity
        self.discount = discount
        self.cost = cost
        self.costedAmount = costedAmount
    }

    /// Sales less refunds.
    public var net: Int64 { amount - refundAmount }
    /// Gross margin of the costed lines; nil when no line had a cost.
    public var margin: Int64? { costedAmount == 0 && cost == 0 ? nil : costedAmount - cost }

    public static func + (lhs: SalesFigures, rhs: SalesFigures) -> SalesFigures {
        SalesFigures(sales: lhs.sales + rhs.sales, amount: lhs.amount + rhs.amount, refunds: lhs.refunds + rhs.refunds,
                     refundAmount: lhs.refundAmount + rhs.refundAmount, quantity: lhs.quantity + rhs.quantity,
                     refundQuantity: lhs.refundQuantity + rhs.refundQuantity, discount: lhs.discount + rhs.discount, cost: lhs.cost + rhs.cost,
                     costedAmount: lhs.costedAmount + rhs.costedAmount)
    }

    public static func += (lhs: inout SalesFigures, rhs: SalesFigures) { lhs = lhs + rhs }
}

/// The stored dimensions of the daily sales rollup. `total` (one row per store and day) answers the
/// reports by day and by store; the others are one row per store, day and key.
public enum SalesRollupDimension: String, Codable, Sendable, CaseIterable {
    case total, hour, cashier, register, product, category, tender, member
}

/// One addition to the sales rollup: a key of (business day, store, dimension, key) and the figures
/// to add there, with the label shown for the key (the latest written wins).
public struct SalesRollupDelta: Sendable, Equatable {
    public var day: Int
    public var storeId: OrgID
    public var merchantId: OrgID
    /// The store's organisation path (reports are scoped by it).
    public var orgPath: String
    public var dimension: SalesRollupDimension
    public var key: String
    public var label: String
    public var figures: SalesFigures

    public init(day: Int, storeId: OrgID, merchantId: OrgID, orgPath: String, dimension: SalesRollupDimension, key: String, label: String,
                figures: SalesFigures) {
        self.day = day
        self.storeId = storeId
        self.merchantId = merchantId
        self.orgPath = orgPath
        self.dimension = dimension
        self.key = key
        self.label = label
        self.figures = figures
    }
}

/// Turns a completed sale or refund into its rollup additions. Pure, so the write path and the
/// rebuild from history use the same arithmetic.
public enum SalesRollup {
    /// The hour of the business day (0–23) an instant falls in.
    public static func hour(of date: Date) -> Int { RiskClock.minute(of: date) / 60 }

    /// Cost of `quantity` milli-units at `unitCost` fen per unit, rounded half away from zero.
    static func cost(_ unitCost: Int64, quantity: Int64) -> Int64 {
        let product = unitCost * quantity
        return (product + (product >= 0 ? 500 : -500)) / 1000
    }

    /// The additions of one completed sale or refund, one per (dimension, key); `products` gives each
    /// line's cost and category as the catalog has them now (lines of unknown products count without).
    public static func deltas(of sale: Sale, storePath: String, products: [ProductID: Product]) -> [SalesRollupDelta] {
        guard sale.status == .completed else { return [] }
        let refund = sale.kind == .refund
        let day = RiskClock.day(of: sale.soldAt)
        // Per line: quantity, paid amount, and cost when the product has one.
        var byProduct: [String: (label: String, figures: SalesFigures)] = [:]
        var byCategory: [String: SalesFigures] = [:]
        var whole = SalesFigures()
        for line in sale.lines {
            var figures = SalesFigures()
            let product = products[line.productId]
            if refund {
                figures.refundQuantity = line.quantity
                figures.refundAmount = line.net
            } else {
                figures.quantity = line.quantity
                figures.amount = line.net
            }
            if let unitCost = product?.cost {
                let sign: Int64 = refund ? -1 : 1
                figures.cost = sign * cost(unitCost, quantity: line.quantity)
                figures.costedAmount = sign * line.net
            }
            let label = "\(line.name) (\(line.sku))"
            byProduct[line.productId.rawValue, default: (label, SalesFigures())].figures += figures
            byCategory[product?.category ?? "", default: SalesFigures()] += figures
            whole.quantity += figures.quantity
            whole.refundQuantity += figures.refundQuantity
            whole.cost += figures.cost
            whole.costedAmount += figures.costedAmount
        }
        // Whole-document dimensions count the document once with its total (rounding included).
        if refund {
            whole.refunds = 1
            whole.refundAmount = sale.total
        } else {
            whole.sales = 1
            whole.amount = sale.total
            whole.discount = sale.discount
        }
        func delta(_ dimension: SalesRollupDimension, _ key: String, _ label: String, _ figures: SalesFigures) -> SalesRollupDelta {
            SalesRollupDelta(day: day, storeId: sale.storeId, merchantId: sale.merchantId, orgPath: storePath, dimension: dimension, key: key,
                             label: label, figures: figures)
        }
        let hour = String(format: "%02d", Self.hour(of: sale.soldAt))
        let member = sale.memberId == nil ? "non_member" : "member"
        var result = [
            delta(.total, "", "", whole), delta(.hour, hour, hour, whole), delta(.cashier, sale.cashierId.rawValue, sale.cashier, whole),
            delta(.register, sale.registerId, sale.registerId, whole), delta(.member, member, member, whole),
        ]
        result += byProduct.sorted { $0.key < $1.key }.map { delta(.product, $0.key, $0.value.label, $0.value.figures) }
        result += byCategory.sorted { $0.key < $1.key }.map { delta(.category, $0.key, $0.key, $0.value) }
        var byTender: [TenderKind: Int64] = [:]
        for tender in sale.tenders { byTender[tender.kind, default: 0] += tender.amount }
        for kind in TenderKind.allCases {
            guard let amount = byTender[kind] else { continue }
            let figures = refund ? SalesFigures(refunds: 1, refundAmount: amount) : SalesFigures(sales: 1, amount: amount)
            result.append(delta(.tender, kind.rawValue, kind.rawValue, figures))
        }
        return result
    }

    /// Adds a completed sale or refund to the rollups, inside the caller's write transaction.
    public static func record(_ sale: Sale, storePath: String, products: [ProductID: Product], repos: any Repositories) async throws {
        let deltas = deltas(of: sale, storePath: storePath, products: products)
        if !deltas.isEmpty { try await repos.reports.addSales(deltas) }
    }
}

/// Terminal transaction figures: every transaction counts, `approved` of them approved; `amount` is
/// the approved sales and completions, `refundAmount` the approved refunds (fen).
public struct TransactionFigures: Codable, Sendable, Equatable {
    public var count: Int64 = 0
    public var approved: Int64 = 0
    public var amount: Int64 = 0
    public var refundAmount: Int64 = 0

    public init(count: Int64 = 0, approved: Int64 = 0, amount: Int64 = 0, refundAmount: Int64 = 0) {
        self.count = count
        self.approved = approved
        self.amount = amount
        self.refundAmount = refundAmount
    }

    /// Approved share in basis points (10000 = all), nil without transactions.
    public var approvalBasisPoints: Int64? { count == 0 ? nil : approved * 10_000 / count }

    public static func + (lhs: TransactionFigures, rhs: TransactionFigures) -> TransactionFigures {
        TransactionFigures(count: lhs.count + rhs.count, approved: lhs.approved + rhs.approved, amount: lhs.amount + rhs.amount,
                           refundAmount: lhs.refundAmount + rhs.refundAmount)
    }

    public static func += (lhs: inout TransactionFigures, rhs: TransactionFigures) { lhs = lhs + rhs }

    /// One transaction's figures.
    public static func of(_ transaction: TerminalTransaction) -> TransactionFigures {
        var figures = TransactionFigures(count: 1, approved: transaction.approved ? 1 : 0)
        guard transaction.approved else { return figures }
        switch transaction.kind {
        case .sale, .completion: figures.amount = transaction.amount
        case .refund: figures.refundAmount = transaction.amount
        case .void, .preAuth, .reversal: break
        }
        return figures
    }
}

/// One addition to the transaction rollups: a business day of one owner path (the terminal owner's
/// organisation, which rolls up to regions) and merchant ("" for a terminal bound to none).
public struct TransactionRollupDelta: Sendable, Equatable {
    public var day: Int
    public var orgPath: String
    public var merchantId: String
    public var figures: TransactionFigures

    public init(day: Int, orgPath: String, merchantId: String, figures: TransactionFigures) {
        self.day = day
        self.orgPath = orgPath
        self.merchantId = merchantId
        self.figures = figures
    }
}

/// The transaction rollups: a daily table per owner path (trend, regions) and, per merchant, blocks
/// of 1, 2, 4 … 64 aligned days, so any range of days is a handful of blocks per merchant (a 90-day
/// ranking reads at most 10 rows per merchant, about 6 on average, not 90). Seven rows per merchant and day
/// are written instead of one: uploads are few rows, dashboards are many reads.
public enum TransactionRollup {
    /// Block lengths in days, largest first.
    public static let spans = [64, 32, 16, 8, 4, 2, 1]

    /// The additions of transactions stored now by one terminal, one per business day.
    public static func deltas(of transactions: [TerminalTransaction], orgPath: String, merchantId: OrgID?) -> [TransactionRollupDelta] {
        var byDay: [Int: TransactionFigures] = [:]
        for transaction in transactions { byDay[RiskClock.day(of: transaction.at), default: TransactionFigures()] += .of(transaction) }
        return byDay.sorted { $0.key < $1.key }.map {
            TransactionRollupDelta(day: $0.key, orgPath: orgPath, merchantId: merchantId?.rawValue ?? "", figures: $0.value)
        }
    }

    /// Adds the transactions stored now to the rollups, inside the upload's write transaction.
    public static func record(_ transactions: [TerminalTransaction], orgPath: String, merchantId: OrgID?, repos: any Repositories) async throws {
        guard !transactions.isEmpty else { return }
        try await repos.reports.addTransactions(deltas(of: transactions, orgPath: orgPath, merchantId: merchantId))
    }

    /// The days `from...to` as aligned blocks (span, first day), the fewest greedy ones: at each day the
    /// largest span that starts there (day divisible by it) and ends inside the range.
    public static func blocks(from: Int, to: Int) -> [(span: Int, start: Int)] {
        var result: [(span: Int, start: Int)] = []
        var day = from
        while day <= to {
            let span = spans.first { day % $0 == 0 && day + $0 - 1 <= to } ?? 1
            result.append((span, day))
            day += span
        }
        return result
    }
}
