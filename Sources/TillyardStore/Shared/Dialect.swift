import Foundation
import PostgresKit
import SQLKit
import SQLiteKit
import TillyardKit

/// The few places where SQLite and PostgreSQL differ, in one helper.
enum Dialect {
    /// Rewrites portable DDL: `{PATH}` becomes a text type compared byte-wise on both engines,
    /// which the subtree range queries (`path >= prefix AND path < bound`) rely on.
    static func ddl(_ statement: String, for backend: SQLBackend) -> String {
        switch backend {
        case .sqlite:
            return statement.replacingOccurrences(of: "{PATH}", with: "TEXT")
        case .postgres:
            return statement.replacingOccurrences(of: "{PATH}", with: "TEXT COLLATE \"C\"")
        }
    }

    /// Whether an error is a unique-constraint violation (a duplicate).
    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? SQLiteError {
            return error.message.contains("UNIQUE constraint failed") || error.message.contains("PRIMARY KEY")
        }
        if let error = error as? SQLiteDirectError {
            return error.message.contains("UNIQUE constraint failed") || error.message.contains("PRIMARY KEY")
        }
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState] == "23505"
        }
        return false
    }

    /// Whether the engine estimates how many rows a range condition holds and so chooses by itself
    /// between the range's index and a walk in another index's order: PostgreSQL keeps a histogram
    /// per column; SQLite (built without STAT4) assumes every range holds a fixed share of the table.
    static func estimatesRanges(_ backend: SQLBackend) -> Bool {
        backend == .postgres
    }

    /// Whether statements run inside our process (SQLite) rather than a round trip away on a server
    /// (PostgreSQL): in process, several small statements that each read less cost less than one that
    /// reads more; against a server each statement costs a round trip (and, on a busy machine, a wait
    /// for the CPU at each end).
    static func runsInProcess(_ backend: SQLBackend) -> Bool {
        backend == .sqlite
    }

    /// Serialises appenders of a hash chain inside the current transaction. SQLite's
    /// `BEGIN IMMEDIATE` already holds the only write lock; PostgreSQL needs an explicit lock.
    static func lockChain(_ db: any SQLDatabase, backend: SQLBackend, key: Int64) async throws {
        guard backend == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(\(bind: key))").run()
    }

    /// An aggregate joining a group's text values with `separator` (in no particular order).
    static func joined(_ expression: String, separator: String, backend: SQLBackend) -> String {
        switch backend {
        case .sqlite: return "group_concat(\(expression), '\(separator)')"
        case .postgres: return "string_agg(\(expression), '\(separator)')"
        }
    }

    /// Serialises, inside the current transaction, the writers of one named thing (`space` tells kinds
    /// of things apart; the name is hashed by the server, so every node takes the same lock). A no-op on
    /// SQLite, whose `BEGIN IMMEDIATE` already holds the only write lock.
    static func lock(_ db: any SQLDatabase, backend: SQLBackend, space: Int32, name: String) async throws {
        guard backend == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(\(bind: space), hashtext(\(bind: name)))").run()
    }
}

/// The range of materialised paths inside a subtree: `[prefix, bound)`.
///
/// Paths end in "/", and "0" is the byte right after "/", so replacing the final "/" gives
/// the exclusive upper bound. A range (unlike `LIKE`) uses the index on both engines.
struct Subtree {
    let lower: String
    let upper: String

    init(_ path: String) {
        lower = path
        upper = path.hasSuffix("/") ? String(path.dropLast()) + "0" : path + "\u{10FFFF}"
    }

    private init(lower: String, upper: String) {
        self.lower = lower
        self.upper = upper
    }

    /// Every text starting with `prefix` (byte order), for prefix search on a `{PATH}`-typed column.
    static func prefixRange(_ prefix: String) -> Subtree {
        Subtree(lower: prefix, upper: prefix + "\u{10FFFF}")
    }
}

extension SQLRow {
    /// Decodes an optional epoch-millisecond column as a date.
    func date(_ column: String) throws -> Date? {
        try decode(column: column, as: Int64?.self).map(EpochMillis.date)
    }

    /// Decodes a required epoch-millisecond column as a date.
    func requiredDate(_ column: String) throws -> Date {
        EpochMillis.date(try decode(column: column, as: Int64.self))
    }

    /// Decodes a raw-value enum column, failing loudly on values this version does not know.
    func enumValue<E: RawRepresentable>(_ column: String, as type: E.Type) throws -> E where E.RawValue == String {
        let raw = try decode(column: column, as: String.self)
        guard let value = E(rawValue: raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown \(E.self) '\(raw)' in column \(column)"))
        }
        return value
    }
}

extension Optional where Wrapped == Date {
    /// Epoch milliseconds for an optional date column.
    var millis: Int64? { self.map(EpochMillis.from) }
}

extension Date {
    /// Epoch milliseconds for a date column.
    var millis: Int64 { EpochMillis.from(self) }
}
