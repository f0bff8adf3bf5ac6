import Foundation
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// The `tillyard` command as an operator runs it: real process, real database, exit codes and messages.
@Suite(.serialized) struct CLITests {
    /// The built `tillyard` executable (built alongside the tests by `swift test`).
    static var binary: URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tillyard")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tillyard")
    }

    struct Run { var status: Int32; var output: String }

    /// Runs the CLI with storage arguments for the backend and returns exit status and combined output.
    static func run(_ arguments: [String], storage: [String]) throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments + storage
        var environment = ProcessInfo.processInfo.environment
        environment["TILLYARD_BCRYPT_COST"] = "4"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Storage arguments for a fresh, empty database of the backend (nil when unavailable).
    static func freshStorage(_ backend: TestBackend) async throws -> ([String], DatabaseLocation)? {
        switch try await TestDatabase.freshLocation(backend) {
        case .sqlite(let path)?:
            return (["--data-dir", URL(fileURLWithPath: path).deletingLastPathComponent().path, "--log-level", "warning"], .sqlite(path: path))
        case .postgres(let url)?:
            return (["--database-url", url, "--log-level", "warning"], .postgres(url: url))
        case nil:
            return nil
        }
    }

    @Test(arguments: TestBackend.allCases)
    func migrateDemoAndAuditVerifyCatchesTampering(backend: TestBackend) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            Issue.record("tillyard executable not found at \(Self.binary.path)")
            return
        }
        guard let (storage, location) = try await Self.freshStorage(backend) else { return }

        let pending = try Self.run(["migrate", "--dry-run"], storage: storage)
        #expect(pending.status == 1, "dry-run on an empty database must report pending migrations: \(pending.output)")
        #expect(pending.output.contains("1 access"))

        let migrated = try Self.run(["migrate"], storage: storage)
        #expect(migrated.status == 0, "\(migrated.output)")
        let upToDate = try Self.run(["migrate", "--dry-run"], storage: storage)
        #expect(upToDate.status == 0)
        #expect(upToDate.output.contains("No pending migrations"))

        let demo = try Self.run(["demo"], storage: storage)
        #expect(demo.status == 0, "\(demo.output)")
        #expect(demo.output.contains("lotus.owner"))

        let clean = try Self.run(["audit", "verify"], storage: storage)
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("Audit chain intact"))

        // Edit one event behind the server's back.
        let database = try await Database.open(location)
        try await database.session { db in
            try await db.raw("UPDATE audit_events SET summary = '{\"username\":\"mallory\"}' WHERE seq = 7").run()
        }
        await database.close()

        let broken = try Self.run(["audit", "verify"], storage: storage)
        #expect(broken.status == 1)
        #expect(broken.output.contains("AUDIT CHAIN BROKEN at event 7"), "\(broken.output)")
        #expect(broken.output.contains("6 events before it are intact"))
    }

    @Test func badInputGetsReadableErrors() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            Issue.record("tillyard executable not found at \(Self.binary.path)")
            return
        }
        guard let (storage, _) = try await Self.freshStorage(.sqlite) else { return }
        #expect(try Self.run(["demo"], storage: storage).status == 0)

        let badRole = try Self.run(["users", "create", "--username", "x.y", "--display-name", "X", "--role", "wizard"], storage: storage)
        #expect(badRole.status != 0)
        #expect(badRole.output.contains("--role must be one of"))

        let weak = try Self.run(["users", "create", "--username", "new.cashier", "--display-name", "N", "--role", "cashier",
                                 "--org", "S-LOTUS-XH", "--password", "short"], storage: storage)
        #expect(weak.status != 0)
        #expect(weak.output.contains("password: must be"))

        let created = try Self.run(["users", "create", "--username", "new.cashier", "--display-name", "N", "--role", "cashier",
                                    "--org", "S-LOTUS-XH"], storage: storage)
        #expect(created.status == 0, "\(created.output)")
        #expect(created.output.contains("Generated password (shown once): "))

        let duplicate = try Self.run(["users", "create", "--username", "new.cashier", "--display-name", "N", "--role", "cashier",
                                      "--org", "S-LOTUS-XH"], storage: storage)
        #expect(duplicate.status != 0)
        #expect(duplicate.output.contains("username new.cashier is taken"))

        let reset = try Self.run(["users", "reset-password", "--username", "new.cashier", "--password", "Another-pass-2"], storage: storage)
        #expect(reset.status == 0, "\(reset.output)")

        let badURL = try Self.run(["migrate"], storage: ["--database-url", "mysql://nope"])
        #expect(badURL.status != 0)
        #expect(badURL.output.contains("must start with postgres://"))
    }
}
