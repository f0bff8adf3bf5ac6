import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteKit
// sqlite-nio's own build of SQLite (its C target; every symbol prefixed `sqlite_nio_`): the library the
// rest of sqlite-nio uses, so there is one SQLite in the process and its file locks see each other.
internal import VaporCSQLite

/// An error SQLite answered on a direct connection (its message is SQLite's, e.g. "UNIQUE constraint failed: …").
struct SQLiteDirectError: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    var description: String { "SQLite error \(code): \(message)" }
}

/// A SQLite connection driven synchronously through SQLite's C API: statements are prepared once
/// per SQL text and kept, and run inline on the calling thread.
///
/// Why not sqlite-nio's `SQLiteConnection`: there every statement is a hop from the task to NIO's
/// thread pool and back (about three thread wake-ups, and one more per row on the future API), and
/// SQLite parses the statement text again each time. A sale ran about 20 statements through the
/// single writer, and those hops and parses were most of the serial writer's time.
///
/// `@unchecked Sendable`: its owner hands it to one task at a time (`SQLiteWriter`: its thread, one
/// batch at a time; `SQLiteReaders`: lent and given back); SQLite's own mutex (`SQLITE_OPEN_FULLMUTEX`) guards the handle besides.
final class SQLiteDirectConnection: @unchecked Sendable {
    /// A prepared statement and its result column names, read again only when SQLite re-prepared the
    /// statement for a schema change (a migration, maybe on another connection).
    private final class Prepared {
        let handle: OpaquePointer
        /// Its number of `?` parameters (SQLKit binds them all; fewer would leave the rest NULL).
        let parameters: Int
        private(set) var columns: [String] = []
        private var reprepared: Int32 = -1

        init(handle: OpaquePointer) {
            self.handle = handle
            parameters = Int(sqlite_nio_sqlite3_bind_parameter_count(handle))
            refreshColumns()
        }

        func refreshColumns() {
            let count = sqlite_nio_sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0)
            guard count != reprepared else { return }
            reprepared = count
            columns = (0..<sqlite_nio_sqlite3_column_count(handle)).map {
                sqlite_nio_sqlite3_column_name(handle, $0).map { String(cString: $0) } ?? ""
            }
        }
    }

    /// Distinct statements kept; beyond it the cache starts afresh (the product uses a few hundred).
    private static let cacheLimit = 500
    /// SQLITE_TRANSIENT (a C macro Swift cannot import): SQLite copies bound text and blobs.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    /// Run on every new connection. WAL lets readers run while the writer commits; `synchronous=FULL`
    /// makes every acknowledged commit survive power loss (never lose an acknowledged sale); foreign
    /// keys are off by default in SQLite.
    static let pragmas = ["PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"]

    /// Run on the single writer's connection only. `temp_store = MEMORY` keeps the sub-journal of the
    /// group commit's savepoints (and of multi-row statements) in memory: on a file it cost the writer
    /// a `pwrite` per page first changed in each savepoint, about a seventh of its time. It only ever
    /// serves to undo a savepoint of the open transaction, so durability is the WAL's, unchanged. Not on
    /// the readers: there it would hold a large sort's spill (an export of a million rows) in memory.
    static let writerPragmas = ["PRAGMA temp_store = MEMORY"]

    private var handle: OpaquePointer?
    private var cache: [String: Prepared] = [:]
    /// A statement that may change the schema, run once and finalized before the next one.
    private var oneOff: OpaquePointer?

    /// Opens `path` with `pragmas`, then `extraPragmas` (the writer's own).
    init(path: String, extraPragmas: [String] = []) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI
        let code = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open \(path)"
            sqlite_nio_sqlite3_close(handle)
            throw SQLiteDirectError(code: code, message: message)
        }
        self.handle = handle
        do {
            for pragma in Self.pragmas + extraPragmas { try execute(pragma, binds: []) { _ in } }
        } catch {
            close()
            throw error
        }
    }

    /// Runs one statement, handing each result row to `onRow`.
    func execute(_ sql: String, binds: [SQLiteData], onRow: (SQLiteDirectRow) -> Void) throws {
        let statement = try prepared(sql)
        let handle = statement.handle
        // Reset only: every run binds every parameter again. `sqlite3_clear_bindings` would expire the
        // statement whenever its plan looked at a bound value (SQLite 3.54 does for `column = ?` with an
        // ORDER BY), so each run would parse and plan it again.
        defer { sqlite_nio_sqlite3_reset(handle) }
        if binds.count != statement.parameters { sqlite_nio_sqlite3_clear_bindings(handle) }
        try bind(binds, to: handle)
        while true {
            let code = sqlite_nio_sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code) }
            statement.refreshColumns()
            onRow(SQLiteDirectRow(columns: statement.columns, values: (0..<Int32(statement.columns.count)).map { value(handle, $0) }))
        }
    }

    func close() {
        forget()
        if let handle { sqlite_nio_sqlite3_close(handle) }
        handle = nil
    }

    private func prepared(_ sql: String) throws -> Prepared {
        if let statement = cache[sql] { return statement }
        guard handle != nil else { throw SQLiteDirectError(code: SQLITE_MISUSE, message: "the connection is closed") }
        if let oneOff { sqlite_nio_sqlite3_finalize(oneOff) }
        oneOff = nil
        // A statement that may change the schema is not kept (and starts the cache afresh, cheaply).
        let keep = Self.isData(sql)
        if !keep || cache.count >= Self.cacheLimit { forget() }
        var statement: OpaquePointer?
        let code = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, keep ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code) }
        let prepared = Prepared(handle: statement)
        if keep { cache[sql] = prepared } else { oneOff = statement }
        return prepared
    }

    /// Finalizes every prepared statement.
    private func forget() {
        for statement in cache.values { sqlite_nio_sqlite3_finalize(statement.handle) }
        cache = [:]
        if let oneOff { sqlite_nio_sqlite3_finalize(oneOff) }
        oneOff = nil
    }

    /// Whether a statement only reads or writes rows (or controls the transaction), i.e. cannot change the schema.
    private static func isData(_ sql: String) -> Bool {
        let head = sql.drop { $0.isWhitespace }.prefix(10).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"].contains { head.hasPrefix($0) }
    }

    private func bind(_ binds: [SQLiteData], to statement: OpaquePointer) throws {
        for (index, value) in binds.enumerated() {
            let position = Int32(index + 1)
            let code: Int32
            switch value {
            case .integer(let integer):
                code = sqlite_nio_sqlite3_bind_int64(statement, position, Int64(integer))
            case .float(let double):
                code = sqlite_nio_sqlite3_bind_double(statement, position, double)
            case .text(let text):
                code = sqlite_nio_sqlite3_bind_text64(statement, position, text, UInt64(text.utf8.count), Self.transient, UInt8(SQLITE_UTF8))
            case .blob(let buffer):
                code = buffer.withUnsafeReadableBytes {
                    sqlite_nio_sqlite3_bind_blob64(statement, position, $0.baseAddress, UInt64($0.count), Self.transient)
                }
            case .null:
                code = sqlite_nio_sqlite3_bind_null(statement, position)
            }
            guard code == SQLITE_OK else { throw error(code) }
        }
    }

    private func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .integer(.init(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let bytes = sqlite_nio_sqlite3_column_blob(statement, column), count > 0 else { return .blob(ByteBuffer()) }
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            return .blob(buffer)
        default:
            return .null
        }
    }

    private func error(_ code: Int32) -> SQLiteDirectError {
        SQLiteDirectError(code: code, message: handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "SQLite error \(code)")
    }
}

/// A result row of a direct connection.
struct SQLiteDirectRow: SQLRow {
    /// One decoder for all rows: making one makes a JSONDecoder.
    private static let decoder = SQLiteDataDecoder()
    let columns: [String]
    let values: [SQLiteData]

    var allColumns: [String] { columns }

    func contains(column: String) -> Bool { columns.contains(column) }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.firstIndex(of: column) else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.firstIndex(of: column) else {
            throw DecodingError.keyNotFound(SQLiteDirectColumn(stringValue: column), .init(codingPath: [], debugDescription: "no column \(column)"))
        }
        let value = values[index]
        // The common column types directly: the decoder finds them by dynamic casts to a protocol,
        // which cost more than reading the row. Anything else (and any mismatch) takes the decoder.
        switch value {
        case .text(let text):
            if D.self == String.self { return unsafeBitCast(text, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.some(text), to: D.self) }
        case .integer(let integer):
            if D.self == Int64.self { return unsafeBitCast(Int64(integer), to: D.self) }
            if D.self == Int.self { return unsafeBitCast(integer, to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.some(Int64(integer)), to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.some(integer), to: D.self) }
        case .null:
            if D.self == String?.self { return unsafeBitCast(String?.none, to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.none, to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.none, to: D.self) }
        default:
            break
        }
        return try Self.decoder.decode(D.self, from: value)
    }
}

/// A column name as a coding key (for the error of a missing column).
private struct SQLiteDirectColumn: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// SQLKit over a direct connection: statements serialised with SQLite's dialect and run inline.
struct SQLiteDirectDatabase: SQLDatabase {
    /// One encoder for all statements: making one makes a JSONEncoder.
    private static let encoder = SQLiteDataEncoder()
    let connection: SQLiteDirectConnection
    let logger: Logger
    let eventLoop: any EventLoop

    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = serialize(query)
        try connection.execute(sql, binds: try binds.map(Self.data)) { onRow($0) }
    }

    /// A bound value as SQLite data: text and integers (most binds) by a cast to their concrete type,
    /// which is far cheaper than the encoder's cast to a protocol; the rest (nil, dates, JSON) by the
    /// encoder. The results are the same as the encoder's.
    private static func data(_ value: any Encodable) throws -> SQLiteData {
        if let text = value as? String { return .text(text) }
        if let integer = value as? Int64 { return .integer(Int(integer)) }
        if let integer = value as? Int { return .integer(integer) }
        return try encoder.encode(value)
    }
}
