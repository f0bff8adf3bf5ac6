import Foundation
import Logging
import TillyardKit
import TillyardServer
import TillyardStore

/// The database engines every repository suite runs against.
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }
}

/// Fresh, migrated databases for tests: a temp SQLite file, or a new database on the
/// throwaway PostgreSQL server (`PostgresCluster`).
public enum TestDatabase {
    /// A fresh, empty place for a database: a new temp SQLite path, or a new database on the
    /// throwaway PostgreSQL server. Nil for PostgreSQL when no server is available, unless
    /// `TILLYARD_REQUIRE_POSTGRES=1` (set by CI), which turns that into a failure.
    public static func freshLocation(_ backend: TestBackend) async throws -> DatabaseLocation? {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-test-\(UUID().uuidString)")
            return .sqlite(path: folder.appendingPathComponent("tillyard.sqlite").path)
        case .postgres:
            guard let url = try await PostgresCluster.freshDatabaseURL() else {
                if ProcessInfo.processInfo.environment["TILLYARD_REQUIRE_POSTGRES"] == "1" {
                    throw PostgresClusterError("TILLYARD_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: \(await PostgresCluster.unavailableReason ?? "unknown")")
                }
                return nil
            }
            return .postgres(url: url + "?sslmode=disable")
        }
    }

    /// Opens a fresh migrated database (nil when the backend is unavailable; see `freshLocation`).
    public static func open(_ backend: TestBackend) async throws -> Database? {
        var logger = Logger(label: "tillyard.test")
        logger.logLevel = .warning
        guard let location = try await freshLocation(backend) else { return nil }
        let database = try await Database.open(location, logger: logger, maxConnections: 4)
        do {
            try await Migrator(database: database).migrate()
        } catch {
            // A pool must be shut down before it is released, even when migrating failed.
            await Self.close(database)
            throw error
        }
        return database
    }

    /// Runs `body` with a fresh database of the backend, then closes it and removes SQLite files.
    /// Does nothing when the backend is unavailable (see `open`).
    public static func with(_ backend: TestBackend, _ body: (Database) async throws -> Void) async throws {
        // Swift Testing runs every case at once; bound how many PostgreSQL databases (each with
        // its pool) are open together so the suite never runs the server out of connections.
        let slots: AsyncSemaphore? = backend == .postgres ? postgresSlots : nil
        await slots?.acquire()
        do {
            if let database = try await open(backend) {
                do {
                    try await body(database)
                } catch {
                    await Self.close(database)
                    throw error
                }
                await Self.close(database)
            }
        } catch {
            await slots?.release()
            throw error
        }
        await slots?.release()
    }

    /// At most this many PostgreSQL test databases are open at once (4 connections each, well
    /// under the throwaway server's `max_connections`).
    static let postgresSlots = AsyncSemaphore(permits: 12)

    /// Closes a test database and deletes its SQLite folder.
    public static func close(_ database: Database) async {
        await database.close()
        if case .sqlite(let path) = database.location {
            try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent())
        }
        // Uploaded documents of services built without an explicit folder.
        try? FileManager.default.removeItem(at: AppServices.defaultDocumentsFolder(for: database))
    }
}

/// A counting semaphore for async code: waiters resume in arrival order.
actor AsyncSemaphore {
    private var permits: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { self.permits = permits }

    func acquire() async {
        if permits > 0 {
            permits -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            permits += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// A clock tests can move.
public final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) { current = start }

    /// Moves time forward.
    public func advance(_ seconds: TimeInterval) {
        lock.lock(); defer { lock.unlock() }
        current = current.addingTimeInterval(seconds)
    }

    /// The clock to hand to services.
    public var clock: Clock { Clock { [self] in self.lock.lock(); defer { self.lock.unlock() }; return self.current } }
}
