import SQLKit

/// A range condition of a terminal search or count, rendered for the alias `t`.
///
/// Terminal lists are ordered by id (newest first) and stop after one page, so the best way to
/// them walks an index in id order, the primary key or an equality index `(column, id)`, and
/// checks the other conditions on the way. A range (a subtree of the organisation tree, an SN
/// prefix) breaks that: its index returns the range in its own order, and the whole range must
/// then be read and sorted, which pays only when the range is small. Whether it is small is not
/// in the query: a subtree is the whole estate for the acquirer's staff and a few dozen terminals
/// for a merchant, and SQLite keeps no statistics on ranges. See `TerminalRanges.conditions`.
enum TerminalRange: Sendable {
    /// Owned by, or bound to a merchant inside, the subtree (`owner_path` or `merchant_path` in it).
    case subtree(Subtree)
    /// Serial numbers in the range (a prefix; see `Subtree.prefixRange`).
    case serialNumbers(Subtree)

    /// The condition on the columns themselves, for an engine that weighs their indexes by itself.
    var plain: SQLQueryString { check(owner: "t.owner_path", merchant: "t.merchant_path", sn: "t.sn") }

    /// The condition as a check no index serves (`column || ''` is an expression, not the column):
    /// the engine then reaches rows some other way and tests each one.
    var unindexed: SQLQueryString {
        check(owner: "(t.owner_path || '')", merchant: "(t.merchant_path || '')", sn: "(t.sn || '')")
    }

    private func check(owner: String, merchant: String, sn: String) -> SQLQueryString {
        switch self {
        case .subtree(let range):
            return """
                ((\(unsafeRaw: owner) >= \(bind: range.lower) AND \(unsafeRaw: owner) < \(bind: range.upper))
                 OR (\(unsafeRaw: merchant) >= \(bind: range.lower) AND \(unsafeRaw: merchant) < \(bind: range.upper)))
                """
        case .serialNumbers(let range):
            return "(\(unsafeRaw: sn) >= \(bind: range.lower) AND \(unsafeRaw: sn) < \(bind: range.upper))"
        }
    }

    /// The ids of the terminals in the range, read from the range's own indexes.
    var ids: SQLQueryString { select("id") }

    /// How many terminals the range holds, counted only up to `limit` (so it reads at most that
    /// many index entries, however large the range).
    func probe(limit: Int) -> SQLQueryString {
        "(SELECT COUNT(*) FROM (\(select("1")) LIMIT \(bind: limit)) AS probe)"
    }

    /// `SELECT what` over the range's terminals, each read through the range column's index.
    private func select(_ what: String) -> SQLQueryString {
        switch self {
        case .subtree(let range):
            return """
                SELECT \(unsafeRaw: what) FROM terminals WHERE owner_path >= \(bind: range.lower) AND owner_path < \(bind: range.upper)
                UNION ALL SELECT \(unsafeRaw: what) FROM terminals WHERE merchant_path >= \(bind: range.lower) AND merchant_path < \(bind: range.upper)
                """
        case .serialNumbers(let range):
            return "SELECT \(unsafeRaw: what) FROM terminals WHERE sn >= \(bind: range.lower) AND sn < \(bind: range.upper)"
        }
    }
}

/// Chooses how a terminal search reaches its rows (see `TerminalRange`).
enum TerminalRanges {
    /// A range holding fewer terminals than this drives the search from its ids. Reading and
    /// probing that many ids costs a few milliseconds; walking in id order past rows outside the
    /// range costs about as much once the range holds a few per thousand of a million-terminal estate.
    static let narrowLimit = 5_000

    /// The WHERE conditions for the ranges, joined with AND. On SQLite, when `probe` is true, one query
    /// first counts each range's terminals (up to `narrowLimit`); the smallest range below the limit, if
    /// any, then also drives the search (`t.id IN (its ids)`), which SQLite reads in id order.
    /// Every range stays as a check either way, so the rows found never depend on the choice.
    static func conditions(_ ranges: [TerminalRange], in db: any SQLDatabase, backend: SQLBackend,
                           narrowLimit: Int = TerminalRanges.narrowLimit, probe: Bool = true) async throws -> SQLQueryString {
        // PostgreSQL sizes the ranges from its statistics; the rewritten conditions would only hide them from it
        // (it then guesses one row, and joins the driver's ids in a nested loop).
        guard !Dialect.estimatesRanges(backend) else { return ranges.map(\.plain).joined(separator: " AND ") }
        var parts = ranges.map(\.unindexed)
        if probe, let driver = try await narrowest(ranges, below: narrowLimit, in: db) {
            parts.insert("t.id IN (\(driver.ids))", at: 0)
        }
        return parts.joined(separator: " AND ")
    }

    /// The range with the fewest terminals, if it holds fewer than `limit`.
    private static func narrowest(_ ranges: [TerminalRange], below limit: Int, in db: any SQLDatabase) async throws -> TerminalRange? {
        guard !ranges.isEmpty, limit > 0 else { return nil }
        var query: SQLQueryString = "SELECT "
        for (index, range) in ranges.enumerated() {
            if index > 0 { query += ", " }
            query += range.probe(limit: limit) + " AS r\(unsafeRaw: String(index))"
        }
        guard let row = try await db.raw(query).first() else { return nil }
        let counts = try ranges.indices.map { try row.decode(column: "r\($0)", as: Int.self) }
        guard let smallest = counts.indices.min(by: { counts[$0] < counts[$1] }), counts[smallest] < limit else { return nil }
        return ranges[smallest]
    }
}
