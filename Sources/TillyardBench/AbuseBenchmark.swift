import ArgumentParser
import Foundation
import SQLKit
import TillyardAgent
import TillyardKit
import TillyardServer
import TillyardStore

/// `tillyard-bench abuse`: terminal protocol abuse at volume (issue 10, item 5). Honest terminals
/// heartbeat through the real server (in process) while wrk, a separate process, replays a stream
/// of bad requests as fast as it can: replays of used nonces, requests re-signed with a wrong key,
/// skewed clocks, unknown terminals, missing signatures, malformed and oversized bodies. Every bad
/// request must be refused, and the honest terminals' rate and latency are reported with and
/// without the abuse, with the security events the abuse left in storage.
struct AbuseBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abuse",
        abstract: "Honest heartbeats' rate and latency while wrk floods the terminal protocol with replayed, forged, skewed and malformed requests.")

    @Option(help: "Terminals to generate (the deployed ones, about two in three, are activated).") var terminals = 3_000
    @Option(help: "Honest heartbeats timed alone, then again during the abuse.") var heartbeats = 20_000
    @Option(help: "Honest client threads (one keep-alive connection each).") var clients = 4
    @Option(help: "wrk connections sending the abuse.") var abusers = 16
    @Option(help: "Distinct bad requests of each kind (wrk cycles through them).") var perKind = 400
    @Option(help: "Kinds of bad request in the flood, comma-separated (default all): replayed, wrongKey, skewed, unknownTerminal, unsigned, malformed, oversized.")
    var kinds: String?
    @Option(help: "Seed of the generated estate.") var seed: UInt64 = 3
    @OptionGroup var storage: BenchStorage

    func validate() throws {
        guard terminals >= 1_000, heartbeats >= 100, perKind >= 10 else { throw ValidationError("--terminals ≥ 1,000, --heartbeats ≥ 100, --per-kind ≥ 10") }
        guard (1...64).contains(clients), (1...512).contains(abusers) else { throw ValidationError("--clients 1–64, --abusers 1–512") }
        if let kinds {
            let names = Set(Kind.allCases.map { String(describing: $0) })
            let unknown = kinds.split(separator: ",").map(String.init).filter { !names.contains($0) }
            guard unknown.isEmpty else { throw ValidationError("--kinds: unknown \(unknown.joined(separator: ", ")); known: \(names.sorted().joined(separator: ", "))") }
        }
        guard WrkLoad.available else { throw ValidationError("the abuse is sent by wrk: apt-get install -y wrk") }
    }

    func run() async throws {
        try await storage.open { database, folder in try await benchmark(database, folder: folder) }
    }

    /// The kinds of bad request, each with the answer it must get.
    enum Kind: String, CaseIterable {
        case replayed, wrongKey = "wrong key", skewed = "clock skew", unknownTerminal = "unknown terminal", unsigned, malformed = "malformed JSON",
             oversized = "oversized body"

        /// The status the server must answer.
        var status: Int {
            switch self {
            case .malformed: return 400
            case .oversized: return 413
            default: return 401
            }
        }
    }

    private func benchmark(_ database: Database, folder: String) async throws {
        _ = try await Migrator(database: database).migrate()
        Report.say("Tillyard terminal protocol abuse benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database))")
        let store = SQLPersistence(database: database)
        let loaded = try await EstateBenchmark.load(database, store: store, terminals: terminals, merchants: max(10, terminals / 200), agents: 4,
                                                    batch: 25_000, seed: seed)
        Report.say(loaded.summary)
        let key = AccountKey.random()
        let fleet = try await BenchFleet.activate(database, key: key)
        let services = AppServices(database: database, bcryptCost: 4, accountKey: key,
                                   documents: URL(fileURLWithPath: folder).appendingPathComponent("documents"))
        let server = try await InProcessServer.start(services: services, folder: folder, databaseURL: storage.databaseURL)
        defer { server.stop() }
        let port = server.port
        Report.say("server: tillyard on 127.0.0.1:\(port) (in this process); \(Report.grouped(fleet.devices.count)) activated terminals")

        // Warm: every terminal's context read once.
        _ = try await fleet.drive(0..<fleet.devices.count, clients: clients, port: port)
        var next = fleet.devices.count

        // The bad requests, made before anything is timed; the replays are sent once first (accepted).
        let bad = try Self.badRequests(fleet: fleet, perKind: perKind, port: port, first: &next)
        try Self.checkEachKind(bad, port: port)
        Report.say("every bad request sent once and answered as it must: "
                   + Kind.allCases.map { "\($0.rawValue) \($0.status)" }.joined(separator: ", "))
        let eventsBefore = try await Self.securityEvents(database)

        let alone = try await fleet.drive(next..<(next + heartbeats), clients: clients, port: port)
        next += heartbeats

        // The abuse: wrk cycles through the bad requests until the honest heartbeats are done.
        let stop = URL(fileURLWithPath: folder).appendingPathComponent("abuse-stop-\(UUID().uuidString)").path
        let chosen = kinds.map { Set($0.split(separator: ",").map(String.init)) }
        let mixed = Self.interleave(bad.filter { chosen?.contains(String(describing: $0.kind)) ?? true })
        async let flood = WrkLoad.run(requests: mixed.map(\.bytes), port: port, threads: 1, connections: abusers, limit: 600, folder: folder,
                                      until: stop)
        // wrk needs a moment to connect before the honest load starts.
        try await Task.sleep(for: .milliseconds(500))
        let during = try await fleet.drive(next..<(next + heartbeats), clients: clients, port: port)
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        let abuse = try await flood
        // Close every refusal window now (the server's timer would a minute later) so the counts are in.
        try await services.fleet.flushRefusals(at: Date().addingTimeInterval(services.fleet.refusals.window + 1))
        let eventsAfter = try await Self.securityEvents(database)

        Report.say("")
        Report.say("bad requests: \(Report.grouped(abuse.requests)) in \(Report.decimal(abuse.seconds, 1)) s = \(Report.grouped(Int(abuse.perSecond))) /s "
                   + "from wrk (\(abusers) connections, \(chosen.map { $0.sorted().joined(separator: ", ") } ?? "all \(Kind.allCases.count) kinds"), cycled); "
                   + "refused: \(Report.grouped(abuse.failed)); accepted: \(Report.grouped(abuse.requests - abuse.failed))")
        Report.say("")
        Report.say("honest heartbeats (\(clients) clients)   rate /s   p50 ms   p99 ms")
        Report.say("-----------------------------------------------------------")
        for (name, outcome) in [("alone", alone), ("during the abuse", during)] {
            Report.say(Report.pad(name, 36) + Report.left(Report.grouped(Int(Double(heartbeats) / outcome.seconds)), 7)
                       + Report.left(Report.decimal(outcome.percentile(50), 2), 9) + Report.left(Report.decimal(outcome.percentile(99), 2), 9))
        }
        Report.say("")
        Report.say("security events stored: \(Report.grouped(eventsAfter.rows - eventsBefore.rows)) rows for the flood, "
                   + "recording \(Report.grouped(eventsAfter.refusals - eventsBefore.refusals)) refusals")
        Report.summary("honest heartbeats during a protocol flood (\(Report.grouped(Int(abuse.perSecond))) bad requests/s, all refused)",
                       "p99 \(Report.decimal(during.percentile(99), 1)) ms, \(Report.grouped(Int(Double(heartbeats) / during.seconds))) /s",
                       ceiling: "alone: p99 \(Report.decimal(alone.percentile(99), 1)) ms, \(Report.grouped(Int(Double(heartbeats) / alone.seconds))) /s",
                       ratio: Report.decimal(during.seconds > 0 ? alone.seconds / during.seconds : 0, 2))
        guard abuse.failed == abuse.requests else {
            throw ValidationError("CHECK FAILED: \(abuse.requests - abuse.failed) bad requests were answered 2xx/3xx")
        }
        Report.say("check: every bad request was refused")
    }

    /// One bad request as wrk sends it.
    struct BadRequest {
        let kind: Kind
        let bytes: [UInt8]
    }

    static func badRequests(fleet: BenchFleet, perKind: Int, port: UInt16, first: inout Int) throws -> [BadRequest] {
        var generator = SystemRandomNumberGenerator()
        func randomSecret() -> Data { Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        let now = Int64(Date().timeIntervalSince1970)
        var requests: [BadRequest] = []
        // Replays: signed heartbeats sent once (and accepted), then sent again.
        let replayed = (0..<perKind).map { fleet.rawHeartbeat(number: first + $0, port: port) }
        first += perKind
        // One by one on one connection, each answered before the next: wrk, stopped by a signal, may
        // leave its last request unsent, and an unsent request is no replay.
        let connection = try LoopbackHTTPConnection(port: port)
        for request in replayed {
            let answer = try connection.sendRaw(request)
            guard answer.status == 200 else { throw ValidationError("CHECK FAILED: the first sending of a later replay got \(answer.status): \(answer.text)") }
        }
        requests += replayed.map { BadRequest(kind: .replayed, bytes: $0) }
        for index in 0..<perKind {
            let device = fleet.devices[(first + index) % fleet.devices.count]
            let body = fleet.heartbeatBody(device)
            // Right terminal, wrong key (a forger who knows the protocol, not the secret).
            requests.append(BadRequest(kind: .wrongKey, bytes: BenchFleet.raw(RequestSigner(terminalId: device.id, secret: randomSecret())
                .request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now), port: port)))
            // Right key, clock an hour off (a replay from the past re-timed, or a broken clock).
            requests.append(BadRequest(kind: .skewed, bytes: BenchFleet.raw(RequestSigner(terminalId: device.id, secret: device.secret)
                .request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now - 3_600 - Int64(index)), port: port)))
            // A terminal id nobody issued: a fresh one each time (a scan of the id space).
            requests.append(BadRequest(kind: .unknownTerminal, bytes: BenchFleet.raw(RequestSigner(terminalId: TerminalID.generate(now: Date()).rawValue,
                                                                                                secret: randomSecret())
                .request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now), port: port)))
            // No signature at all.
            requests.append(BadRequest(kind: .unsigned, bytes: BenchFleet.raw(AgentRequest(method: "POST", path: "/terminal/v1/heartbeat",
                                                                                        headers: ["Content-Type": "application/json"], body: body),
                                                                           port: port)))
            // Properly signed, broken JSON (a buggy terminal, or a fuzzer holding a stolen key).
            requests.append(BadRequest(kind: .malformed, bytes: BenchFleet.raw(RequestSigner(terminalId: device.id, secret: device.secret)
                .request("POST", "/terminal/v1/heartbeat", body: Data(body.prefix(body.count / 2)), timestamp: now + Int64(index % 60)), port: port)))
        }
        // Oversized: past the body limit (1 MiB); a few, since each is 2 MiB on the wire.
        let big = Data(repeating: UInt8(ascii: "x"), count: 2 << 20)
        for index in 0..<max(1, perKind / 50) {
            let device = fleet.devices[index % fleet.devices.count]
            requests.append(BadRequest(kind: .oversized, bytes: BenchFleet.raw(RequestSigner(terminalId: device.id, secret: device.secret)
                .request("POST", "/terminal/v1/heartbeat", body: big, timestamp: now), port: port)))
        }
        return requests
    }

    /// The kinds mixed evenly, so every stretch of the flood holds all of them.
    static func interleave(_ requests: [BadRequest]) -> [BadRequest] {
        let byKind = Dictionary(grouping: requests, by: \.kind)
        let longest = byKind.values.map(\.count).max() ?? 0
        return (0..<longest).flatMap { index in Kind.allCases.compactMap { kind in byKind[kind].flatMap { index < $0.count ? $0[index] : nil } } }
    }

    /// Sends every bad request once, in order, and checks each got its kind's status.
    static func checkEachKind(_ requests: [BadRequest], port: UInt16) throws {
        var connection = try LoopbackHTTPConnection(port: port)
        var wrong: [String] = []
        for request in requests {
            let answer = try connection.sendRaw(request.bytes)
            if answer.status != request.kind.status {
                wrong.append("\(request.kind.rawValue) answered \(answer.status): \(answer.text.prefix(200))")
            }
            // The server closes a connection it refused a body on; the next request gets a new one.
            if request.kind == .oversized || answer.headers["connection"]?.lowercased() == "close" { connection = try LoopbackHTTPConnection(port: port) }
        }
        guard wrong.isEmpty else { throw ValidationError("CHECK FAILED: \(wrong.count) bad requests answered wrongly, e.g. \(wrong.prefix(3))") }
    }

    /// Security event rows, and the refusals they record (a row may stand for repeats).
    static func securityEvents(_ database: Database) async throws -> (rows: Int, refusals: Int) {
        try await database.session { db in
            let row = try await db.raw("SELECT COUNT(*) AS n, COALESCE(SUM(repeats), 0) AS repeats FROM security_events").first()
            let rows = try row?.decode(column: "n", as: Int.self) ?? 0
            return (rows, rows + (try row?.decode(column: "repeats", as: Int.self) ?? 0))
        }
    }
}
