import Foundation
import SQLKit
import TillyardKit

/// Group commit for SQLite's single writer: write transactions that arrive while the writer is busy
/// wait in a queue, and the writer then runs all of them inside one `BEGIN IMMEDIATE … COMMIT`,
/// each in its own SAVEPOINT.
///
/// Why: with `synchronous=FULL` every COMMIT waits for the disk (an fsync of the WAL), and SQLite
/// writes one transaction at a time anyway. Sharing the COMMIT among the transactions that queued
/// meanwhile makes the disk wait once per batch instead of once per sale, without weakening anything:
///
/// - each transaction runs after the previous one on the same connection and sees its effects
///   (the same serial order as separate transactions);
/// - one that throws is undone alone (`ROLLBACK TO` its savepoint) and its caller gets the error;
/// - every caller is answered only after the shared COMMIT returned, i.e. is durable; if the COMMIT
///   (or undoing a savepoint) fails, the whole batch is rolled back and every caller gets the error,
///   so nothing is acknowledged that was not stored.
///
/// A batch is whatever queued while the previous one ran (no waiting for company): an idle server
/// commits a lone transaction at once, exactly as before.
final class GroupCommit: @unchecked Sendable {
    /// One queued transaction: runs on the writer's connection, then learns how the batch ended.
    private struct Item {
        let run: @Sendable (any SQLDatabase) async throws -> Void
        let finish: @Sendable ((any Error)?) -> Void
    }

    /// Holds a transaction's result between its run and the batch's COMMIT.
    private final class ResultBox<T: Sendable>: @unchecked Sendable {
        var value: T?
    }

    /// Most transactions committed together by default (bounds a batch's latency and its undo log).
    static let maxBatch = 128

    private let writer: SQLiteWriter
    /// Most transactions of one batch; 1 gives every transaction its own COMMIT (group commit off).
    private let batchLimit: Int
    // `@unchecked Sendable`: `queue` and `draining` are touched only under `lock`.
    private let lock = NSLock()
    private var queue: [Item] = []
    private var draining = false

    init(writer: SQLiteWriter, maxBatch: Int = GroupCommit.maxBatch) {
        self.writer = writer
        self.batchLimit = max(1, maxBatch)
    }

    /// Runs `work` as one transaction of the next batch; returns its result once the batch is committed.
    func transaction<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let box = ResultBox<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let item = Item(run: { db in box.value = try await work(db) }, finish: { error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let value = box.value {
                    continuation.resume(returning: value)
                } else {
                    continuation.resume(throwing: DomainError.conflict("a committed transaction left no result"))
                }
            })
            let start = lock.withLock { () -> Bool in
                queue.append(item)
                guard !draining else { return false }
                draining = true
                return true
            }
            // The drain runs on the writer's own thread, where its statements execute without hops.
            if start { Task(executorPreference: writer.thread) { await self.drain() } }
        }
    }

    /// Commits batches until the queue is empty.
    private func drain() async {
        while true {
            let batch = lock.withLock { () -> [Item] in
                let taken = Array(queue.prefix(batchLimit))
                queue.removeFirst(taken.count)
                if taken.isEmpty { draining = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try await writer.run { db in try await Self.commit(batch, on: db) }
                for (item, error) in zip(batch, outcomes) { item.finish(error) }
            } catch {
                for item in batch { item.finish(error) }
            }
        }
    }

    /// Runs a batch in one transaction; answers each item's own error (nil: committed). The sales
    /// rollup additions of the batch's items are summed and written just before the COMMIT
    /// (`DeferredSalesRollups`).
    private static func commit(_ batch: [Item], on db: any SQLDatabase) async throws -> [(any Error)?] {
        try await db.raw("BEGIN IMMEDIATE").run()
        let rollups = DeferredSalesRollups()
        do {
            let outcomes = try await DeferredSalesRollups.$current.withValue(rollups) { () async throws -> [(any Error)?] in
                if batch.count == 1 {
                    // Alone: the transaction itself is the unit of undo, no savepoint needed.
                    try await batch[0].run(db)
                    rollups.itemCommitted()
                    return [nil]
                }
                var outcomes: [(any Error)?] = []
                for item in batch {
                    try await db.raw("SAVEPOINT tillyard_batch_item").run()
                    do {
                        try await item.run(db)
                        try await db.raw("RELEASE tillyard_batch_item").run()
                        rollups.itemCommitted()
                        outcomes.append(nil)
                    } catch {
                        // Undo this transaction only; if even that fails, the outer catch drops the batch.
                        rollups.itemUndone()
                        try await db.raw("ROLLBACK TO tillyard_batch_item").run()
                        try await db.raw("RELEASE tillyard_batch_item").run()
                        outcomes.append(error)
                    }
                }
                return outcomes
            }
            try await rollups.flush(on: db)
            try await db.raw("COMMIT").run()
            return outcomes
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
    }
}
