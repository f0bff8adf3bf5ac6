import Foundation
import Logging
import NIOCore
import SQLKit

/// SQLite's single writer connection, driven synchronously on a thread of its own.
///
/// The writer is the serial part of the server. Its transactions run as tasks on one dedicated thread
/// (`WriterThread`, a `TaskExecutor`) and every statement executes inline on it through a
/// `SQLiteDirectConnection` (prepared once, no thread hop), so a transaction runs from its first
/// statement to its last without a thread switch; only the COMMIT waits for the disk.
///
/// Only `GroupCommit` drives it, one batch at a time, so the connection is never used concurrently.
final class SQLiteWriter: Sendable {
    /// The thread every writer transaction runs on.
    let thread: WriterThread
    private let connection: SQLiteDirectConnection
    private let eventLoop: any EventLoop
    private let logger: Logger

    /// Opens (creating) the database file with the settings the readers use.
    init(path: String, logger: Logger, eventLoop: any EventLoop) throws {
        connection = try SQLiteDirectConnection(path: path, extraPragmas: SQLiteDirectConnection.writerPragmas)
        thread = WriterThread(name: "tillyard-sqlite-writer")
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Runs work with the writer's connection, on the writer's thread.
    func run<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let db = SQLiteDirectDatabase(connection: connection, logger: logger, eventLoop: eventLoop)
        return try await withTaskExecutorPreference(thread) { try await work(db) }
    }

    /// Closes the connection (on its thread) and ends the thread.
    func close() async {
        let connection = connection
        await withTaskExecutorPreference(thread) { connection.close() }
        thread.stop()
    }
}

/// One thread running, in order, the jobs of the tasks that prefer it: the SQLite writer's.
final class WriterThread: TaskExecutor, @unchecked Sendable {
    // `@unchecked Sendable`: `jobs` and `stopping` are touched only under `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once the jobs queued so far have run.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            let batch = jobs
            jobs = []
            condition.unlock()
            if batch.isEmpty { return }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

