import Foundation
import SQLKit
import Synchronization
import TillyardKit

/// The sales rollup additions of one SQLite group-commit batch, held back and written as one sum
/// just before the batch's COMMIT, inside the same transaction.
///
/// Why: every sale adds to about ten rollup rows (its day, hour, cashier, register, tender, each
/// product…), and most of them are the same rows for the sales of one batch. Writing each sale's
/// additions as they come cost the single writer a statement with ~160 values per sale; summed per
/// batch, the rows a batch shares are written once. Rollups only ever move by additions, so the
/// sum equals the sequence, and the batch commits or rolls back as one, so nothing is counted
/// that was not stored:
/// - an item (one transaction of the batch) adds into its own part; only when its savepoint is
///   released does that part join the batch's sum; an item undone alone takes its part with it;
/// - `clearSales` (the rebuild) deletes the table, which takes with it every earlier item's
///   additions too, so those are dropped here as well, and given back if that item is undone.
///
/// Rollups are never read inside a write transaction (reports read on the readers, which see only
/// committed batches), so holding additions back changes no answer. PostgreSQL and any transaction
/// outside the group commit have no batch and write at once.
final class DeferredSalesRollups: Sendable {
    /// The batch the running transaction belongs to (set by `GroupCommit` around each batch).
    @TaskLocal static var current: DeferredSalesRollups?

    private struct State {
        /// Released items' additions, summed per row.
        var batch: [String: SalesRollupDelta] = [:]
        /// The running item's additions.
        var item: [String: SalesRollupDelta] = [:]
        /// The batch's additions as they were before the running item cleared the table.
        var beforeClear: [String: SalesRollupDelta]?
    }

    private let state = Mutex(State())

    /// Adds a transaction's rollup additions to the running item's part.
    func add(_ deltas: [SalesRollupDelta]) {
        state.withLock { state in Self.merge(deltas, into: &state.item) }
    }

    /// The running item emptied the rollup table: what was held back for it is gone too.
    func cleared() {
        state.withLock { state in
            if state.beforeClear == nil { state.beforeClear = state.batch }
            state.batch = [:]
            state.item = [:]
        }
    }

    /// The running item was released: its additions join the batch's.
    func itemCommitted() {
        state.withLock { state in
            Self.merge(Array(state.item.values), into: &state.batch)
            state.item = [:]
            state.beforeClear = nil
        }
    }

    /// The running item was undone: its additions go, and a table it cleared is as it was.
    func itemUndone() {
        state.withLock { state in
            state.item = [:]
            if let before = state.beforeClear { state.batch = before }
            state.beforeClear = nil
        }
    }

    /// Writes the batch's sum (before its COMMIT); afterwards nothing is held.
    func flush(on db: any SQLDatabase) async throws {
        let deltas = state.withLock { state -> [SalesRollupDelta] in
            defer { state = State() }
            return Array(state.batch.values)
        }
        // 16 values per row: well inside SQLite's 32,766 bound values per statement.
        for start in stride(from: 0, to: deltas.count, by: 1_000) {
            try await SQLReportsRepository(db: db).writeSales(Array(deltas[start..<min(deltas.count, start + 1_000)]))
        }
    }

    /// Sums `deltas` into `rows` by the table's key; the later label wins, as the upsert leaves it.
    private static func merge(_ deltas: [SalesRollupDelta], into rows: inout [String: SalesRollupDelta]) {
        for delta in deltas {
            let key = "\(delta.dimension.rawValue)\u{1F}\(delta.orgPath)\u{1F}\(delta.day)\u{1F}\(delta.key)"
            if var known = rows[key] {
                known.figures += delta.figures
                known.label = delta.label
                rows[key] = known
            } else {
                rows[key] = delta
            }
        }
    }
}
