import Foundation
import SQLKit
import TillyardKit

/// One schema change. Migrations are append-only: once released, a migration's statements never
/// change (the stored checksum catches an edit); the next change is a new migration.
public struct Migration: Sendable {
    /// Work of a migration that SQL cannot express, e.g. data recomputed by the domain's Swift rules.
    public typealias Step = @Sendable (any SQLDatabase) async throws -> Void

    public let version: Int
    public let name: String
    /// Portable DDL (see `Dialect.ddl`), run in order inside one transaction.
    public let statements: [String]
    /// Run after the statements, in the same transaction (a failure undoes them too). It calls the
    /// code of the running release, so it is not in the checksum: it must stay correct for any
    /// database at this version (rebuilding derived rows from their source is; editing stored
    /// data by a rule that later changes is not).
    public let step: Step?

    public init(version: Int, name: String, statements: [String], step: Step? = nil) {
        self.version = version
        self.name = name
        self.statements = statements
        self.step = step
    }

    /// SHA-256 of the statements, stored to detect edited migrations.
    var checksum: String { Secrets.sha256(statements.joined(separator: ";\n")) }
}

/// What `migrate` found or did.
public struct MigrationReport: Sendable, Equatable {
    public var applied: [String]
    public var pending: [String]
}

/// Applies the registered migrations in version order, each in its own transaction.
public struct Migrator: Sendable {
    /// Every migration of the product, in order. New ones are appended here.
    public static let all: [Migration] = [
        Migration0001Access.migration,
        Migration0002Estate.migration,
        Migration0003UsageLog.migration,
        Migration0004Purchases.migration,
        Migration0005Merchants.migration,
        Migration0006TerminalSearchIndexes.migration,
        Migration0007Catalog.migration,
        Migration0008Sales.migration,
        Migration0009Promotions.migration,
        Migration0010Fleet.migration,
        Migration0011FleetOperations.migration,
        Migration0012ProductWordTerms.migration,
        Migration0013Campaigns.migration,
        Migration0014Members.migration,
        Migration0015Service.migration,
        Migration0016Risk.migration,
        Migration0017Reports.migration,
        Migration0018ServiceDesk2.migration,
        Migration0020SecurityEventRepeats.migration,
        Migration0021ReportMerchantCovering.migration,
        Migration0022ProductTermCounts.migration,
    ]

    let database: Database
    let migrations: [Migration]

    public init(database: Database, migrations: [Migration] = Migrator.all) {
        self.database = database
        self.migrations = migrations
    }

    /// Names of migrations not yet applied. Fails if an applied migration was edited.
    public func pending() async throws -> [Migration] {
        try await ensureTable()
        let applied = try await database.session { db in
            try await db.raw("SELECT version, checksum FROM schema_migrations").all().map {
                (try $0.decode(column: "version", as: Int.self), try $0.decode(column: "checksum", as: String.self))
            }
        }
        let known = Dictionary(uniqueKeysWithValues: applied)
        for migration in migrations {
            if let checksum = known[migration.version], checksum != migration.checksum {
                throw DomainError.conflict("migration \(migration.version) \(migration.name) was changed after it was applied; migrations are append-only")
            }
        }
        if let newest = known.keys.max(), newest > (migrations.map(\.version).max() ?? 0) {
            throw DomainError.conflict("the database has migration \(newest), newer than this version of Tillyard knows; upgrade Tillyard")
        }
        return migrations.filter { known[$0.version] == nil }
    }

    /// Applies pending migrations; returns what it applied.
    @discardableResult
    public func migrate(now: Date = Date()) async throws -> MigrationReport {
        let todo = try await pending()
        for migration in todo {
            let backend = database.backend
            try await database.transaction { db in
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(Dialect.ddl(statement, for: backend))).run()
                }
                try await migration.step?(db)
                try await db.raw("""
                    INSERT INTO schema_migrations (version, name, checksum, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: migration.checksum), \(bind: now.millis))
                    """).run()
            }
            database.logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
        return MigrationReport(applied: todo.map { "\($0.version) \($0.name)" }, pending: [])
    }

    private func ensureTable() async throws {
        try await database.transaction { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """).run()
        }
    }
}
