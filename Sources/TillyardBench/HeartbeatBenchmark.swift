import ArgumentParser
import Foundation
import SQLKit
import TillyardKit
import TillyardServer
import TillyardAgent
import TillyardStore

/// `tillyard-bench heartbeats`: signed heartbeats per second through the real server (in process,
/// the product's `buildApplication`) from a generated fleet with real credentials, next to the
/// database's own single-row commit rate measured in the same run, then a check that the batches
/// reached storage.
struct HeartbeatBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heartbeats",
        abstract: "Throughput and latency of signed POST /terminal/v1/heartbeat from a generated fleet, against the raw commit rate.")

    @Option(help: "Terminals to generate (the deployed ones, about two in three, are activated and beat).") var terminals = 30_000
    @Option(help: "Timed heartbeats (spread round-robin over the activated terminals).") var heartbeats = 300_000
    @Option(help: "Concurrent HTTP clients (one keep-alive connection each).") var clients = 32
    @Option(help: "Load generator for the timed heartbeats: wrk (a separate process replaying requests signed beforehand) or threads (client threads in this process that sign as they go).")
    var load = "wrk"
    @Option(help: "wrk threads (with --load wrk).") var wrkThreads = 1
    @Option(help: "Single-row commits timed for the raw commit rate (per measurement).") var commits = 5_000
    @Option(help: "Seed of the generated estate.") var seed: UInt64 = 1
    @OptionGroup var storage: BenchStorage

    func validate() throws {
        guard terminals >= 1_000 else { throw ValidationError("--terminals must be at least 1,000") }
        guard heartbeats >= 1, commits >= 1 else { throw ValidationError("--heartbeats and --commits must be positive") }
        guard (1...512).contains(clients) else { throw ValidationError("--clients must be from 1 to 512") }
        guard ["wrk", "threads"].contains(load) else { throw ValidationError("--load must be wrk or threads") }
        guard (1...16).contains(wrkThreads) else { throw ValidationError("--wrk-threads must be from 1 to 16") }
        if load == "wrk", !WrkLoad.available { throw ValidationError("--load wrk needs wrk (apt-get install -y wrk), or use --load threads") }
    }

    func run() async throws {
        try await storage.open() { database, folder in
            try await benchmark(database, folder: folder)
        }
    }

    private func benchmark(_ database: Database, folder: String) async throws {
        let migrated = try await Migrator(database: database).migrate()
        Report.say("Tillyard heartbeat benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(migrated.applied.joined(separator: ", "))")
        let store = SQLPersistence(database: database)
        let loaded = try await EstateBenchmark.load(database, store: store, terminals: terminals, merchants: max(10, terminals / 200), agents: 10,
                                                    batch: 25_000, seed: seed)
        Report.say(loaded.summary)

        let key = AccountKey.random()
        let fleet = try await BenchFleet.activate(database, key: key)
        Report.say("activated \(Report.grouped(fleet.devices.count)) deployed terminals (credentials sealed as activation seals them)")

        let raw = try await RawCommits.measure(database, count: commits, clients: clients)
        Report.say(raw.summary)

        let services = AppServices(database: database, bcryptCost: 4, accountKey: key, documents: URL(fileURLWithPath: folder).appendingPathComponent("documents"))
        let server = try await InProcessServer.start(services: services, folder: folder, databaseURL: storage.databaseURL)
        defer { server.stop() }
        let port = server.port
        Report.say("server: tillyard on 127.0.0.1:\(port) (in this process), \(clients) clients, keep-alive, signed requests")

        // One heartbeat per terminal first: each reads its context once (the cold path), then all are warm.
        let cold = try await fleet.drive(0..<fleet.devices.count, clients: clients, port: port)
        Report.say("first heartbeat of each terminal (reads its context): \(Report.grouped(fleet.devices.count)) in "
                   + "\(Report.decimal(cold.seconds, 2)) s = \(Report.grouped(Int(Double(fleet.devices.count) / cold.seconds))) /s")
        let timed: (rate: Double, seconds: Double, p50: Double, p99: Double, max: String, generator: String)
        if load == "wrk" {
            // Signed before the clock starts, as many as are timed; each is sent once.
            let requests = (0..<heartbeats).map { fleet.rawHeartbeat(number: fleet.devices.count + $0, port: port) }
            let outcome = try await WrkLoad.run(requests: requests, port: port, threads: wrkThreads, connections: clients, limit: 600, folder: folder)
            guard outcome.failed == 0 else { throw ValidationError("CHECK FAILED: \(outcome.failed) heartbeats were not answered 2xx") }
            timed = (outcome.perSecond, outcome.seconds, outcome.p50, outcome.p99, "", "wrk, \(wrkThreads) thread(s), pre-signed; "
                     + "\(Report.grouped(outcome.requests)) answered before it was stopped")
        } else {
            let outcome = try await fleet.drive(fleet.devices.count..<(fleet.devices.count + heartbeats), clients: clients, port: port)
            timed = (Double(heartbeats) / outcome.seconds, outcome.seconds, outcome.percentile(50), outcome.percentile(99),
                     "  max \(Report.decimal(outcome.percentile(100), 2))", "client threads in this process, signing as they go")
        }
        let flushed = try await services.fleet.flushHeartbeats()
        await server.finish()

        let rate = timed.rate
        Report.say("")
        Report.say("heartbeats: \(Report.grouped(heartbeats)) in \(Report.decimal(timed.seconds, 2)) s = \(Report.grouped(Int(rate))) heartbeats/s "
                   + "(\(clients) connections from \(timed.generator); HMAC-SHA256 signed, ~260-byte body with a GPS fix)")
        Report.say("latency ms: p50 \(Report.decimal(timed.p50, 2))  p99 \(Report.decimal(timed.p99, 2))\(timed.max)")
        Report.say("raw single-row commits: \(Report.grouped(Int(raw.sequential))) /s one client, \(Report.grouped(Int(raw.concurrent))) /s \(clients) clients")
        Report.say("ratio heartbeats/s to raw commits/s: \(Report.decimal(rate / raw.sequential, 1)) (one client), "
                   + "\(Report.decimal(rate / raw.concurrent, 1)) (\(clients) clients)")
        Report.summary("signed heartbeats over HTTP (\(database.backend.rawValue), \(clients) connections, \(load))",
                       "\(Report.grouped(Int(rate))) /s, p50 \(Report.decimal(timed.p50, 1)) ms, p99 \(Report.decimal(timed.p99, 1)) ms",
                       ceiling: "\(Report.grouped(Int(raw.concurrent))) commits/s", ratio: Report.decimal(rate / raw.concurrent, 1))
        Report.say("9M terminals at a 5-minute interval need 30,000/s: \(rate >= 30_000 ? "met" : "not met") on this machine")

        // What storage holds afterwards: every terminal's latest status, and sampled history.
        let (statuses, samples) = try await database.session { db -> (Int, Int) in
            let statuses = try await db.raw("SELECT COUNT(*) AS n FROM terminal_status").first()?.decode(column: "n", as: Int.self) ?? 0
            let samples = try await db.raw("SELECT COUNT(*) AS n FROM heartbeat_samples").first()?.decode(column: "n", as: Int.self) ?? 0
            return (statuses, samples)
        }
        Report.say("stored: \(Report.grouped(statuses)) terminal statuses (one per terminal; last flush wrote \(Report.grouped(flushed))), "
                   + "\(Report.grouped(samples)) history samples")
        guard statuses == fleet.devices.count else {
            throw ValidationError("CHECK FAILED: \(statuses) statuses stored for \(fleet.devices.count) terminals that beat")
        }
        Report.say("check: every terminal that beat has its latest status stored")
    }
}

/// The activated part of a generated fleet: each deployed terminal with a fresh secret, stored
/// sealed exactly as activation stores it, and a load that sends their heartbeats.
struct BenchFleet: Sendable {
    struct Device: Sendable {
        let id: String
        let secret: Data
        let latitude: Double
        let longitude: Double
    }

    let devices: [Device]

    static func activate(_ database: Database, key: Data) async throws -> BenchFleet {
        let rows = try await database.session { db in
            try await db.raw("""
                SELECT id, latitude, longitude FROM terminals WHERE state IN ('bound', 'installed', 'in_service') ORDER BY id
                """).all().map { row in
                (try row.decode(column: "id", as: String.self), try row.decode(column: "latitude", as: Double?.self),
                 try row.decode(column: "longitude", as: Double?.self))
            }
        }
        let cipher = InstallationCipher(secret: key, purpose: "terminal secrets")
        var generator = SystemRandomNumberGenerator()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var devices: [Device] = []
        for start in stride(from: 0, to: rows.count, by: 500) {
            let chunk = rows[start..<min(start + 500, rows.count)]
            var query: SQLQueryString = "INSERT INTO terminal_credentials (terminal_id, key_id, sealed_secret, created_at, revoked_at) VALUES "
            for (index, (id, latitude, longitude)) in chunk.enumerated() {
                let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let sealed = try cipher.seal(secret, boundTo: id)
                if index > 0 { query += ", " }
                query += "(\(bind: id), 'bench', \(bind: Data(sealed).base64EncodedString()), \(bind: now), NULL)"
                devices.append(Device(id: id, secret: Data(secret), latitude: latitude ?? 31.2, longitude: longitude ?? 121.4))
            }
            let statement = query
            try await database.transaction { db in try await db.raw(statement).run() }
        }
        return BenchFleet(devices: devices)
    }

    /// Heartbeat number `index` (round-robin over the devices), signed now as the reference agent
    /// signs it (a random nonce each time).
    func signedHeartbeat(number index: Int) -> AgentRequest {
        let device = devices[index % devices.count]
        return RequestSigner(terminalId: device.id, secret: device.secret)
            .request("POST", "/terminal/v1/heartbeat", body: heartbeatBody(device), timestamp: Int64(Date().timeIntervalSince1970))
    }

    /// A heartbeat's body as the reference agent sends it: versions, readings and a GPS fix.
    func heartbeatBody(_ device: Device) -> Data {
        Data("""
            {"appVersion":"2.3.1","firmwareVersion":"FW-1.7","battery":76,"paper":"ok","signal":-71,"secondsSinceTransaction":240,\
            "location":{"latitude":\(device.latitude),"longitude":\(device.longitude),"source":"gps","accuracy":15,"reportedAt":"\(Date().iso8601)"}}
            """.utf8)
    }

    /// Heartbeat number `index` as the complete HTTP/1.1 request wrk sends.
    func rawHeartbeat(number index: Int, port: UInt16) -> [UInt8] {
        Self.raw(signedHeartbeat(number: index), port: port)
    }

    /// A request as complete HTTP/1.1 bytes for 127.0.0.1:`port`.
    static func raw(_ request: AgentRequest, port: UInt16) -> [UInt8] {
        var head = "\(request.method) \(request.path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(request.body.count)\r\n\r\n"
        return Array(head.utf8) + Array(request.body)
    }

    /// Sends heartbeat number `range` round-robin over the devices from `clients` threads.
    func drive(_ range: Range<Int>, clients: Int, port: UInt16) async throws -> LoadOutcome {
        let fleet = self
        return try await ClientThreads.drive(range: range, clients: clients, port: port) { connection, _, index in
            let signed = fleet.signedHeartbeat(number: index)
            // The connection writes its own Content-Type for a body.
            let headers = signed.headers.filter { $0.key != "Content-Type" }.map { ($0.key, $0.value) }
            let answer = try connection.send("POST", signed.path, token: nil, headers: headers, body: Array(signed.body))
            return answer.status == 200 ? nil : "heartbeat \(index) answered \(answer.status): \(answer.text.prefix(300))"
        }
    }
}
