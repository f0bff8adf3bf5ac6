import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Backups and restores on both engines: consistent under concurrent writes, files round-trip with
/// their checksums, tampering and wrong targets refused with nothing left behind, retention, the
/// schedule's audit trail, and the console page.
@Suite struct BackupTests {
    /// An installation with its own data folder, backup folder and installation key.
    struct Bed {
        let backend: TestBackend
        let database: Database
        let services: AppServices
        let fixtures: Fixtures
        let clock: TestClock
        /// Temporary root of everything this test writes (removed at the end).
        let root: URL
        let data: URL
        let key: Data

        static func with(_ backend: TestBackend, keep: Int = 7, _ body: (Bed) async throws -> Void) async throws {
            try await TestDatabase.with(backend) { database in
                let root = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-backup-test-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: root) }
                // SQLite: the database's own folder is the data folder, as with `serve`.
                let data: URL
                if case .sqlite(let path) = database.location { data = URL(fileURLWithPath: path).deletingLastPathComponent() } else {
                    data = root.appendingPathComponent("data")
                }
                let clock = TestClock(Date())
                let key = AccountKey.random()
                let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock, accountKey: key,
                                           documents: data.appendingPathComponent("documents"), packages: data.appendingPathComponent("packages"),
                                           dataDirectory: data, backupFolder: root.appendingPathComponent("backups"),
                                           backupSchedule: BackupSchedule(every: .seconds(3600), keep: keep))
                let fixtures = try await Fixtures.make(services.access)
                try await body(Bed(backend: backend, database: database, services: services, fixtures: fixtures, clock: clock,
                                   root: root, data: data, key: key))
            }
        }

        /// A fresh place to restore into: a new folder, and for PostgreSQL a new empty database.
        func target() async throws -> (folder: URL, databaseURL: String?) {
            let folder = root.appendingPathComponent("restored-\(UUID().uuidString.prefix(8))")
            guard backend == .postgres else { return (folder, nil) }
            guard case .postgres(let url)? = try await TestDatabase.freshLocation(.postgres) else { throw BackupError(.failed, "no PostgreSQL") }
            return (folder, url)
        }

        /// Opens a restored installation (same installation key) and runs `body` with its services.
        func withRestored<T>(_ folder: URL, _ databaseURL: String?, _ body: (AppServices) async throws -> T) async throws -> T {
            let location: DatabaseLocation = databaseURL.map { .postgres(url: $0) } ?? .sqlite(path: folder.appendingPathComponent("tillyard.sqlite").path)
            let restored = try await Database.open(location, maxConnections: 2)
            let services = AppServices(database: restored, bcryptCost: 4, accountKey: key, documents: folder.appendingPathComponent("documents"),
                                       packages: folder.appendingPathComponent("packages"), dataDirectory: folder)
            do {
                let result = try await body(services)
                await restored.close()
                return result
            } catch {
                await restored.close()
                throw error
            }
        }

        func backUp() async throws -> (URL, BackupRun) {
            let run = try await services.backups.run(actor: .system, origin: "test", org: nil)
            let archive = try #require(run.archive, "backup failed: \(run.error ?? "")")
            return (services.backups.folder.appendingPathComponent(archive.name), run)
        }

        /// Names left beside a restore target: a refused restore must leave none of its own.
        func leftovers() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") || $0.hasPrefix("restored-") }
        }
    }

    /// Writes a copy of an archive with members changed by `change` (path, bytes → bytes).
    static func rewrite(_ archive: URL, _ change: (String, Data) throws -> Data) throws -> URL {
        let output = archive.deletingLastPathComponent().appendingPathComponent("tampered-\(UUID().uuidString.prefix(8)).tar")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let input = try FileHandle(forReadingFrom: archive)
        defer { try? input.close() }
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let reader = TarReader(input: input)
        let writer = TarWriter(output: handle)
        while let entry = try reader.next() {
            var body = Data()
            try reader.readBody { body.append($0) }
            try writer.addData(entry.path, try change(entry.path, body))
        }
        try writer.finish()
        return output
    }

    /// One member's bytes.
    static func member(_ path: String, of archive: URL) throws -> Data {
        let input = try FileHandle(forReadingFrom: archive)
        defer { try? input.close() }
        let reader = TarReader(input: input)
        while let entry = try reader.next() {
            guard entry.path == path else { continue }
            var body = Data()
            try reader.readBody { body.append($0) }
            return body
        }
        throw BackupError(.corrupt, "no \(path) in \(archive.path)")
    }

    static func sha256(_ data: Data) -> String {
        var digest = StreamingDigest()
        data.withUnsafeBytes { digest.update($0) }
        return digest.hex()
    }

    @Test(arguments: TestBackend.allCases)
    func backupDuringConcurrentSalesAndAuditedChangesRestoresConsistently(backend: TestBackend) async throws {
        try await Bed.with(backend) { bed in
            let services = bed.services
            let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
            let cashier = try await services.access.principal(commandLineUser: "storeA.cashier")
            let admin = try await services.access.principal(commandLineUser: "admin")
            let cola = try await services.catalog.create(ProductInput(sku: "COLA", barcodes: ["6901234567892"], nameZh: "可口可乐", price: 350),
                                                         merchantId: nil, by: owner)
            let shift = try await services.sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: cashier)
            let progress = Progress()
            let regionA = bed.fixtures.regionA
            // Sales (one transaction each: sale, journal, shift totals, stock) and audited changes keep coming.
            let writer = Task {
                var seq: Int64 = 0
                while !Task.isCancelled {
                    seq += 1
                    let quantity = Int64(1000 * (1 + seq % 3))
                    _ = try await services.sales.complete(SaleInput(id: .generate(), registerId: "R1", registerSeq: seq, soldAt: nil,
                                                                    lines: [SaleLineInput(productId: cola.id, quantity: quantity)],
                                                                    orderDiscount: 0, tenders: [TenderInput(kind: .cash, tendered: 10_000)],
                                                                    approval: nil), by: cashier)
                    _ = try await services.access.createOrganization(NewOrganization(parentId: regionA, kind: .agent, name: "Agent \(seq)",
                                                                                     code: "BK-\(seq)"), by: admin)
                    await progress.set(seq)
                }
                return seq
            }
            while await progress.value < 5 { try await Task.sleep(for: .milliseconds(10)) }
            let (archive, run) = try await bed.backUp()
            let atBackupEnd = await progress.value
            // Keep writing a little after the snapshot, so the archive is provably a moment of a moving database.
            while await progress.value < atBackupEnd + 3 { try await Task.sleep(for: .milliseconds(10)) }
            writer.cancel()
            let written = try await writer.value
            #expect(run.auditBroken == nil)

            let (folder, url) = try await bed.target()
            let report = try await ArchiveRestore.restore(archive, into: folder, databaseURL: url)
            #expect(report.auditLength == run.auditLength)
            try await bed.withRestored(folder, url) { restored in
                #expect(try await restored.access.verifyAuditChain().firstBreak == nil)
                let facts = try await restored.database.session { db -> (Int64, Int64, Int64, Int64, Int64, Int64) in
                    let shiftRow = try #require(try await db.raw("SELECT sale_count, sale_amount FROM shifts WHERE id = \(bind: shift.id.rawValue)").first())
                    let salesRow = try #require(try await db.raw("""
                        SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS amount FROM sales WHERE shift_id = \(bind: shift.id.rawValue)
                        """).first())
                    let orgs = try await db.raw("SELECT COUNT(*) AS n FROM organizations WHERE code LIKE 'BK-%'").first()?.decode(column: "n", as: Int64.self) ?? -1
                    let events = try await db.raw("""
                        SELECT COUNT(*) AS n FROM audit_events WHERE action = 'org.create'
                        AND resource_id IN (SELECT id FROM organizations WHERE code LIKE 'BK-%')
                        """).first()?.decode(column: "n", as: Int64.self) ?? -2
                    return (try shiftRow.decode(column: "sale_count", as: Int64.self), try shiftRow.decode(column: "sale_amount", as: Int64.self),
                            try salesRow.decode(column: "n", as: Int64.self), try salesRow.decode(column: "amount", as: Int64.self), orgs, events)
                }
                // The shift's running totals equal the sales present: no sale without its totals, no totals without their sale.
                #expect(facts.0 == facts.2 && facts.1 == facts.3, "shift \(facts.0)/\(facts.1) vs sales \(facts.2)/\(facts.3)")
                #expect(facts.2 >= 5 && facts.2 < written, "the snapshot fell between the first sales and the last (\(facts.2) of \(written))")
                // Every organisation has its audit event and vice versa, in the same snapshot.
                #expect(facts.4 == facts.5 && facts.4 >= 4, "orgs \(facts.4), events \(facts.5)")
                let journal = try await restored.sales.verifyJournal(store: bed.fixtures.storeA, by: try await restored.access.principal(commandLineUser: "admin"))
                #expect(journal.firstBroken == nil && Int64(journal.checked) == facts.2)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func filesRoundTripWithTheirChecksums(backend: TestBackend) async throws {
        try await Bed.with(backend) { bed in
            try await Fixtures.onboard(bed.fixtures.merchantA, services: bed.services)
            // Any area's files in the data folder travel, packages included; hidden temporary files do not.
            let packages = bed.data.appendingPathComponent("packages")
            try FileManager.default.createDirectory(at: packages, withIntermediateDirectories: true)
            let package = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            try package.write(to: packages.appendingPathComponent("pkg-1.bin"))
            try Data("half".utf8).write(to: packages.appendingPathComponent(".upload-1.tmp"))
            let (archive, run) = try await bed.backUp()

            let documents = try FileManager.default.subpathsOfDirectory(atPath: bed.data.appendingPathComponent("documents").path)
                .filter { $0.hasSuffix(".bin") }
            #expect(documents.count == DocumentKind.required.count)
            #expect(run.files == 1 + documents.count + 1, "database, documents and the package")

            let (folder, url) = try await bed.target()
            let report = try await ArchiveRestore.restore(archive, into: folder, databaseURL: url)
            #expect(report.files == documents.count + 1)
            #expect(report.manifest.installationKeyCheck == BackupManifest.keyCheck(bed.key))
            #expect(report.manifest.notIncluded == BackupManifest.separately)
            for path in documents {
                let original = try Data(contentsOf: bed.data.appendingPathComponent("documents/\(path)"))
                #expect(try Data(contentsOf: folder.appendingPathComponent("documents/\(path)")) == original, "\(path)")
            }
            #expect(try Data(contentsOf: folder.appendingPathComponent("packages/pkg-1.bin")) == package)
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("packages/.upload-1.tmp").path))
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("keys").path), "keys are never in an archive")
            // The restored installation reads its documents with the same installation key.
            let merchantA = bed.fixtures.merchantA
            let someDocument = try #require(documents.first.map { DocumentID(rawValue: String(($0 as NSString).lastPathComponent.dropLast(4))) })
            try await bed.withRestored(folder, url) { restored in
                let admin = try await restored.access.principal(commandLineUser: "admin")
                let (_, bytes) = try await restored.merchants.document(merchantA, someDocument, by: admin)
                #expect(bytes == DemoData.samplePNG)
            }
            #expect(try bed.leftovers() == [folder.lastPathComponent])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tamperedArchiveIsRefusedNamingTheFile(backend: TestBackend) async throws {
        try await Bed.with(backend) { bed in
            try await Fixtures.onboard(bed.fixtures.merchantA, services: bed.services)
            let (archive, _) = try await bed.backUp()
            var victim = ""
            let tampered = try Self.rewrite(archive) { path, body in
                guard path.hasPrefix("documents/"), victim.isEmpty else { return body }
                victim = path
                var changed = body
                changed[changed.count / 2] ^= 0x01
                return changed
            }
            let (folder, url) = try await bed.target()
            await #expect {
                _ = try await ArchiveRestore.restore(tampered, into: folder, databaseURL: url)
            } throws: { error in
                guard let error = error as? BackupError else { return false }
                return error.kind == .checksum && error.message.contains("checksum mismatch: \(victim)")
            }
            #expect(!victim.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: folder.path), "nothing half-written")
            let left = try bed.leftovers()
            #expect(left.isEmpty, "no staging folder left: \(left)")

            // A truncated archive is a corrupt one.
            let bytes = try Data(contentsOf: archive)
            let truncated = bed.root.appendingPathComponent("truncated.tar")
            try bytes.prefix(bytes.count / 2).write(to: truncated)
            await #expect {
                _ = try await ArchiveRestore.restore(truncated, into: folder, databaseURL: url)
            } throws: { ($0 as? BackupError)?.kind == .corrupt }

            // An archive of a newer Tillyard is refused before anything is written.
            let newer = try Self.rewrite(archive) { path, body in
                guard path == BackupManifest.memberName else { return body }
                var manifest = try BackupManifest.decode(body)
                manifest.migrations.append(.init(version: 9999, name: "future"))
                manifest.tillyardVersion = "99.0.0"
                return try manifest.encoded()
            }
            await #expect {
                _ = try await ArchiveRestore.restore(newer, into: folder, databaseURL: url)
            } throws: { error in
                guard let error = error as? BackupError else { return false }
                return error.kind == .newerVersion && error.message.contains("migration 9999") && error.message.contains("Tillyard 99.0.0")
            }
            #expect(try bed.leftovers().isEmpty)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tamperedAuditRowIsRefusedNamingTheEvent(backend: TestBackend) async throws {
        try await Bed.with(backend) { bed in
            if backend == .sqlite {
                // Someone edits an event inside an archive and fixes up the manifest's checksum: the chain still tells.
                let (clean, _) = try await bed.backUp()
                bed.clock.advance(2)
                let scratch = bed.root.appendingPathComponent("scratch.sqlite")
                try Self.member(BackupManifest.sqliteMember, of: clean).write(to: scratch)
                let edited = try await Database.open(.sqlite(path: scratch.path), maxConnections: 1)
                try await edited.session { db in try await db.raw("UPDATE audit_events SET origin = 'elsewhere' WHERE seq = 2").run() }
                await edited.close()
                let editedBytes = try Data(contentsOf: scratch)
                let reforged = try Self.rewrite(clean) { path, body in
                    switch path {
                    case BackupManifest.sqliteMember: return editedBytes
                    case BackupManifest.memberName:
                        var manifest = try BackupManifest.decode(body)
                        manifest.files[0] = .init(path: BackupManifest.sqliteMember, size: Int64(editedBytes.count),
                                                  sha256: Self.sha256(editedBytes))
                        return try manifest.encoded()
                    default: return body
                    }
                }
                let (folder, _) = try await bed.target()
                await #expect {
                    _ = try await ArchiveRestore.restore(reforged, into: folder)
                } throws: { error in
                    guard let error = error as? BackupError else { return false }
                    return error.kind == .auditChain && error.message.contains("broken at event 2")
                }
                #expect(!FileManager.default.fileExists(atPath: folder.path))
            }
            try await bed.database.session { db in
                try await db.raw("UPDATE audit_events SET summary = '{\"name\":\"mallory\"}' WHERE seq = 3").run()
            }
            let (archive, run) = try await bed.backUp()
            #expect(run.auditBroken?.contains("event 3") == true, "the backup says so at once")
            let (folder, url) = try await bed.target()
            await #expect {
                _ = try await ArchiveRestore.restore(archive, into: folder, databaseURL: url)
            } throws: { error in
                guard let error = error as? BackupError else { return false }
                return error.kind == .auditChain && error.message.contains("broken at event 3")
            }
            #expect(!FileManager.default.fileExists(atPath: folder.path))
            let left = try bed.leftovers()
            #expect(left.isEmpty, "\(left)")
            if let url {
                // The database given is empty again, so the restore can be retried there.
                let again = try await Database.open(.postgres(url: url), maxConnections: 1)
                let tables = try await again.session { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema()").first()?
                        .decode(column: "n", as: Int.self)
                }
                await again.close()
                #expect(tables == 0)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func nonEmptyTargetIsRefusedAndLeftAlone(backend: TestBackend) async throws {
        try await Bed.with(backend) { bed in
            let (archive, _) = try await bed.backUp()
            let (folder, url) = try await bed.target()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data("precious".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            await #expect {
                _ = try await ArchiveRestore.restore(archive, into: folder, databaseURL: url)
            } throws: { ($0 as? BackupError)?.kind == .notEmpty && "\($0)".contains(folder.path) }
            #expect(try String(contentsOf: folder.appendingPathComponent("notes.txt"), encoding: .utf8) == "precious")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["notes.txt"])
            if let url {
                // A PostgreSQL database that already holds tables is refused too (the live one here).
                guard case .postgres(let live) = bed.database.location else { return }
                let empty = bed.root.appendingPathComponent("empty-target")
                await #expect {
                    _ = try await ArchiveRestore.restore(archive, into: empty, databaseURL: live)
                } throws: { ($0 as? BackupError)?.kind == .notEmpty }
                #expect(!FileManager.default.fileExists(atPath: empty.path))
                _ = url
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func retentionDeletesTheOldestAndScheduledRunsAreAudited(backend: TestBackend) async throws {
        try await Bed.with(backend, keep: 2) { bed in
            let backups = bed.services.backups
            // A stranger's file in the folder is never listed or deleted.
            try FileManager.default.createDirectory(at: backups.folder, withIntermediateDirectories: true)
            try Data("mine".utf8).write(to: backups.folder.appendingPathComponent("tillyard-backup-notes.txt"))
            var names: [String] = []
            for _ in 0..<3 {
                let run = try #require(await backups.runIfDue(), "due: no archive yet, or the newest is an hour old")
                names.append(try #require(run.archive?.name))
                #expect(await backups.runIfDue() == nil, "not due again right after a backup")
                bed.clock.advance(3601)
            }
            #expect(Set(names).count == 3)
            #expect(try backups.archives().map(\.name) == [names[2], names[1]], "the oldest went")
            #expect(!FileManager.default.fileExists(atPath: backups.folder.appendingPathComponent(names[0]).path))
            #expect(FileManager.default.fileExists(atPath: backups.folder.appendingPathComponent("tillyard-backup-notes.txt").path))

            let admin = try await bed.services.access.principal(commandLineUser: "admin")
            let events = try await bed.services.access.auditEvents(AuditFilter(action: "backup.create"), page: PageRequest(limit: 10), by: admin).items
            #expect(events.count == 3 && events.allSatisfy { $0.actor == .system && $0.origin == "timer" && $0.outcome == .success })
            #expect(events.first?.summary.contains(names[0]) == true, "the last run names what retention deleted")

            // A failure is logged, audited as a failure and shown (the folder cannot be created: a file is in its way).
            let blocked = BackupService(store: bed.services.store, maker: ArchiveBackup(database: bed.database, dataDirectory: bed.data,
                                                                                        installationKey: nil),
                                        folder: backups.folder.appendingPathComponent("tillyard-backup-notes.txt"),
                                        schedule: BackupSchedule(every: .seconds(60), keep: 1), clock: bed.clock.clock)
            let failed = try #require(await blocked.runIfDue())
            #expect(failed.archive == nil && failed.error != nil)
            #expect(try blocked.overview(by: admin).lastRun?.error == failed.error)
            let failures = try await bed.services.access.auditEvents(AuditFilter(action: "backup.create", outcome: .failure),
                                                                     page: PageRequest(limit: 10), by: admin).items
            #expect(failures.count == 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consolePageListsBackupsAndBacksUpNow(backend: TestBackend) async throws {
        try await TestEnvironment.with(backend) { env in
            let fixtures = try await Fixtures.make(env.services.access)
            defer { try? FileManager.default.removeItem(at: env.services.backups.folder) }
            let app = try await env.application()
            try await app.test(.router) { client in
                let h = Harness(env: env, fixtures: fixtures, client: client)
                var (jar, csrf) = try await h.consoleSession("admin")
                let empty = try await h.browse(.get, "/console/backups", jar: &jar)
                #expect(empty.status == .ok && empty.text.contains("id=\"backup-now-form\"") && empty.text.contains("href=\"/console/backups\""))
                #expect(empty.text.contains("TILLYARD_MEMBER_KEYS"), "what to keep separately is said")
                let made = try await h.browse(.post, "/console/backups", jar: &jar, form: [("_csrf", csrf)])
                #expect(made.status == .found, "\(made.text)")
                let listed = try await h.browse(.get, "/console/backups", jar: &jar)
                let name = try #require(try env.services.backups.archives().first?.name)
                #expect(listed.text.contains(name) && listed.text.contains("id=\"backup-last-run\""), "\(listed.text)")
                let chinese = try await h.browse(.get, "/console/backups", jar: &jar, headers: [.acceptLanguage: "zh-CN"])
                #expect(chinese.text.contains("立即备份"))

                // An administrator below the top sees no backups (they hold every tenant's data).
                var (regionJar, regionCSRF) = try await h.consoleSession("regionA.admin")
                let refused = try await h.browse(.get, "/console/backups", jar: &regionJar)
                #expect(refused.status == .forbidden)
                let refusedPost = try await h.browse(.post, "/console/backups", jar: &regionJar, form: [("_csrf", regionCSRF)])
                #expect(refusedPost.status == .forbidden)
                #expect(try env.services.backups.archives().count == 1)
            }
        }
    }
}

/// How far the concurrent writer got.
actor Progress {
    private(set) var value: Int64 = 0
    func set(_ value: Int64) { self.value = value }
}
