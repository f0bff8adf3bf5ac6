import Crypto
import Foundation
import Logging
import SQLKit
import TillyardKit

/// What a restore put back.
public struct RestoreReport: Sendable {
    public var manifest: BackupManifest
    /// Files written into the data folder (the database excluded).
    public var files: Int
    /// Audit events verified in the restored database.
    public var auditLength: Int64
    /// Whether an installation key was checked and put into `<data dir>/keys/account.key`.
    public var keyRestored: Bool
}

/// Restores a backup archive into an empty data folder (and, for a PostgreSQL backup, an empty
/// database). Nothing is trusted before it is checked: every member is extracted into a hidden
/// folder beside the target while its SHA-256 is computed, compared with the manifest, the database
/// is opened and its audit chain verified against the manifest's head; only then is the folder
/// renamed into place. Any failure removes the hidden folder (and empties the PostgreSQL database
/// again), so nothing half-written is left behind.
public enum ArchiveRestore {
    /// Restores `archive` into `target`. `databaseURL` names the empty PostgreSQL database a
    /// PostgreSQL backup goes into. `installationKey` (a 32-byte key file) is checked against the
    /// manifest and written to `keys/account.key`.
    public static func restore(_ archive: URL, into target: URL, databaseURL: String? = nil, installationKey: URL? = nil,
                               logger: Logger = Logger(label: "tillyard.restore")) async throws -> RestoreReport {
        try requireEmpty(target)
        let key = try installationKey.map(readKey)
        let parent = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).restoring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        do {
            let (manifest, found) = try extract(archive, into: staging)
            try manifest.checkReadable(knownMigration: Migrator.all.map(\.version).max() ?? 0)
            try check(found, against: manifest)
            if let key {
                guard let expected = manifest.installationKeyCheck else {
                    throw BackupError(.failed, "the archive records no installation key check, so the key given cannot be checked; copy it by hand")
                }
                guard BackupManifest.keyCheck(key) == expected else {
                    throw BackupError(.failed, "the installation key given is not the one this backup was made with")
                }
            }
            let auditLength: Int64
            switch (manifest.backend, databaseURL) {
            case ("sqlite", nil):
                auditLength = try await verifySQLite(staging.appendingPathComponent(BackupManifest.sqliteMember), manifest: manifest, logger: logger)
            case ("postgres", let url?):
                let dump = staging.appendingPathComponent(BackupManifest.postgresMember)
                auditLength = try await restorePostgres(dump, url: url, manifest: manifest, logger: logger)
                try FileManager.default.removeItem(at: dump)
            case ("sqlite", _?):
                throw BackupError(.failed, "this archive holds an SQLite database: restore it without --database-url")
            case ("postgres", nil):
                throw BackupError(.failed, "this archive holds a PostgreSQL dump: give the empty database to restore into with --database-url")
            default:
                throw BackupError(.corrupt, "corrupt archive: unknown backend \(manifest.backend)")
            }
            if let key {
                let keys = staging.appendingPathComponent("keys")
                try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                guard FileManager.default.createFile(atPath: keys.appendingPathComponent("account.key").path, contents: key,
                                                     attributes: [.posixPermissions: 0o600]) else {
                    throw BackupError(.failed, "cannot write \(keys.path)/account.key")
                }
            }
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try BackupFiles.moveIntoPlace(staging, target)
            return RestoreReport(manifest: manifest, files: found.count - 1, auditLength: auditLength, keyRestored: key != nil)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
    }

    /// A missing folder or an empty one; anything else is refused.
    static func requireEmpty(_ target: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target.path, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else { throw BackupError(.notEmpty, "\(target.path) is a file: restore into a new or empty folder") }
        let contents = try FileManager.default.contentsOfDirectory(atPath: target.path)
        guard contents.isEmpty else {
            throw BackupError(.notEmpty, "the data folder \(target.path) is not empty (\(contents.count) entries): restore only into a new or empty folder")
        }
    }

    static func readKey(_ file: URL) throws -> Data {
        guard let key = FileManager.default.contents(atPath: file.path) else { throw BackupError(.failed, "cannot read the key file \(file.path)") }
        if key.count == 32 { return key }
        // Also accept the 64 hex characters of TILLYARD_ACCOUNT_KEY saved to a file.
        if let text = String(data: key, encoding: .utf8), let decoded = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)),
           decoded.count == 32 {
            return decoded
        }
        throw BackupError(.failed, "\(file.path) is not an installation key (32 bytes, or 64 hexadecimal characters)")
    }

    /// Extracts every member into `staging`, hashing as it goes; returns the manifest and what was found.
    static func extract(_ archive: URL, into staging: URL) throws -> (BackupManifest, [String: (size: Int64, sha256: String)]) {
        let input: FileHandle
        do {
            input = try FileHandle(forReadingFrom: archive)
        } catch {
            throw BackupError(.failed, "cannot read the archive \(archive.path)")
        }
        defer { try? input.close() }
        let reader = TarReader(input: input)
        var found: [String: (size: Int64, sha256: String)] = [:]
        var manifestData: Data?
        while let entry = try reader.next() {
            guard entry.isFile else { continue }
            let path = try safePath(entry.path)
            guard found[path] == nil, !(path == BackupManifest.memberName && manifestData != nil) else {
                throw BackupError(.corrupt, "corrupt archive: \(path) appears twice")
            }
            if path == BackupManifest.memberName {
                guard entry.size <= 64 << 20 else { throw BackupError(.corrupt, "corrupt archive: manifest.json is implausibly large") }
                var data = Data()
                try reader.readBody { data.append($0) }
                manifestData = data
                continue
            }
            let file = staging.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw BackupError(.failed, "cannot write \(file.path)")
            }
            let output = try FileHandle(forWritingTo: file)
            var hasher = SHA256()
            do {
                try reader.readBody { data in
                    hasher.update(data: data)
                    try output.write(contentsOf: data)
                }
                try output.synchronize()
                try output.close()
            } catch {
                try? output.close()
                throw error
            }
            found[path] = (entry.size, Hex.string(hasher.finalize()))
        }
        guard let manifestData else { throw BackupError(.corrupt, "not a Tillyard backup: the archive has no manifest.json (truncated or another file)") }
        return (try BackupManifest.decode(manifestData), found)
    }

    /// A member path that stays inside the data folder and is not a key.
    static func safePath(_ raw: String) throws -> String {
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false)
        guard !raw.hasPrefix("/"), !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") }),
              parts.first != "keys" else {
            throw BackupError(.corrupt, "corrupt archive: refused member path \(raw)")
        }
        return raw
    }

    /// Every listed file present with its size and SHA-256, nothing unlisted.
    static func check(_ found: [String: (size: Int64, sha256: String)], against manifest: BackupManifest) throws {
        var unlisted = Set(found.keys)
        for file in manifest.files {
            guard let actual = found[file.path] else {
                throw BackupError(.checksum, "the archive is missing \(file.path), which its manifest lists")
            }
            guard actual.size == file.size, actual.sha256 == file.sha256 else {
                throw BackupError(.checksum, "checksum mismatch: \(file.path) (manifest: \(file.size) bytes, SHA-256 \(file.sha256); "
                                  + "archive: \(actual.size) bytes, SHA-256 \(actual.sha256))")
            }
            unlisted.remove(file.path)
        }
        if let stray = unlisted.sorted().first { throw BackupError(.corrupt, "corrupt archive: \(stray) is not listed in the manifest") }
        guard manifest.files.contains(where: { $0.path == manifest.database }) else {
            throw BackupError(.corrupt, "corrupt archive: the manifest lists no database file")
        }
    }

    /// The restored chain must verify and end where the manifest says.
    static func checkAudit(_ result: AuditVerification, manifest: BackupManifest) throws {
        if let broken = result.firstBreak {
            throw BackupError(.auditChain, "the audit chain in the backup is broken at event \(broken.seq): \(broken) "
                              + "(\(result.checked) events before it verify); refusing to restore it")
        }
        guard result.checked == manifest.audit.length, result.headHash == manifest.audit.headHash else {
            throw BackupError(.auditChain, "the audit chain in the backup ends at event \(result.checked) with hash \(result.headHash), "
                              + "but the manifest records \(manifest.audit.length) events ending in \(manifest.audit.headHash)")
        }
    }

    static func verifySQLite(_ file: URL, manifest: BackupManifest, logger: Logger) async throws -> Int64 {
        let database: Database
        do {
            database = try await Database.open(.sqlite(path: file.path), logger: logger, maxConnections: 1)
        } catch {
            throw BackupError(.corrupt, "corrupt archive: the database file cannot be opened (\(error))")
        }
        // Closed exactly once, before any verdict: a closed SQLite writer cannot be closed again.
        let facts: (String?, AuditVerification)
        do {
            facts = try await database.session { db in
                (try await db.raw("PRAGMA quick_check").first()?.decode(column: "quick_check", as: String.self),
                 try await BackupAuditCheck.verify(db, backend: .sqlite))
            }
        } catch {
            await database.close()
            throw error
        }
        await database.close()
        guard facts.0 == "ok" else { throw BackupError(.corrupt, "corrupt archive: the database fails SQLite's check: \(facts.0 ?? "no answer")") }
        try checkAudit(facts.1, manifest: manifest)
        return facts.1.checked
    }

    static func restorePostgres(_ dump: URL, url: String, manifest: BackupManifest, logger: Logger) async throws -> Int64 {
        let database = try await Database.open(.postgres(url: url), logger: logger, maxConnections: 1)
        do {
            let tables = try await userTables(database)
            guard tables.isEmpty else {
                throw BackupError(.notEmpty, "the database \(DatabaseLocation.postgres(url: url)) is not empty (\(tables.count) tables): "
                                  + "restore only into a new, empty database")
            }
            do {
                try await PostgresTools.run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                                           dump.path], url: url)
                let result = try await database.session { try await BackupAuditCheck.verify($0, backend: .postgres) }
                try checkAudit(result, manifest: manifest)
                await database.close()
                return result.checked
            } catch {
                // The database was empty before: take it back to empty.
                let restored = (try? await userTables(database)) ?? []
                for table in restored {
                    _ = try? await database.session { db in try await db.raw("DROP TABLE IF EXISTS \(ident: table) CASCADE").run() }
                }
                throw error
            }
        } catch {
            await database.close()
            throw error
        }
    }

    static func userTables(_ database: Database) async throws -> [String] {
        try await database.session { db in
            try await db.raw("""
                SELECT table_name FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name
                """).all().map { try $0.decode(column: "table_name", as: String.self) }
        }
    }
}
