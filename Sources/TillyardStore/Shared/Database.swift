@preconcurrency import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import TillyardKit

/// Where the data lives: an embedded SQLite file (the default, no set-up) or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// The location for a data folder and an optional `postgres://` URL (which wins when given).
    public static func resolve(dataDirectory: String, databaseURL: String?) throws -> DatabaseLocation {
        if let url = databaseURL, !url.isEmpty {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw DomainError.invalid("database-url", "must start with postgres:// (SQLite needs no URL: use --data-dir)")
            }
            return .postgres(url: url)
        }
        return .sqlite(path: URL(fileURLWithPath: dataDirectory).appendingPathComponent("tillyard.sqlite").path)
    }

    /// Text for logs: the SQLite path, or the Postgres URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres:(unparseable url)" }
            if components.password != nil { components.password = "***" }
            return components.string ?? "postgres"
        }
    }
}

/// Which SQL engine a database is.
public enum SQLBackend: String, Sendable {
    case sqlite
    case postgres
}

/// The pooled database behind the repositories, for either backend.
///
/// On SQLite all writes go through a single connection (`SQLiteWriter`, fed by `GroupCommit`): SQLite
/// allows one writer at a time anyway, and queueing in-process is far cheaper than retrying on
/// SQLITE_BUSY. Reads use separate connections (`SQLiteReaders`) and proceed concurrently thanks to WAL.
/// Both drive SQLite directly (`SQLiteDirectConnection`), not through sqlite-nio's thread pool.
///
/// `@unchecked Sendable`: the AsyncKit pools predate strict concurrency but guard their state with
/// a lock and are documented as safe to share across threads; every stored property is a `let`.
public final class Database: @unchecked Sendable {
    public let backend: SQLBackend
    public let location: DatabaseLocation
    let logger: Logger
    private let sqliteReaders: SQLiteReaders?
    private let sqliteWriter: SQLiteWriter?
    private let postgres: EventLoopGroupConnectionPool<PostgresConnectionSource>?
    /// The SQLite writer's queue of transactions (nil on PostgreSQL, which commits concurrently on its own).
    private let groupCommit: GroupCommit?

    private init(location: DatabaseLocation, backend: SQLBackend, logger: Logger,
                 sqliteReaders: SQLiteReaders?, sqliteWriter: SQLiteWriter?,
                 postgres: EventLoopGroupConnectionPool<PostgresConnectionSource>?, groupCommit: Bool) {
        self.location = location
        self.backend = backend
        self.logger = logger
        self.sqliteReaders = sqliteReaders
        self.sqliteWriter = sqliteWriter
        self.postgres = postgres
        // Without group commit every transaction is a batch of its own (its own COMMIT), through the same queue.
        self.groupCommit = sqliteWriter.map { GroupCommit(writer: $0, maxBatch: groupCommit ? GroupCommit.maxBatch : 1) }
    }

    /// Opens (and for SQLite creates) the database and checks that it answers.
    ///
    /// `groupCommit: false` gives every SQLite transaction its own COMMIT, as before group commit
    /// existed (benchmarks measure the difference); PostgreSQL ignores it.
    public static func open(_ location: DatabaseLocation, logger: Logger = Logger(label: "tillyard.db"),
                            maxConnections: Int = 8, groupCommit: Bool = true) async throws -> Database {
        let group = MultiThreadedEventLoopGroup.singleton
        let database: Database
        switch location {
        case .sqlite(let path):
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            // The writer first: it creates the file and switches it to WAL before any reader opens it.
            let writer = try SQLiteWriter(path: path, logger: logger, eventLoop: group.next())
            let readers = SQLiteReaders(path: path, logger: logger, eventLoop: group.next())
            database = Database(location: location, backend: .sqlite, logger: logger,
                                sqliteReaders: readers, sqliteWriter: writer, postgres: nil, groupCommit: groupCommit)
        case .postgres(let url):
            var configuration: SQLPostgresConfiguration
            do {
                configuration = try SQLPostgresConfiguration(url: url)
            } catch {
                throw DomainError.invalid("database-url", "is not a valid postgres:// URL")
            }
            // No JIT compilation on our connections: every statement is a short lookup, and the server
            // compiles any plan its cost model prices above `jit_above_cost`, however few rows it reads. A
            // catalog search that reads ~4,000 postings took 21 ms instead of 4.5, 16.6 of them compiling
            // (`EXPLAIN (ANALYZE)` at 1,000,000 products, bench/README.md).
            configuration.coreConfiguration.options.additionalStartupParameters.append(("jit", "off"))
            let pool = EventLoopGroupConnectionPool(source: PostgresConnectionSource(sqlConfiguration: configuration),
                                                    maxConnectionsPerEventLoop: max(1, maxConnections / max(1, group.makeIterator().map { $0 }.count)),
                                                    requestTimeout: .seconds(30), pruneInterval: .seconds(60), logger: logger, on: group)
            database = Database(location: location, backend: .postgres, logger: logger,
                                sqliteReaders: nil, sqliteWriter: nil, postgres: pool, groupCommit: false)
        }
        do {
            try await database.session { try await $0.raw("SELECT 1").run() }
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    /// Runs work on one connection (no transaction).
    public func session<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let sqliteReaders {
            return try await sqliteReaders.run(work)
        }
        return try await Self.run(postgres!, work)
    }

    /// Runs work in one transaction on one connection: committed when it returns, rolled back when it throws.
    ///
    /// On SQLite, transactions of concurrent callers are committed together (`GroupCommit`): each
    /// still sees the effects of the ones before it and is undone alone when it throws, and each
    /// caller is answered only after the shared COMMIT is durable.
    public func transaction<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let groupCommit {
            return try await groupCommit.transaction(work)
        }
        let body: @Sendable (any SQLDatabase) async throws -> T = { db in
            try await db.raw("BEGIN").run()
            do {
                let result = try await work(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
        return try await Self.run(postgres!, body)
    }

    private static func run<T: Sendable>(_ pool: EventLoopGroupConnectionPool<PostgresConnectionSource>,
                                         _ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await pool.withConnection { connection in
            connection.eventLoop.makeFutureWithTask { try await work(connection.sql(queryLogLevel: nil)) }
        }.get()
    }

    /// Closes every connection.
    public func close() async {
        sqliteReaders?.close()
        await sqliteWriter?.close()
        if let postgres { try? await postgres.shutdownAsync() }
    }
}
