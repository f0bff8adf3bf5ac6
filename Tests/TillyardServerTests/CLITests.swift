import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// Whether the executable is there; records an issue when it is not.
    static func binaryIsBuilt() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("tillyard executable not found at \(binary.path)")
            return false
        }
        return true
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
        guard Self.binaryIsBuilt() else { return }
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
        guard Self.binaryIsBuilt() else { return }
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

    /// A receipt file in a fresh temp folder (removed by the caller).
    static func receiptFile() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-receipt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let receipt = Receipt(
            merchantName: "莲花超市", storeName: "莲花超市 徐汇店", storeCode: "S-LOTUS-XH", receiptNumber: "R20250301-0042",
            issuedAt: Date(timeIntervalSince1970: 1_740_809_109), timeZone: "Asia/Shanghai", cashier: "王芳", register: "POS-03",
            lines: [ReceiptLine(name: "可口可乐", sku: "6901234567892", quantity: 2000, unitPrice: 350, gross: 700, net: 700)],
            gross: 700, total: 700, tenders: [ReceiptTender(kind: .cash, amount: 700, tendered: 1000)], change: 300)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let file = folder.appendingPathComponent("receipt.json")
        try encoder.encode(receipt).write(to: file)
        return file
    }

    @Test func receiptPrintSendsESCPOSToTheLoopbackPrinter() throws {
        guard Self.binaryIsBuilt() else { return }
        let file = try Self.receiptFile()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let printer = try LoopbackPrinter()
        defer { printer.stop() }

        let run = try Self.run(["receipt", "print", "--printer", "tcp://127.0.0.1:\(printer.port)", "--file", file.path,
                                "--paper", "58"], storage: [])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("Sent receipt R20250301-0042"))
        // The listener's backlog took the connection and the kernel buffered the job, so it is read afterwards.
        let bytes = try printer.receive()
        #expect(Array(bytes.prefix(2)) == [0x1B, 0x40])                                           // ESC @
        #expect(bytes.contains([0x1C, 0x26]))                                        // FS &
        #expect(bytes.contains([0xBF, 0xC9, 0xBF, 0xDA, 0xBF, 0xC9, 0xC0, 0xD6]))    // 可口可乐 in GB18030
        #expect(bytes.contains([0x1B, 0x70, 0x00, 0x19, 0xFA]))                      // drawer kick for cash
        #expect(Array(bytes.suffix(4)) == [0x1D, 0x56, 0x42, 0x03])                               // feed and partial cut

        let copy = try LoopbackPrinter()
        defer { copy.stop() }
        let reprint = try Self.run(["receipt", "print", "--printer", "tcp://127.0.0.1:\(copy.port)", "--file", file.path, "--copy"], storage: [])
        #expect(reprint.status == 0, "\(reprint.output)")
        let copied = try copy.receive()
        #expect(copied.contains(Array("COPY ".utf8) + [0xD6, 0xD8, 0xD3, 0xA1]))     // COPY 重印
        #expect(!copied.contains([0x1B, 0x70]))

        let text = try Self.run(["receipt", "render", "--file", file.path, "--format", "text", "--paper", "58"], storage: [])
        #expect(text.status == 0)
        #expect(text.output.contains("合计                        7.00\n"))
    }

    @Test func receiptPrintToAnUnreachablePrinterFailsReadably() throws {
        guard Self.binaryIsBuilt() else { return }
        let file = try Self.receiptFile()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        // A port that was free a moment ago: nothing listens there, so the connection is refused at once.
        let closed = try LoopbackPrinter()
        let port = closed.port
        closed.stop()

        let refused = try Self.run(["receipt", "print", "--printer", "tcp://127.0.0.1:\(port)", "--file", file.path], storage: [])
        #expect(refused.status != 0)
        #expect(refused.output.contains("cannot print to tcp://127.0.0.1:\(port): "), "\(refused.output)")
        #expect(refused.output.split(separator: "\n").count == 1, "one line: \(refused.output)")

        let badURL = try Self.run(["receipt", "print", "--printer", "http://127.0.0.1:\(port)", "--file", file.path], storage: [])
        #expect(badURL.status != 0)
        #expect(badURL.output.contains("must be given as tcp://HOST:PORT"), "\(badURL.output)")

        let missing = try Self.run(["receipt", "print", "--printer", "tcp://127.0.0.1:\(port)", "--file", file.path + ".nope"], storage: [])
        #expect(missing.status != 0)
        #expect(missing.output.contains("cannot read"))
    }
}

/// A receipt printer on the loopback interface: a listening socket on a free port whose one job is
/// read after the sender is done.
final class LoopbackPrinter {
    let fd: Int32
    let port: Int

    init() throws {
        #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw LoopbackError.socket(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 4) == 0 else { close(fd); throw LoopbackError.socket(errno) }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// The bytes of the first connection, up to its end (waits at most 10 s for each step).
    func receive() throws -> [UInt8] {
        var listener = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&listener, 1, 10_000) == 1 else { throw LoopbackError.timeout }
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { throw LoopbackError.socket(errno) }
        defer { close(connection) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var ready = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 10_000) == 1 else { throw LoopbackError.timeout }
            let count = read(connection, &buffer, buffer.count)
            if count < 0 { throw LoopbackError.socket(errno) }
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    /// Stops listening.
    func stop() { close(fd) }

    enum LoopbackError: Error { case socket(Int32), timeout }
}
