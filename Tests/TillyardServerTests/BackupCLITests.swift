import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// `tillyard backup` and `tillyard restore` as an operator runs them, on both engines.
@Suite(.serialized) struct BackupCLITests {
    @Test(arguments: TestBackend.allCases)
    func backupThenRestoreIntoAnEmptyFolder(backend: TestBackend) async throws {
        guard CLITests.binaryIsBuilt() else { return }
        guard let (storage, location) = try await CLITests.freshStorage(backend) else { return }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-backup-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // PostgreSQL keeps its files in a data folder too (documents, packages, the key).
        var storageWithData = storage
        var data = root.appendingPathComponent("data")
        if case .sqlite(let path) = location { data = URL(fileURLWithPath: path).deletingLastPathComponent() } else {
            storageWithData += ["--data-dir", data.path]
        }
        defer { if case .sqlite = location { try? FileManager.default.removeItem(at: data) } }
        // An installation with documents, made in process (the demo takes minutes on PostgreSQL).
        let database = try await Database.open(location, maxConnections: 2)
        do {
            try await Migrator(database: database).migrate()
            let services = AppServices(database: database, bcryptCost: 4, accountKey: try AccountKey.load(dataDirectory: data.path),
                                       documents: data.appendingPathComponent("documents"), packages: data.appendingPathComponent("packages"),
                                       dataDirectory: data)
            let fixtures = try await Fixtures.make(services.access)
            try await Fixtures.onboard(fixtures.merchantA, services: services)
            await database.close()
        } catch {
            await database.close()
            throw error
        }

        let archive = root.appendingPathComponent("nightly.tar")
        let backup = try CLITests.run(["backup", "--to", archive.path], storage: storageWithData)
        #expect(backup.status == 0, "\(backup.output)")
        #expect(backup.output.contains("Backup written: \(archive.path)") && backup.output.contains("keep these safe separately"))
        #expect(backup.output.contains("TILLYARD_MEMBER_KEYS"))
        #expect(backup.output.contains("\(1 + DocumentKind.required.count) files (database included)"), "\(backup.output)")
        let again = try CLITests.run(["backup", "--to", archive.path], storage: storageWithData)
        #expect(again.status != 0 && again.output.contains("never overwritten"), "\(again.output)")

        let target = root.appendingPathComponent("restored")
        var restoreArguments = ["restore", "--from", archive.path, "--data-dir", target.path,
                                "--installation-key", data.appendingPathComponent("keys/account.key").path]
        var restoredStorage = ["--data-dir", target.path, "--log-level", "warning"]
        if case .postgres = location {
            guard case .postgres(let fresh)? = try await TestDatabase.freshLocation(.postgres) else { return }
            restoreArguments += ["--database-url", fresh]
            restoredStorage += ["--database-url", fresh]
        }
        let restored = try CLITests.run(restoreArguments, storage: [])
        #expect(restored.status == 0, "\(restored.output)")
        #expect(restored.output.contains("\(DocumentKind.required.count) files checked and written")
                && restored.output.contains("installation key checked"), "\(restored.output)")
        let verify = try CLITests.run(["audit", "verify"], storage: restoredStorage)
        #expect(verify.status == 0 && verify.output.contains("Audit chain intact"), "\(verify.output)")
        #expect(try Data(contentsOf: target.appendingPathComponent("keys/account.key")) == Data(contentsOf: data.appendingPathComponent("keys/account.key")))

        // The same target again: refused, exit 1, readable.
        let refused = try CLITests.run(restoreArguments, storage: [])
        #expect(refused.status == 1 && refused.output.contains("is not empty"), "\(refused.output)")
        // A wrong key is refused before anything is written.
        let wrongKey = root.appendingPathComponent("wrong.key")
        try AccountKey.random().write(to: wrongKey)
        let elsewhere = root.appendingPathComponent("elsewhere")
        let wrong = try CLITests.run(["restore", "--from", archive.path, "--data-dir", elsewhere.path, "--installation-key", wrongKey.path]
                                     + (restoreArguments.contains("--database-url") ? Array(restoreArguments.suffix(2)) : []), storage: [])
        #expect(wrong.status == 1 && wrong.output.contains("not the one this backup was made with"), "\(wrong.output)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere.path))
        // Not a backup at all.
        let bogus = root.appendingPathComponent("bogus.tar")
        try Data(repeating: 0x41, count: 4096).write(to: bogus)
        let corrupt = try CLITests.run(["restore", "--from", bogus.path, "--data-dir", elsewhere.path], storage: [])
        #expect(corrupt.status == 1 && corrupt.output.contains("corrupt archive"), "\(corrupt.output)")
    }
}
