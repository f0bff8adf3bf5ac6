import Foundation
import SQLKit
import TillyardKit

/// The report rollups (migration 0017) and the fleet dashboard's grouped reads.
///
/// Rollups move only by adding upserts inside the writes they summarise, so a retried upload (which
/// stores nothing new) adds nothing, and a failed write adds nothing either.
struct SQLReportsRepository: ReportsRepository {
    let db: any SQLDatabase

    /// The business day of an epoch-millisecond column, in SQL (`RiskClock`'s fixed offset).
    static func day(_ column: String) -> SQLQueryString {
        "((\(unsafeRaw: column) / 1000 + \(unsafeRaw: String(RiskClock.utcOffset))) / 86400)"
    }

    static let salesFigures = ["sales", "amount", "refunds", "refund_amount", "quantity", "refund_quantity", "discount", "cost", "costed_amount"]
    static let transactionFigures = ["count", "approved", "amount", "refund_amount"]

    /// `SET c = t.c + excluded.c, …` for adding upserts.
    static func adding(_ columns: [String], table: String) -> SQLQueryString {
        SQLQueryString(columns.map { "\($0) = \(table).\($0) + excluded.\($0)" }.joined(separator: ", "))
    }

    /// `CAST(SUM(c) AS BIGINT) AS c, …` (PostgreSQL sums BIGINT as NUMERIC).
    static func sums(_ columns: [String]) -> SQLQueryString {
        SQLQueryString(columns.map { "CAST(SUM(\($0)) AS BIGINT) AS \($0)" }.joined(separator: ", "))
    }

    /// Inside a SQLite group-commit batch the additions are held back and summed with the batch's
    /// (`DeferredSalesRollups`); otherwise they are written at once.
    func addSales(_ deltas: [SalesRollupDelta]) async throws {
        if let batch = DeferredSalesRollups.current {
            batch.add(deltas)
        } else {
            try await writeSales(deltas)
        }
    }

    /// One adding upsert of `deltas` (their keys need not be distinct on SQLite; a batch's sums are).
    func writeSales(_ deltas: [SalesRollupDelta]) async throws {
        guard !deltas.isEmpty else { return }
        var query: SQLQueryString = """
            INSERT INTO report_sales_daily (dimension, org_path, day, key, store_id, merchant_id, label, \(unsafeRaw: Self.salesFigures.joined(separator: ", "))) VALUES
            """
        for (index, delta) in deltas.enumerated() {
            let f = delta.figures
            if index > 0 { query += ", " }
            query += """
                (\(bind: delta.dimension.rawValue), \(bind: delta.orgPath), \(bind: Int64(delta.day)), \(bind: delta.key), \(bind: delta.storeId.rawValue),
                 \(bind: delta.merchantId.rawValue), \(bind: delta.label), \(bind: f.sales), \(bind: f.amount), \(bind: f.refunds), \(bind: f.refundAmount),
                 \(bind: f.quantity), \(bind: f.refundQuantity), \(bind: f.discount), \(bind: f.cost), \(bind: f.costedAmount))
                """
        }
        query += " ON CONFLICT (dimension, org_path, day, key) DO UPDATE SET label = excluded.label, "
        query += Self.adding(Self.salesFigures, table: "report_sales_daily")
        try await db.raw(query).run()
    }

    func addTransactions(_ deltas: [TransactionRollupDelta]) async throws {
        guard !deltas.isEmpty else { return }
        // Keys must be distinct within one statement (PostgreSQL refuses to update a row twice).
        var daily: [String: (String, Int, TransactionFigures)] = [:]
        var blocks: [String: (Int, Int, String, String, TransactionFigures)] = [:]
        for delta in deltas {
            daily["\(delta.orgPath)\u{1F}\(delta.day)", default: (delta.orgPath, delta.day, TransactionFigures())].2 += delta.figures
            for span in TransactionRollup.spans {
                let start = delta.day - ((delta.day % span) + span) % span
                blocks["\(span)\u{1F}\(start)\u{1F}\(delta.orgPath)\u{1F}\(delta.merchantId)", default: (span, start, delta.orgPath, delta.merchantId, TransactionFigures())]
                    .4 += delta.figures
            }
        }
        var query: SQLQueryString = "INSERT INTO report_transactions_daily (org_path, day, count, approved, amount, refund_amount) VALUES "
        for (index, entry) in daily.values.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }).enumerated() {
            if index > 0 { query += ", " }
            query += "(\(bind: entry.0), \(bind: Int64(entry.1)), \(bind: entry.2.count), \(bind: entry.2.approved), \(bind: entry.2.amount), \(bind: entry.2.refundAmount))"
        }
        query += " ON CONFLICT (org_path, day) DO UPDATE SET " + Self.adding(Self.transactionFigures, table: "report_transactions_daily")
        try await db.raw(query).run()
        var merchants: SQLQueryString = """
            INSERT INTO report_transaction_merchants (span, start_day, org_path, merchant_id, count, approved, amount, refund_amount) VALUES
            """
        for (index, entry) in blocks.values.sorted(by: { ($0.0, $0.1, $0.2, $0.3) < ($1.0, $1.1, $1.2, $1.3) }).enumerated() {
            if index > 0 { merchants += ", " }
            merchants += """
                (\(bind: entry.0), \(bind: Int64(entry.1)), \(bind: entry.2), \(bind: entry.3), \(bind: entry.4.count), \(bind: entry.4.approved),
                 \(bind: entry.4.amount), \(bind: entry.4.refundAmount))
                """
        }
        merchants += " ON CONFLICT (span, start_day, org_path, merchant_id) DO UPDATE SET "
        merchants += Self.adding(Self.transactionFigures, table: "report_transaction_merchants")
        try await db.raw(merchants).run()
    }

    func sales(under path: String, dimension: SalesRollupDimension, grouping: SalesGrouping, range: ReportRange) async throws -> [SalesRollupRow] {
        let subtree = Subtree(path)
        let group: String
        switch grouping {
        case .day: group = "day"
        case .store: group = "store_id"
        case .key: group = "key"
        }
        let rows = try await db.raw("""
            SELECT CAST(\(unsafeRaw: group) AS TEXT) AS g, MAX(label) AS label, \(Self.sums(Self.salesFigures))
            FROM report_sales_daily
            WHERE dimension = \(bind: dimension.rawValue) AND org_path >= \(bind: subtree.lower) AND org_path < \(bind: subtree.upper)
              AND day >= \(bind: Int64(range.from)) AND day <= \(bind: Int64(range.to))
            GROUP BY \(unsafeRaw: group) ORDER BY \(unsafeRaw: group)
            """).all()
        return try rows.map { row in
            func value(_ column: String) throws -> Int64 { try row.decode(column: column, as: Int64?.self) ?? 0 }
            return SalesRollupRow(key: try row.decode(column: "g", as: String.self), label: try row.decode(column: "label", as: String?.self) ?? "",
                                  figures: SalesFigures(sales: try value("sales"), amount: try value("amount"), refunds: try value("refunds"),
                                                        refundAmount: try value("refund_amount"), quantity: try value("quantity"),
                                                        refundQuantity: try value("refund_quantity"), discount: try value("discount"),
                                                        cost: try value("cost"), costedAmount: try value("costed_amount")))
        }
    }

    static func transactionFigures(_ row: any SQLRow) throws -> TransactionFigures {
        func value(_ column: String) throws -> Int64 { try row.decode(column: column, as: Int64?.self) ?? 0 }
        return TransactionFigures(count: try value("count"), approved: try value("approved"), amount: try value("amount"),
                                  refundAmount: try value("refund_amount"))
    }

    func transactionTotals(under path: String, range: ReportRange, grouping: TransactionGrouping) async throws
        -> [(key: String, figures: TransactionFigures)] {
        let subtree = Subtree(path)
        let (select, group): (String, String)
        switch grouping {
        case .day: (select, group) = ("CAST(day AS TEXT)", " GROUP BY day ORDER BY day")
        case .path: (select, group) = ("org_path", " GROUP BY org_path ORDER BY org_path")
        case .all: (select, group) = ("''", "")
        }
        return try await db.raw("""
            SELECT \(unsafeRaw: select) AS g, \(Self.sums(Self.transactionFigures)) FROM report_transactions_daily
            WHERE org_path >= \(bind: subtree.lower) AND org_path < \(bind: subtree.upper)
              AND day >= \(bind: Int64(range.from)) AND day <= \(bind: Int64(range.to))\(unsafeRaw: group)
            """).all().compactMap { row in
            // An aggregate over no rows is one row of NULLs: nothing to report.
            guard try row.decode(column: "count", as: Int64?.self) != nil else { return nil }
            return (try row.decode(column: "g", as: String.self), try Self.transactionFigures(row))
        }
    }

    func transactionMerchants(under path: String, range: ReportRange, limit: Int) async throws -> [(merchantId: String, figures: TransactionFigures)] {
        let subtree = Subtree(path)
        // Runs of equal-span blocks are contiguous: one range condition per run.
        var runs: [(span: Int, first: Int, last: Int)] = []
        for block in TransactionRollup.blocks(from: range.from, to: range.to) {
            if let last = runs.last, last.span == block.span, last.last + block.span == block.start {
                runs[runs.count - 1].last = block.start
            } else {
                runs.append((block.span, block.start, block.start))
            }
        }
        var condition: SQLQueryString = ""
        for (index, run) in runs.enumerated() {
            if index > 0 { condition += " OR " }
            condition += "(span = \(bind: run.span) AND start_day >= \(bind: Int64(run.first)) AND start_day <= \(bind: Int64(run.last)))"
        }
        return try await db.raw("""
            SELECT merchant_id, \(Self.sums(Self.transactionFigures)) FROM report_transaction_merchants
            WHERE (\(condition)) AND org_path >= \(bind: subtree.lower) AND org_path < \(bind: subtree.upper)
            GROUP BY merchant_id ORDER BY amount DESC, merchant_id LIMIT \(bind: limit)
            """).all().map { row in (try row.decode(column: "merchant_id", as: String.self), try Self.transactionFigures(row)) }
    }

    func names(of ids: [String]) async throws -> [String: String] {
        var names: [String: String] = [:]
        let unique = Array(Set(ids))
        for start in stride(from: 0, to: unique.count, by: 500) {
            let rows = try await db.select().columns("id", "name").from("organizations")
                .where("id", .in, Array(unique[start..<min(unique.count, start + 500)])).all()
            for row in rows { names[try row.decode(column: "id", as: String.self)] = try row.decode(column: "name", as: String.self) }
        }
        return names
    }

    func estate(under path: String) async throws -> EstateGroups {
        let subtree = Subtree(path)
        let visible: SQLQueryString = """
            (owner_path >= \(bind: subtree.lower) AND owner_path < \(bind: subtree.upper))
               OR (merchant_path >= \(bind: subtree.lower) AND merchant_path < \(bind: subtree.upper))
            """
        // One pass over the visible terminals, grouped finely enough for both breakdowns (state × model ×
        // version, and owner): a few thousand groups at most, folded in Swift, instead of two scans.
        let models = Dictionary(try await db.raw("SELECT id, name FROM terminal_models").all().map {
            (try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self))
        }, uniquingKeysWith: { first, _ in first })
        var grouped: [EstateGroupKey: Int] = [:]
        var owned: [String: Int] = [:]
        for row in try await db.raw("""
            SELECT state, model_id, app_version, owner_path, COUNT(*) AS n FROM terminals WHERE \(visible)
            GROUP BY state, model_id, app_version, owner_path
            """).all() {
            let count = try row.decode(column: "n", as: Int.self)
            grouped[EstateGroupKey(state: try row.decode(column: "state", as: String.self), modelId: try row.decode(column: "model_id", as: String.self),
                                   appVersion: try row.decode(column: "app_version", as: String?.self)), default: 0] += count
            owned[try row.decode(column: "owner_path", as: String.self), default: 0] += count
        }
        let groups = grouped.compactMap { key, count in
            models[key.modelId].map { EstateGroup(state: key.state, modelId: key.modelId, modelName: $0, appVersion: key.appVersion, count: count) }
        }
        let owners = owned.map { (path: $0.key, count: $0.value) }
        return EstateGroups(groups: groups, owners: owners)
    }

    func activations(under path: String, since from: Date) async throws -> [Int: Int] {
        let subtree = Subtree(path)
        var result: [Int: Int] = [:]
        for row in try await db.raw("""
            SELECT \(Self.day("c.created_at")) AS d, COUNT(DISTINCT c.terminal_id) AS n
            FROM terminal_credentials c JOIN terminals t ON t.id = c.terminal_id
            WHERE c.created_at >= \(bind: from.millis) AND t.owner_path >= \(bind: subtree.lower) AND t.owner_path < \(bind: subtree.upper)
            GROUP BY \(Self.day("c.created_at"))
            """).all() {
            result[Int(try row.decode(column: "d", as: Int64.self))] = try row.decode(column: "n", as: Int.self)
        }
        return result
    }

    func openAlerts(under path: String) async throws -> [String: Int] {
        let subtree = Subtree(path)
        var result: [String: Int] = [:]
        for row in try await db.raw("""
            SELECT severity, COUNT(*) AS n FROM risk_alerts
            WHERE org_path >= \(bind: subtree.lower) AND org_path < \(bind: subtree.upper) AND mode = 'enforced'
              AND status IN ('open', 'investigating')
            GROUP BY severity
            """).all() {
            result[try row.decode(column: "severity", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return result
    }

    func tickets(under path: String, at now: Date) async throws -> TicketSLAFigures {
        let subtree = Subtree(path)
        let row = try await db.raw("""
            SELECT COUNT(*) AS n,
                   SUM(CASE WHEN responded_at IS NULL AND response_due_at < \(bind: now.millis) THEN 1 ELSE 0 END) AS response,
                   SUM(CASE WHEN fix_due_at < \(bind: now.millis) THEN 1 ELSE 0 END) AS fix
            FROM service_tickets
            WHERE state NOT IN ('resolved', 'closed')
              AND ((org_path >= \(bind: subtree.lower) AND org_path < \(bind: subtree.upper))
                OR (merchant_path >= \(bind: subtree.lower) AND merchant_path < \(bind: subtree.upper)))
            """).first()
        return TicketSLAFigures(open: try row?.decode(column: "n", as: Int.self) ?? 0, responseBreached: try row?.decode(column: "response", as: Int?.self) ?? 0,
                                fixBreached: try row?.decode(column: "fix", as: Int?.self) ?? 0)
    }

    func clearSales() async throws {
        DeferredSalesRollups.current?.cleared()
        try await db.raw("DELETE FROM report_sales_daily").run()
    }

    func rebuildTransactions() async throws {
        try await db.raw("DELETE FROM report_transaction_merchants").run()
        try await db.raw("DELETE FROM report_transactions_daily").run()
        let day = Self.day("at")
        // One pass over the transactions into one-day merchant blocks; everything else from those.
        try await db.raw("""
            INSERT INTO report_transaction_merchants (span, start_day, org_path, merchant_id, count, approved, amount, refund_amount)
            SELECT 1, \(day), org_path, COALESCE(merchant_id, ''), COUNT(*), CAST(SUM(approved) AS BIGINT),
                   CAST(SUM(CASE WHEN approved = 1 AND kind IN ('sale', 'completion') THEN amount ELSE 0 END) AS BIGINT),
                   CAST(SUM(CASE WHEN approved = 1 AND kind = 'refund' THEN amount ELSE 0 END) AS BIGINT)
            FROM terminal_transactions GROUP BY \(day), org_path, COALESCE(merchant_id, '')
            """).run()
        for span in TransactionRollup.spans where span > 1 {
            try await db.raw("""
                INSERT INTO report_transaction_merchants (span, start_day, org_path, merchant_id, count, approved, amount, refund_amount)
                SELECT \(bind: span), (start_day / \(unsafeRaw: String(span))) * \(unsafeRaw: String(span)), org_path, merchant_id,
                       \(Self.sums(Self.transactionFigures))
                FROM report_transaction_merchants WHERE span = 1
                GROUP BY (start_day / \(unsafeRaw: String(span))) * \(unsafeRaw: String(span)), org_path, merchant_id
                """).run()
        }
        try await db.raw("""
            INSERT INTO report_transactions_daily (org_path, day, count, approved, amount, refund_amount)
            SELECT org_path, start_day, \(Self.sums(Self.transactionFigures)) FROM report_transaction_merchants WHERE span = 1
            GROUP BY org_path, start_day
            """).run()
    }
}

/// A terminal group of the estate dashboard before the model's name is attached.
private struct EstateGroupKey: Hashable {
    var state: String
    var modelId: String
    var appVersion: String?
}
