import Foundation
import SQLKit
import TillyardKit

/// Writes a backup archive of a running installation: a consistent snapshot of the database, every
/// file of the data folder, and `manifest.json` (sizes and SHA-256 of every member, migrations,
/// the audit chain's length and head), streamed into one tar file.
///
/// Consistency while the server keeps serving: SQLite is copied by `VACUUM INTO` on a read
/// connection (one read transaction: a snapshot, writers are not blocked); PostgreSQL by `pg_dump`
/// inside a snapshot exported from a REPEATABLE READ transaction, in which the audit head and the
/// migrations are read too. The database is snapshotted before the files are copied: the data
/// folder's files are written before the records that name them commit, so every file the snapshot
/// names is already there (a file removed in between is missing; its record was being deleted).
public struct ArchiveBackup: BackupMaking {
    public let database: Database
    /// The data folder whose files go into the archive (nil: the database only).
    public let dataDirectory: URL?
    /// The installation key, for the manifest's key check (nil: no check recorded).
    public let installationKey: Data?
    /// Folders inside the data folder left out (the backup folder itself).
    public let excluded: [URL]

    public init(database: Database, dataDirectory: URL?, installationKey: Data?, excluded: [URL] = []) {
        self.database = database
        self.dataDirectory = dataDirectory
        self.installationKey = installationKey
        self.excluded = excluded
    }

    /// Names in the data folder that never go into an archive: the live database files (the
    /// snapshot stands for them) and the keys (kept out on purpose, see `BackupManifest.separately`).
    static let skipped: Set<String> = ["tillyard.sqlite", "tillyard.sqlite-wal", "tillyard.sqlite-shm", "tillyard.sqlite-journal", "keys"]

    public func write(to archive: URL, now: Date) async throws -> BackupManifest {
        let folder = archive.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Hidden names beside the target: never listed as archives, never copied into one, and a
        // crash leaves only them (removed on the next run's failure path or by hand).
        let work = folder.appendingPathComponent(".\(archive.lastPathComponent).\(UUID().uuidString).work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: work) }

        let snapshot = try await snapshotDatabase(into: work)
        let partial = work.appendingPathComponent("archive.tar")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw BackupError(.failed, "cannot write in \(folder.path)")
        }
        let handle = try FileHandle(forWritingTo: partial)
        let manifest: BackupManifest
        do {
            let writer = TarWriter(output: handle)
            var files: [BackupManifest.FileEntry] = []
            let copied = try writer.addFile(snapshot.member, from: snapshot.file, modified: now)
            files.append(.init(path: snapshot.member, size: copied.size, sha256: copied.sha256))
            for (path, url) in try dataFiles() {
                do {
                    let added = try writer.addFile(path, from: url)
                    files.append(.init(path: path, size: added.size, sha256: added.sha256))
                } catch CocoaError.fileReadNoSuchFile, CocoaError.fileNoSuchFile {
                    // Removed since the folder was listed (a deleted document): nothing to keep.
                    continue
                }
            }
            manifest = BackupManifest(createdAt: now, backend: database.backend.rawValue, database: snapshot.member, migrations: snapshot.migrations,
                                      files: files, audit: snapshot.audit, installationKeyCheck: installationKey.map(BackupManifest.keyCheck))
            try writer.addData(BackupManifest.memberName, try manifest.encoded(), modified: now)
            try writer.finish()
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        try BackupFiles.moveIntoPlace(partial, archive)
        return manifest
    }

    /// The data folder's files as (archive path, file), sorted; hidden names (temporary files of
    /// uploads in progress), the live database, the keys and excluded folders are left out.
    func dataFiles() throws -> [(String, URL)] {
        guard let root = dataDirectory?.standardizedFileURL else { return [] }
        let skippedFolders = Set(excluded.map { $0.standardizedFileURL.path })
        var found: [(String, URL)] = []
        func walk(_ folder: URL, _ prefix: String) throws {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                if prefix.isEmpty && Self.skipped.contains(name) { continue }
                let url = folder.appendingPathComponent(name)
                if skippedFolders.contains(url.standardizedFileURL.path) { continue }
                let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isDirectoryKey, .isSymbolicLinkKey])
                if values?.isSymbolicLink == true { continue }
                if values?.isDirectory == true {
                    try walk(url, prefix + name + "/")
                } else if values?.isRegularFile == true {
                    found.append((prefix + name, url))
                }
            }
        }
        try walk(root, "")
        return found
    }

    /// The database copied into `work`, with what the manifest says about it, all from one snapshot.
    struct Snapshot {
        var file: URL
        var member: String
        var migrations: [BackupManifest.MigrationEntry]
        var audit: BackupManifest.AuditHead
    }

    func snapshotDatabase(into work: URL) async throws -> Snapshot {
        switch database.location {
        case .sqlite:
            let copy = work.appendingPathComponent(BackupManifest.sqliteMember)
            let path = copy.path
            try await database.session { db in try await db.raw("VACUUM INTO \(bind: path)").run() }
            // Migrations and the audit head are read from the copy itself, so they describe exactly it.
            let opened = try await Database.open(.sqlite(path: path), logger: database.logger, maxConnections: 1)
            do {
                let facts = try await opened.session { db in
                    (try await Self.migrations(db), try await BackupAuditCheck.head(db, backend: .sqlite))
                }
                await opened.close()
                return Snapshot(file: copy, member: BackupManifest.sqliteMember, migrations: facts.0, audit: facts.1)
            } catch {
                await opened.close()
                throw error
            }
        case .postgres(let url):
            let dump = work.appendingPathComponent(BackupManifest.postgresMember)
            let facts = try await database.transaction { db in
                try await db.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").run()
                guard let snapshot = try await db.raw("SELECT pg_export_snapshot() AS id").first()?.decode(column: "id", as: String.self) else {
                    throw BackupError(.failed, "PostgreSQL exported no snapshot")
                }
                let facts = (try await Self.migrations(db), try await BackupAuditCheck.head(db, backend: .postgres))
                // The dump sees exactly this transaction's snapshot, which stays open until it is done.
                try await PostgresTools.run("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--snapshot=\(snapshot)",
                                                        "--file=\(dump.path)"], url: url)
                return facts
            }
            return Snapshot(file: dump, member: BackupManifest.postgresMember, migrations: facts.0, audit: facts.1)
        }
    }

    static func migrations(_ db: any SQLDatabase) async throws -> [BackupManifest.MigrationEntry] {
        try await db.raw("SELECT version, name FROM schema_migrations ORDER BY version").all().map {
            .init(version: try $0.decode(column: "version", as: Int.self), name: try $0.decode(column: "name", as: String.self))
        }
    }
}

/// The audit chain of a database copy: verified whole, with its length and head.
enum BackupAuditCheck {
    /// The verified head; a broken chain still gives the part before the break, and `brokenAt`.
    static func head(_ db: any SQLDatabase, backend: SQLBackend) async throws -> BackupManifest.AuditHead {
        let result = try await verify(db, backend: backend)
        var head = BackupManifest.AuditHead(length: result.checked, headHash: result.headHash)
        head.brokenAt = result.firstBreak?.description
        return head
    }

    static func verify(_ db: any SQLDatabase, backend: SQLBackend) async throws -> AuditVerification {
        let repository = SQLAuditRepository(db: db, backend: backend)
        return try await AuditChain.verify { try await repository.scan(after: $0, limit: $1) }
    }
}
