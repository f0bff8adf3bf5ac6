import Foundation
import SQLKit
import Testing
import TillyardKit
@testable import TillyardStore
import TillyardTestSupport

/// Schema migrations on both engines: nothing pending after opening, edited or unknown
/// migrations refused, re-running harmless, and a failing migration leaves no trace.
@Suite struct MigratorTests {
    static func appliedVersions(_ database: Database) async throws -> [Int] {
        try await database.session { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                try $0.decode(column: "version", as: Int.self)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func freshDatabaseHasNoPendingMigrations(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            #expect(try await Migrator(database: database).pending().isEmpty)
            #expect(try await Self.appliedVersions(database) == Migrator.all.map(\.version))
            // The schema is really there: every table of migration 1 answers.
            for table in ["organizations", "users", "sessions", "api_tokens", "audit_events", "idempotency_keys"] {
                let count = try await database.session { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int.self)
                }
                #expect(count == 0, "table \(table)")
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func migrateIsIdempotent(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let migrator = Migrator(database: database)
            let again = try await migrator.migrate()
            #expect(again.applied.isEmpty)
            #expect(again.pending.isEmpty)
            let third = try await migrator.migrate()
            #expect(third.applied.isEmpty)
            #expect(try await Self.appliedVersions(database) == Migrator.all.map(\.version))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func editedMigrationIsAConflict(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            try await database.session { db in try await db.raw("UPDATE schema_migrations SET checksum = 'x'").run() }
            let migrator = Migrator(database: database)
            let error = await #expect(throws: DomainError.self) { try await migrator.pending() }
            #expect(error?.isConflict == true)
            #expect(error?.message.contains("migration 1 access was changed after it was applied") == true, "\(String(describing: error))")
            await #expect(throws: DomainError.self) { try await migrator.migrate() }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func databaseNewerThanTheCodeIsAConflict(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            try await database.session { db in
                try await db.raw("""
                    INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'abc', 0)
                    """).run()
            }
            let error = await #expect(throws: DomainError.self) { try await Migrator(database: database).pending() }
            #expect(error?.isConflict == true)
            #expect(error?.message.contains("newer than this version of Tillyard knows") == true, "\(String(describing: error))")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func newMigrationIsAppliedOnceAndRecorded(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let next = (Migrator.all.map(\.version).max() ?? 0) + 1
            let extra = Migration(version: next, name: "extra", statements: [
                "CREATE TABLE extra_things (id TEXT PRIMARY KEY, path {PATH} NOT NULL)",
                "INSERT INTO extra_things (id, path) VALUES ('a', '/a/')",
            ])
            let migrator = Migrator(database: database, migrations: Migrator.all + [extra])
            #expect(try await migrator.pending().map(\.version) == [next])
            let report = try await migrator.migrate()
            #expect(report.applied == ["\(next) extra"])
            #expect(try await migrator.pending().isEmpty)
            #expect(try await migrator.migrate().applied.isEmpty)
            #expect(try await Self.appliedVersions(database) == Migrator.all.map(\.version) + [next])
            let rows = try await database.session { db in
                try await db.raw("SELECT COUNT(*) AS n FROM extra_things").first()?.decode(column: "n", as: Int.self)
            }
            #expect(rows == 1, "statements ran exactly once")
            // The released code, which does not know the extra migration, now refuses this database.
            await #expect(throws: DomainError.self) { try await Migrator(database: database).pending() }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func failingMigrationIsRolledBackEntirely(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let next = (Migrator.all.map(\.version).max() ?? 0) + 1
            let broken = Migration(version: next, name: "broken", statements: [
                "CREATE TABLE half_done (id TEXT PRIMARY KEY)",
                "INSERT INTO half_done (id) VALUES ('x')",
                "THIS IS NOT SQL",
            ])
            let migrator = Migrator(database: database, migrations: Migrator.all + [broken])
            await #expect(throws: (any Error).self) { try await migrator.migrate() }
            let applied = try await Self.appliedVersions(database)
            #expect(applied == Migrator.all.map(\.version))
            let pending = try await migrator.pending().map(\.version)
            #expect(pending == [next], "still pending, so a fixed release can apply it")
            // DDL is transactional on both engines: the table of the first statement is gone too.
            await #expect(throws: (any Error).self) {
                try await database.session { db in try await db.raw("SELECT COUNT(*) AS n FROM half_done").run() }
            }
        }
    }

    /// A migration's Swift step runs once, after its statements and in their transaction: it sees
    /// their work, and when it fails nothing of the migration stays. The checksum covers the SQL only.
    @Test(arguments: TestBackend.allCases)
    func swiftStepRunsInTheMigrationsTransaction(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let next = (Migrator.all.map(\.version).max() ?? 0) + 1
            let statements = ["CREATE TABLE stepped (id TEXT PRIMARY KEY)", "INSERT INTO stepped (id) VALUES ('sql')"]
            struct Refused: Error {}
            let failing = Migration(version: next, name: "stepped", statements: statements) { db in
                try await db.raw("INSERT INTO stepped (id) VALUES ('swift')").run()
                throw Refused()
            }
            await #expect(throws: Refused.self) { try await Migrator(database: database, migrations: Migrator.all + [failing]).migrate() }
            #expect(try await Self.appliedVersions(database) == Migrator.all.map(\.version))
            await #expect(throws: (any Error).self) {
                try await database.session { db in try await db.raw("SELECT COUNT(*) AS n FROM stepped").run() }
            }

            let working = Migration(version: next, name: "stepped", statements: statements) { db in
                let sql = try await db.raw("SELECT COUNT(*) AS n FROM stepped").first()?.decode(column: "n", as: Int.self)
                try await db.raw("INSERT INTO stepped (id) VALUES (\(bind: "swift after \(sql ?? -1)"))").run()
            }
            #expect(working.checksum == failing.checksum && working.checksum == Migration(version: next, name: "x", statements: statements).checksum)
            let migrator = Migrator(database: database, migrations: Migrator.all + [working])
            #expect(try await migrator.migrate().applied == ["\(next) stepped"])
            #expect(try await migrator.migrate().applied.isEmpty, "the step runs once, with its migration")
            let ids = try await database.session { db in
                try await db.raw("SELECT id FROM stepped ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
            }
            #expect(ids == ["sql", "swift after 1"])
        }
    }
}
