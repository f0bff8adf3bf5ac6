import Foundation

/// Business days as report dates: "2026-12-07" ⇄ days since 1970 in the business zone (`RiskClock`).
public enum ReportDay {
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// "YYYY-MM-DD" of a business day.
    public static func text(_ day: Int) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(day) * 86_400))
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// The business day of "YYYY-MM-DD"; nil when it is not such a date.
    public static func parse(_ text: String) -> Int? {
        let parts = text.split(separator: "-")
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1970...9999).contains(year),
              let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
              calendar.component(.day, from: date) == day, calendar.component(.month, from: date) == month else { return nil }
        return Int(date.timeIntervalSince1970 / 86_400)
    }
}

/// A range of business days, both ends included.
public struct ReportRange: Codable, Sendable, Equatable {
    public var from: Int
    public var to: Int

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }

    /// The longest range a report reads.
    public static let maxDays = 731

    public var days: Int { to - from + 1 }
    /// The range of the same length just before this one (the period compared with).
    public var previous: ReportRange { ReportRange(from: from - days, to: from - 1) }

    /// The range from the query's texts: `to` defaults to today, `from` to `defaultDays` before `to`.
    public static func parse(from: String?, to: String?, today: Int, defaultDays: Int = 30) throws -> ReportRange {
        func day(_ text: String?, _ field: String) throws -> Int? {
            guard let text, !text.isEmpty else { return nil }
            guard let day = ReportDay.parse(text) else { throw DomainError.invalid(field, "must be a date like 2026-12-01") }
            return day
        }
        let end = try day(to, "to") ?? today
        let start = try day(from, "from") ?? end - defaultDays + 1
        guard start <= end else { throw DomainError.invalid("from", "must not be after to") }
        guard end - start + 1 <= maxDays else { throw DomainError.invalid("from", "a report covers at most \(maxDays) days") }
        return ReportRange(from: start, to: end)
    }
}

/// What a sales report is broken down by.
public enum SalesReportDimension: String, Codable, Sendable, CaseIterable {
    case day, hour, store, cashier, register, product, category, tender, member

    /// The stored rollup dimension that answers it, and how its rows are grouped.
    var source: (dimension: SalesRollupDimension, grouping: SalesGrouping) {
        switch self {
        case .day: return (.total, .day)
        case .store: return (.total, .store)
        case .hour: return (.hour, .key)
        case .cashier: return (.cashier, .key)
        case .register: return (.register, .key)
        case .product: return (.product, .key)
        case .category: return (.category, .key)
        case .tender: return (.tender, .key)
        case .member: return (.member, .key)
        }
    }
}

/// How rollup rows are grouped in a query: by business day, by store, or by the dimension's key.
public enum SalesGrouping: String, Sendable {
    case day, store, key
}

/// A grouped row of the sales rollup as stored figures.
public struct SalesRollupRow: Sendable, Equatable {
    public var key: String
    public var label: String
    public var figures: SalesFigures
    public init(key: String, label: String, figures: SalesFigures) {
        self.key = key
        self.label = label
        self.figures = figures
    }
}

/// One row of a sales report as the API answers it (fen; quantities in milli-units).
public struct SalesReportRow: Codable, Sendable, Equatable {
    public var key: String
    public var label: String
    public var sales: Int64
    public var amount: Int64
    public var refunds: Int64
    public var refundAmount: Int64
    public var net: Int64
    public var quantity: Int64
    public var refundQuantity: Int64
    public var discount: Int64
    /// Cost and margin of the lines with a known cost (nil margin when none had one).
    public var cost: Int64
    public var costedAmount: Int64
    public var margin: Int64?
    /// The same key's net in the previous period (for `day`: the day at the same offset), and the change in percent.
    public var previousNet: Int64
    public var changePercent: Double?

    public init(key: String, label: String, figures: SalesFigures, previous: SalesFigures?) {
        self.key = key
        self.label = label
        sales = figures.sales
        amount = figures.amount
        refunds = figures.refunds
        refundAmount = figures.refundAmount
        net = figures.net
        quantity = figures.quantity
        refundQuantity = figures.refundQuantity
        discount = figures.discount
        cost = figures.cost
        costedAmount = figures.costedAmount
        margin = figures.margin
        previousNet = previous?.net ?? 0
        changePercent = Self.change(figures.net, from: previousNet)
    }

    /// Percent change from `old` to `new`, one decimal; nil when `old` is zero.
    public static func change(_ new: Int64, from old: Int64) -> Double? {
        guard old != 0 else { return nil }
        return (Double(new - old) * 1000 / Double(old.magnitude)).rounded() / 10
    }
}

/// A sales report: rows of one breakdown over a range, with the range's total, the previous range of
/// the same length for comparison, and the top products of the range.
public struct SalesReport: Codable, Sendable, Equatable {
    public var by: SalesReportDimension
    public var from: String
    public var to: String
    public var previousFrom: String
    public var previousTo: String
    public var storeId: OrgID?
    public var rows: [SalesReportRow]
    public var total: SalesReportRow
    public var topProducts: [SalesReportRow]
}

/// What a transaction report is broken down by.
public enum TransactionReportDimension: String, Codable, Sendable, CaseIterable {
    case day, region, merchant
}

/// One row of a transaction report.
public struct TransactionReportRow: Codable, Sendable, Equatable {
    public var key: String
    public var label: String
    public var count: Int64
    public var approved: Int64
    /// Approved share in percent, one decimal (nil without transactions).
    public var approvalRate: Double?
    public var amount: Int64
    public var refundAmount: Int64

    public init(key: String, label: String, figures: TransactionFigures) {
        self.key = key
        self.label = label
        count = figures.count
        approved = figures.approved
        approvalRate = figures.approvalBasisPoints.map { Double($0 / 10) / 10 }
        amount = figures.amount
        refundAmount = figures.refundAmount
    }
}

/// Terminal transactions over a range by day, region (the caller's next level down) or merchant.
public struct TransactionReport: Codable, Sendable, Equatable {
    public var by: TransactionReportDimension
    public var from: String
    public var to: String
    public var rows: [TransactionReportRow]
    public var total: TransactionReportRow
}

/// How the daily transaction rows are summed in a query.
public enum TransactionGrouping: Sendable {
    case day, path, all
}

/// A count under a key (state, model, region, version, severity, day).
public struct ReportCount: Codable, Sendable, Equatable {
    public var key: String
    public var label: String
    public var count: Int
    public init(key: String, label: String, count: Int) {
        self.key = key
        self.label = label
        self.count = count
    }
}

/// A group of the caller's terminals as stored: state, model and app version with its count.
public struct EstateGroup: Sendable, Equatable {
    public var state: String
    public var modelId: String
    public var modelName: String
    public var appVersion: String?
    public var count: Int
    public init(state: String, modelId: String, modelName: String, appVersion: String?, count: Int) {
        self.state = state
        self.modelId = modelId
        self.modelName = modelName
        self.appVersion = appVersion
        self.count = count
    }
}

/// The caller's terminals grouped twice: by state, model and version, and by owner path (regions are
/// made from those); two small groupings instead of one of every combination.
public struct EstateGroups: Sendable, Equatable {
    public var groups: [EstateGroup]
    public var owners: [(path: String, count: Int)]
    public init(groups: [EstateGroup], owners: [(path: String, count: Int)]) {
        self.groups = groups
        self.owners = owners
    }

    public static func == (lhs: EstateGroups, rhs: EstateGroups) -> Bool {
        lhs.groups == rhs.groups && lhs.owners.map(\.path) == rhs.owners.map(\.path) && lhs.owners.map(\.count) == rhs.owners.map(\.count)
    }
}

/// Service desk figures of the dashboard: open tickets and those past a due time still unmet.
public struct TicketSLAFigures: Codable, Sendable, Equatable {
    public var open: Int
    public var responseBreached: Int
    public var fixBreached: Int
    public init(open: Int, responseBreached: Int, fixBreached: Int) {
        self.open = open
        self.responseBreached = responseBreached
        self.fixBreached = fixBreached
    }
}

/// The acquirer's fleet dashboard: terminals by state / model / region / version, online share of the
/// deployed ones, activations per day, open alerts by severity and the service desk's SLA figures.
/// No money: finance reads the transaction report.
public struct EstateDashboard: Codable, Sendable, Equatable {
    public var terminals: Int
    public var byState: [ReportCount]
    public var byModel: [ReportCount]
    public var byRegion: [ReportCount]
    public var byVersion: [ReportCount]
    public var deployed: Int
    public var online: Int
    /// Online share of the deployed terminals in percent, one decimal (nil with none deployed).
    public var onlineRatio: Double?
    public var activationsFrom: String
    public var activations: [ReportCount]
    public var openAlerts: [ReportCount]
    public var tickets: TicketSLAFigures
}

/// Storage of the report rollups and the dashboard's reads.
public protocol ReportsRepository: Sendable {
    /// Adds to the daily sales rollup, one upsert per (day, store, dimension, key) (keys distinct).
    func addSales(_ deltas: [SalesRollupDelta]) async throws
    /// Adds to the transaction rollups (daily per owner path; blocks per merchant).
    func addTransactions(_ deltas: [TransactionRollupDelta]) async throws
    /// Sales rollup rows of a dimension in a subtree over a range, grouped by day, store or key.
    func sales(under path: String, dimension: SalesRollupDimension, grouping: SalesGrouping, range: ReportRange) async throws -> [SalesRollupRow]
    /// Transaction figures of a subtree over a range from the daily rows, summed per business day (key: the day
    /// number), per owner path, or all together (one row, key "").
    func transactionTotals(under path: String, range: ReportRange, grouping: TransactionGrouping) async throws -> [(key: String, figures: TransactionFigures)]
    /// The merchants of a subtree with the largest approved amounts over a range (at most `limit`), from the merchant blocks.
    func transactionMerchants(under path: String, range: ReportRange, limit: Int) async throws -> [(merchantId: String, figures: TransactionFigures)]
    /// Organisation names by id.
    func names(of ids: [String]) async throws -> [String: String]
    /// The terminals visible in a subtree (owned there or bound to a merchant there), grouped.
    func estate(under path: String) async throws -> EstateGroups
    /// Terminal activations (credentials issued) per business day since `from`, terminals owned in the subtree.
    func activations(under path: String, since from: Date) async throws -> [Int: Int]
    /// Open (or investigating) enforced risk alerts in a subtree by severity.
    func openAlerts(under path: String) async throws -> [String: Int]
    /// Open tickets seen in a subtree (answering organisation or merchant) and their breaches at `now`.
    func tickets(under path: String, at now: Date) async throws -> TicketSLAFigures
    /// Empties the sales rollup (before a rebuild).
    func clearSales() async throws
    /// Rebuilds the transaction rollups from the stored transactions, in SQL.
    func rebuildTransactions() async throws
}
