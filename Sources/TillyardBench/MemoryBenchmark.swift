import ArgumentParser
import Foundation
import Logging
import TillyardAgent
import TillyardKit
import TillyardServer
import TillyardStore

/// `tillyard-bench memory`: the resident memory of a real `tillyard serve` process (a child, so the
/// figure is the server's alone) on a data folder holding N stored sales (default 1,000,000), with
/// a fleet of terminals online (default about 10,000), then under a steady mix of heartbeats and
/// sales (issue 10, item 6).
struct MemoryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "RSS of tillyard serve with ~10k terminals online and 1M sales stored.")

    @Option(help: "Terminals to generate (the deployed ones, about two in three, are activated and go online).") var terminals = 15_000
    @Option(help: "Sales stored before the server is measured (through HTTP, as registers upload them).") var sales = 1_000_000
    @Option(help: "Client threads (one keep-alive connection each).") var clients = 8
    @Option(help: "Heartbeat rounds over the whole fleet in the steady phase.") var rounds = 5
    @Option(help: "Sales in the steady phase.") var steadySales = 5_000
    @Option(help: "The tillyard executable to run (default: the one beside this benchmark).") var tillyard: String?

    func validate() throws {
        guard terminals >= 1_000, sales >= 0, (1...256).contains(clients), rounds >= 1, steadySales >= 0 else {
            throw ValidationError("--terminals ≥ 1,000, --sales ≥ 0, --clients 1–256, --rounds ≥ 1, --steady-sales ≥ 0")
        }
    }

    func run() async throws {
        let binary = tillyard.map { URL(fileURLWithPath: $0) }
            ?? Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("tillyard")
        guard let binary, FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ValidationError("no tillyard executable beside tillyard-bench: swift build -c release --product tillyard (bench/run memory does)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-bench-memory-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // The data folder, filled in this process: the installation key `serve` will load, the estate,
        // the activated fleet, a shop and its sales.
        let key = try AccountKey.load(dataDirectory: folder)
        var logger = Logger(label: "tillyard.bench")
        logger.logLevel = .warning
        let database = try await Database.open(try DatabaseLocation.resolve(dataDirectory: folder, databaseURL: nil), logger: logger)
        let loaded: (BenchShop, BenchFleet)
        do {
            loaded = try await fill(database, folder: folder, key: key)
        } catch {
            await database.close()
            throw error
        }
        await database.close()
        let (shop, fleet) = loaded

        // The server as a user runs it, measured from outside.
        let port = try LoopbackHTTPConnection.freePort()
        let server = try ServeProcess.start(binary: binary, folder: folder, port: port)
        defer { server.kill() }
        try await InProcessServer.waitUntilListening(port: port)
        var readings: [(String, MemoryReading)] = [("started on the data folder (idle)", try server.memory())]

        _ = try await fleet.drive(0..<fleet.devices.count, clients: clients, port: port)
        readings.append(("\(Report.grouped(fleet.devices.count)) terminals online (one heartbeat each)", try server.memory()))

        let beats = fleet.devices.count * rounds
        _ = try await fleet.drive(fleet.devices.count..<(fleet.devices.count + beats), clients: clients, port: port)
        _ = try await SalesLoad(shop: shop, port: port).drive(range: sales..<(sales + steadySales), clients: clients)
        readings.append(("after \(Report.grouped(beats)) more heartbeats and \(Report.grouped(steadySales)) sales", try server.memory()))

        Report.say("")
        Report.say("tillyard serve (pid \(server.pid), \(binary.path.contains("/release/") ? "release" : "debug") build), SQLite, \(Report.grouped(sales)) sales stored, "
                   + "database \(Report.decimal(Self.megabytes(ofFileAt: folder + "/tillyard.sqlite"), 0)) MB")
        Report.say("")
        Report.say(Report.pad("moment", 58) + Report.left("RSS MB", 9) + Report.left("peak MB", 10))
        Report.say(String(repeating: "-", count: 78))
        if let last = readings.last {
            Report.summary("tillyard serve RSS, \(Report.grouped(fleet.devices.count)) terminals online, \(Report.grouped(sales)) sales stored",
                           "\(Report.decimal(last.1.residentMB, 0)) MB (peak \(Report.decimal(last.1.peakMB, 0)) MB)")
        }
        for (moment, reading) in readings {
            Report.say(Report.pad(moment, 58) + Report.left(Report.decimal(reading.residentMB, 1), 9)
                       + Report.left(Report.decimal(reading.peakMB, 1), 10))
        }
    }

    private func fill(_ database: Database, folder: String, key: Data) async throws -> (BenchShop, BenchFleet) {
        _ = try await Migrator(database: database).migrate()
        Report.say("Tillyard memory benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        let services = AppServices(database: database, bcryptCost: 4, accountKey: key,
                                   documents: URL(fileURLWithPath: folder).appendingPathComponent("documents"))
        let shop = try await BenchShop.make(services, stores: 4, registers: 16, products: 2_000)
        let estate = try await EstateBenchmark.load(database, store: SQLPersistence(database: database), terminals: terminals,
                                                    merchants: max(10, terminals / 200), agents: 4, batch: 25_000, seed: 5)
        Report.say(estate.summary)
        let fleet = try await BenchFleet.activate(database, key: key)
        Report.say("activated \(Report.grouped(fleet.devices.count)) terminals")
        guard sales > 0 else { return (shop, fleet) }
        let server = try await InProcessServer.start(services: services, folder: folder, databaseURL: nil)
        let load = SalesLoad(shop: shop, port: server.port)
        let clock = ContinuousClock()
        let began = clock.now
        for start in stride(from: 0, to: sales, by: 100_000) {
            _ = try await load.drive(range: start..<min(sales, start + 100_000), clients: clients)
            Report.say("  stored \(Report.grouped(min(sales, start + 100_000))) sales…")
        }
        await server.finish()
        Report.say("stored \(Report.grouped(sales)) sales through HTTP in \(Report.decimal(EstateBenchmark.seconds(clock.now - began), 0)) s")
        return (shop, fleet)
    }

    static func megabytes(ofFileAt path: String) -> Double {
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0
        return Double(size) / 1_048_576
    }
}

/// A process's memory as Linux reports it in /proc/PID/status.
struct MemoryReading {
    /// VmRSS: resident now.
    let residentMB: Double
    /// VmHWM: the most it was ever resident.
    let peakMB: Double
}

/// `tillyard serve` as a child process on a loopback port, its output in the data folder.
struct ServeProcess {
    let pid: Int32
    let port: UInt16

    static func start(binary: URL, folder: String, port: UInt16) throws -> ServeProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--data-dir", folder, "--host", "127.0.0.1", "--port", String(port), "--log-level", "error"]
        let log = URL(fileURLWithPath: folder).appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return ServeProcess(pid: process.processIdentifier, port: port)
    }

    func memory() throws -> MemoryReading {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kilobytes(_ field: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return MemoryReading(residentMB: kilobytes("VmRSS") / 1024, peakMB: kilobytes("VmHWM") / 1024)
    }

    /// SIGKILL (a signal nothing blocks): the measurement is over, nothing needs to be kept.
    func kill() {
        _ = Foundation.kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }
}
