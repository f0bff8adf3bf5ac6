import ArgumentParser
import Foundation
import Logging
import TillyardKit
import TillyardServer
import TillyardStore

/// `tillyard backup`: one consistent archive of a running (or stopped) installation.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a backup archive (database snapshot, uploaded files, manifest with checksums) while the server keeps serving.")

    @OptionGroup var storage: StorageOptions
    @Option(name: .customLong("to"),
            help: "Archive file (ending in .tar) or folder (default: TILLYARD_BACKUP_DIR, else <data dir>/backups).")
    var to: String?

    func run() async throws {
        let configuration = try storage.configuration()
        var logger = Logger(label: "tillyard")
        logger.logLevel = configuration.logLevel
        let location = try configuration.databaseLocation()
        if case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) {
            throw CLIError(message: "no database at \(path): nothing to back up (check --data-dir)")
        }
        let database: Database
        do {
            database = try await Database.open(location, logger: logger)
        } catch {
            throw CLIError(message: "cannot open the database \(location): \(describe(error))")
        }
        let dataFolder = URL(fileURLWithPath: configuration.dataDirectory)
        var folder = configuration.backupFolder
        var file: URL?
        if let to {
            let url = URL(fileURLWithPath: to)
            if to.hasSuffix(".tar") { file = url; folder = url.deletingLastPathComponent() } else { folder = url }
        }
        let maker = ArchiveBackup(database: database, dataDirectory: dataFolder,
                                  installationKey: AccountKey.existing(dataDirectory: configuration.dataDirectory), excluded: [folder])
        // Retention is the server's schedule; an operator's backup deletes nothing.
        let service = BackupService(store: SQLPersistence(database: database), maker: maker, folder: folder,
                                    schedule: BackupSchedule(every: nil, keep: Int.max), logger: logger)
        let run: BackupRun
        do {
            run = try await service.run(into: file, actor: .system, origin: "cli", org: nil)
        } catch {
            await database.close()
            throw CLIError(message: describe(error))
        }
        await database.close()
        guard let archive = run.archive, run.error == nil else { throw CLIError(message: "backup failed: \(run.error ?? "unknown error")") }
        let path = (file ?? folder.appendingPathComponent(archive.name)).path
        print("Backup written: \(path)")
        print("  \(ByteCountFormatter.string(fromByteCount: archive.size, countStyle: .file)), \(run.files) files (database included), "
              + "audit chain of \(run.auditLength) events")
        if let broken = run.auditBroken {
            print("WARNING: the audit chain is broken (\(broken)); `tillyard restore` will refuse this archive. Run `tillyard audit verify`.")
        }
        print("Not in the archive; keep these safe separately:")
        for item in BackupManifest.separately { print("  - \(item)") }
    }
}

/// `tillyard restore`: an archive back into an empty data folder (and an empty PostgreSQL database).
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup archive into an empty data folder, after checking every checksum and the audit chain.")

    @Option(name: .customLong("from"), help: "The backup archive (.tar).") var from: String
    @Option(name: .customLong("data-dir"), help: "The new data folder: must not exist or be empty.") var dataDirectory: String
    @Option(name: .customLong("database-url"), help: "For a PostgreSQL backup: the new, empty database (postgres://…).") var databaseURL: String?
    @Option(name: .customLong("installation-key"),
            help: "The saved installation key file (keys/account.key, or its 64 hex characters): checked and put into the data folder.")
    var installationKey: String?

    func run() async throws {
        if let databaseURL { _ = try DatabaseLocation.resolve(dataDirectory: dataDirectory, databaseURL: databaseURL) }
        var logger = Logger(label: "tillyard.restore")
        logger.logLevel = .warning
        let report: RestoreReport
        do {
            report = try await ArchiveRestore.restore(URL(fileURLWithPath: from), into: URL(fileURLWithPath: dataDirectory),
                                                      databaseURL: databaseURL, installationKey: installationKey.map { URL(fileURLWithPath: $0) },
                                                      logger: logger)
        } catch {
            throw CLIError(message: "restore refused: \(describe(error))")
        }
        let manifest = report.manifest
        print("Restored the backup of \(manifest.createdAt) (Tillyard \(manifest.tillyardVersion), \(manifest.backend)) into \(dataDirectory)")
        print("  \(report.files) files checked and written, audit chain of \(report.auditLength) events verified")
        if report.keyRestored {
            print("  installation key checked and written to \(dataDirectory)/keys/account.key")
        } else {
            print("Before `tillyard serve`, put the installation key back: copy the saved keys/account.key into \(dataDirectory)/keys/ (mode 0600)")
            print("or set TILLYARD_ACCOUNT_KEY; without it documents, member names and phones and terminal secrets cannot be read,")
            print("and serve would make a new key. Set TILLYARD_MEMBER_KEYS as before if you used it.")
        }
    }
}
