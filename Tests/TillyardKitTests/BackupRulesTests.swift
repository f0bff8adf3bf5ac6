import Foundation
import Testing
@testable import TillyardKit

/// The backup's own tar format, manifest rules, schedule settings and archive names.
@Suite struct BackupRulesTests {
    static func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-tar-\(UUID().uuidString).tar")
    }

    /// Writes members with `TarWriter`, returns the archive.
    static func archive(_ members: [(String, Data)]) throws -> URL {
        let url = temporaryFile()
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let writer = TarWriter(output: handle)
        for (path, data) in members { try writer.addData(path, data) }
        try writer.finish()
        return url
    }

    static func read(_ url: URL) throws -> [(TarEntry, Data)] {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let reader = TarReader(input: handle)
        var members: [(TarEntry, Data)] = []
        while let entry = try reader.next() {
            var body = Data()
            try reader.readBody { body.append($0) }
            members.append((entry, body))
        }
        return members
    }

    @Test func tarRoundTripKeepsPathsAndBytes() throws {
        let long = "documents/" + String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 50) + "/file.bin"
        #expect(long.utf8.count > 100, "needs the ustar prefix field")
        let big = Data((0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let members = [("manifest.json", Data("{}".utf8)), ("empty.bin", Data()), (long, Data([1, 2, 3])), ("exact.bin", Data(count: 512)), ("big.bin", big)]
        let url = try Self.archive(members)
        defer { try? FileManager.default.removeItem(at: url) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber).intValue
        // Headers 5 × 512, bodies padded to 512: 512 + 0 + 512 + 512 + 1,500,160, end 1024.
        #expect(size == 5 * 512 + 512 + 0 + 512 + 512 + 1_500_160 + 1024)
        let back = try Self.read(url)
        #expect(back.map(\.0.path) == members.map(\.0))
        #expect(back.map(\.1) == members.map(\.1))
        #expect(back.map(\.0.size) == members.map { Int64($0.1.count) })
    }

    @Test func readerSkipsUnreadBodies() throws {
        let url = try Self.archive([("a", Data(repeating: 7, count: 1000)), ("b", Data("second".utf8))])
        defer { try? FileManager.default.removeItem(at: url) }
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let reader = TarReader(input: handle)
        #expect(try reader.next()?.path == "a")
        let second = try #require(try reader.next())
        var body = Data()
        try reader.readBody { body.append($0) }
        #expect(second.path == "b" && body == Data("second".utf8))
        #expect(try reader.next() == nil)
    }

    @Test func damagedHeadersAndTruncationAreCorrupt() throws {
        let url = try Self.archive([("a.bin", Data(repeating: 1, count: 2000))])
        defer { try? FileManager.default.removeItem(at: url) }
        var bytes = try Data(contentsOf: url)
        bytes[3] ^= 0x20
        try bytes.write(to: url)
        #expect { _ = try Self.read(url) } throws: { ($0 as? BackupError)?.kind == .corrupt && "\($0)".contains("checksum") }
        bytes[3] ^= 0x20
        try bytes.prefix(1024).write(to: url)
        #expect { _ = try Self.read(url) } throws: { ($0 as? BackupError)?.kind == .corrupt && "\($0)".contains("truncated") }
    }

    @Test func scheduleSettings() throws {
        #expect(try BackupSchedule.parse(every: nil, keep: nil) == BackupSchedule(every: .seconds(86_400), keep: 7))
        #expect(try BackupSchedule.parse(every: "6h", keep: "3") == BackupSchedule(every: .seconds(21_600), keep: 3))
        #expect(try BackupSchedule.parse(every: "90m", keep: nil).every == .seconds(5400))
        #expect(try BackupSchedule.parse(every: "2d", keep: nil).every == .seconds(172_800))
        #expect(try BackupSchedule.parse(every: "off", keep: nil).every == nil)
        #expect(throws: DomainError.self) { try BackupSchedule.parse(every: "daily", keep: nil) }
        #expect(throws: DomainError.self) { try BackupSchedule.parse(every: "30s", keep: nil) }
        #expect(throws: DomainError.self) { try BackupSchedule.parse(every: nil, keep: "0") }
    }

    @Test func archiveNamesCarryTheirTime() {
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        let name = BackupService.archiveName(at: at)
        #expect(name == "tillyard-backup-20260921-141320.tar")
        #expect(BackupService.archiveDate(name) == at)
        #expect(BackupService.archiveDate("tillyard-backup-notes.txt") == nil)
        #expect(BackupService.archiveDate("holiday.tar") == nil)
    }

    @Test func manifestRefusesWhatThisVersionCannotRead() throws {
        let manifest = BackupManifest(createdAt: Date(timeIntervalSince1970: 0), backend: "sqlite", database: "tillyard.sqlite",
                                      migrations: [.init(version: 1, name: "access"), .init(version: 16, name: "risk")],
                                      files: [], audit: .init(length: 0, headHash: AuditChain.genesis), installationKeyCheck: nil)
        #expect(try BackupManifest.decode(try manifest.encoded()) == manifest)
        try manifest.checkReadable(knownMigration: 16)
        #expect { try manifest.checkReadable(knownMigration: 15) } throws: {
            ($0 as? BackupError)?.kind == .newerVersion && "\($0)".contains("migration 16")
        }
        var future = manifest
        future.formatVersion = BackupManifest.currentFormat + 1
        #expect { try future.checkReadable(knownMigration: 99) } throws: { ($0 as? BackupError)?.kind == .newerVersion && "\($0)".contains("format 2") }
        #expect { _ = try BackupManifest.decode(Data("{\"format\":\"zip\"}".utf8)) } throws: { ($0 as? BackupError)?.kind == .corrupt }
        // The key check tells keys apart and reveals nothing of them.
        let key = Data(repeating: 9, count: 32)
        #expect(BackupManifest.keyCheck(key) == BackupManifest.keyCheck(key))
        #expect(BackupManifest.keyCheck(key) != BackupManifest.keyCheck(Data(repeating: 8, count: 32)))
        #expect(!BackupManifest.keyCheck(key).contains("0909"))
    }
}
