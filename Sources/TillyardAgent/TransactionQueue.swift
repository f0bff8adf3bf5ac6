import Foundation
import SQLiteKit
import TillyardKit

/// The terminal's offline queue of transactions: a local SQLite file (`queue.sqlite`).
///
/// Exactly once rests on three rules: a transaction gets its id once, when it is recorded (never
/// at upload); it is written here, durably (`synchronous=FULL`), before the payment is reported as
/// done; and it is deleted only after the server answered it as stored or duplicate. A crash or a
/// lost answer at any point therefore leaves it queued, and the next upload sends the same id,
/// which the server recognises as a duplicate: nothing is lost and nothing is counted twice.
public final class TransactionQueue: Sendable {
    private let connection: SQLiteConnection
    private let database: any SQLDatabase

    private init(connection: SQLiteConnection) {
        self.connection = connection
        database = connection.sql()
    }

    /// Opens (creating if needed) the queue file at `path`.
    public static func open(path: String) async throws -> TransactionQueue {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        let queue = TransactionQueue(connection: connection)
        do {
            // WAL + FULL: a recorded transaction survives a power cut once `record` returned.
            _ = try await connection.query("PRAGMA journal_mode=WAL")
            _ = try await connection.query("PRAGMA synchronous=FULL")
            // `seq` keeps the order of recording, so uploads go oldest first even within one millisecond.
            try await queue.database.raw("""
                CREATE TABLE IF NOT EXISTS queue (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    body TEXT NOT NULL,
                    recorded_at REAL NOT NULL
                )
                """).run()
        } catch {
            try? await connection.close()
            throw error
        }
        return queue
    }

    /// Closes the file.
    public func close() async {
        try? await connection.close()
    }

    /// Writes a transaction to the queue; when this returns it is on disk.
    public func record(_ transaction: TerminalTransaction) async throws {
        let body = String(decoding: try WireJSON.encoder().encode(transaction), as: UTF8.self)
        try await database.raw("""
            INSERT INTO queue (id, body, recorded_at) VALUES (\(bind: transaction.id), \(bind: body), \(bind: transaction.at.timeIntervalSince1970))
            """).run()
    }

    /// The oldest `limit` transactions, in the order they were recorded.
    public func oldest(_ limit: Int) async throws -> [TerminalTransaction] {
        let rows = try await database.raw("SELECT body FROM queue ORDER BY seq LIMIT \(bind: limit)").all()
        let decoder = WireJSON.decoder()
        return try rows.map { try decoder.decode(TerminalTransaction.self, from: Data(try $0.decode(column: "body", as: String.self).utf8)) }
    }

    /// Removes the transactions the server has acknowledged (stored or duplicate).
    public func remove(ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await database.delete(from: "queue").where("id", .in, ids).run()
    }

    /// How many transactions wait to be uploaded.
    public func count() async throws -> Int {
        try await database.raw("SELECT COUNT(*) AS n FROM queue").first()?.decode(column: "n", as: Int.self) ?? 0
    }
}
