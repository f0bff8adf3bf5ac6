import Foundation
import Logging
import NIOCore
import SQLKit

/// SQLite's read connections (WAL lets them read beside the writer), each lent to one task at a time
/// and driven inline on that task's thread (`SQLiteDirectConnection`: no thread hop per statement).
///
/// A connection is opened when none is free and kept afterwards, up to `keepIdle`; so there are as
/// many as there are reads at once, which is about the number of threads running them (a read does
/// not suspend between its statements).
final class SQLiteReaders: @unchecked Sendable {
    /// Free connections kept for the next reads; more are closed when given back.
    static let keepIdle = 16

    private let path: String
    private let logger: Logger
    private let eventLoop: any EventLoop
    // `@unchecked Sendable`: `idle` and `closed` are touched only under `lock`.
    private let lock = NSLock()
    private var idle: [SQLiteDirectConnection] = []
    private var closed = false

    init(path: String, logger: Logger, eventLoop: any EventLoop) {
        self.path = path
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Runs work with a free connection (opened if none is), outside any transaction.
    func run<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try lock.withLock { idle.popLast() } ?? SQLiteDirectConnection(path: path)
        defer { giveBack(connection) }
        return try await work(SQLiteDirectDatabase(connection: connection, logger: logger, eventLoop: eventLoop))
    }

    /// Closes the free connections; those lent out close when they come back.
    func close() {
        let free = lock.withLock { () -> [SQLiteDirectConnection] in
            closed = true
            defer { idle = [] }
            return idle
        }
        for connection in free { connection.close() }
    }

    private func giveBack(_ connection: SQLiteDirectConnection) {
        let kept = lock.withLock { () -> Bool in
            guard !closed, idle.count < Self.keepIdle else { return false }
            idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }
}
