import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Testing
import TillyardAgent
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The reference agent against the real application (`buildApplication`) listening on a loopback
/// port, over URLSession, on a fresh SQLite database: an operator issues a code through the API,
/// the agent activates and heartbeats, and operators see it online.
@Suite(.serialized) struct AgentEndToEndTests {
    /// A live server for `body`: the product's application on 127.0.0.1, a bound terminal, and an
    /// operator client with the region administrator's token.
    static func withServer(_ body: @Sendable (LiveServer) async throws -> Void) async throws {
        try await TestEnvironment.with(.sqlite) { env in
            let fixtures = try await Fixtures.make(env.services.access)
            let admin = try await env.services.access.principal(commandLineUser: "admin")
            let estate = env.services.estate
            let model = try await estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
                ptsExpiry: env.clock.clock.now().addingTimeInterval(365 * 86400), unionPayCertified: true, unionPayCertificate: nil), by: admin)
            let stocked = try await estate.stockIn(StockIn(sn: "PAX-A920-7001", tid: "10007001", modelId: model.id, ownerId: fixtures.regionA), by: admin)
            try await Fixtures.onboard(fixtures.merchantA, services: env.services, mid: "898310048161234")
            let terminal = try await estate.bind(stocked.id, BindRequest(merchantId: fixtures.merchantA, storeId: nil,
                                                                          placement: Placement(address: "A street 1", latitude: 31.2, longitude: 121.4)),
                                                 by: admin)
            let port = try LoopbackHTTPConnection.freePort()
            var configuration = env.configuration
            configuration.host = "127.0.0.1"
            configuration.port = Int(port)
            configuration.logLevel = .critical
            let app = try await buildApplication(configuration: configuration, services: env.services)
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            let live = LiveServer(port: port, terminal: terminal, tokens: fixtures.tokens, env: env)
            try await live.waitUntilListening()
            try await body(live)
            server.cancel()
            _ = try? await server.value
        }
    }

    @Test func activateHeartbeatOnline() async throws {
        try await Self.withServer { live in
            let directory = AgentDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("agent-e2e-\(UUID().uuidString)").path)
            defer { try? FileManager.default.removeItem(at: directory.url) }
            let id = live.terminal.id.rawValue
            let code = try await live.issueCode()

            // A wrong code is refused with the server's message; the right one activates.
            do {
                _ = try await TerminalAgent.activate(server: live.url, sn: "PAX-A920-7001", code: "0000-0000-0000", directory: directory)
                Issue.record("a wrong code must be refused")
            } catch let error as AgentError {
                guard case .refused = error else { Issue.record("\(error)"); return }
            }
            let agent = try await TerminalAgent.activate(server: live.url, sn: "pax-a920-7001", code: code, directory: directory)
            #expect(agent.credential.terminalId == id && agent.credential.tid == "10007001")
            try await agent.ping()

            // Before the first heartbeat the terminal is not online; after it, it is, with what it reported.
            #expect(try await live.api("GET", "/api/v1/terminals/\(id)/status").object["online"] as? Bool == false)
            try await agent.update {
                $0.battery = 64
                $0.paper = .low
                // At the bound placement (31.2, 121.4): no relocation alert.
                $0.location = LocationReport(latitude: 31.2001, longitude: 121.4001, source: .gps, accuracy: 12, reportedAt: .distantPast)
            }
            let reply = try await agent.heartbeat()
            #expect(reply.nextHeartbeatSeconds > 0 && !reply.locked)
            let status = try await live.api("GET", "/api/v1/terminals/\(id)/status")
            let heartbeat = status.object["heartbeat"] as? [String: Any]
            #expect(status.object["online"] as? Bool == true && heartbeat?["battery"] as? Int == 64 && heartbeat?["paper"] as? String == "low",
                    "\(status.text)")
            let location = heartbeat?["location"] as? [String: Any]
            #expect(location?["latitude"] as? Double == 31.2001 && location?["reportedAt"] as? String != Date.distantPast.iso8601,
                    "the fix is reported as taken now: \(status.text)")
            await agent.close()
        }
    }

    /// Warm heartbeats take the terminal gateway's fast lane (answered on the connection, counted
    /// in /metrics); a replay of one, a forgery and a pending command still get the router's full
    /// answer, and the fast lane's replies read exactly as the router's.
    @Test func heartbeatsTakeTheFastLaneAndRefusalsStillGetTheFullAnswer() async throws {
        try await Self.withServer { live in
            let directory = AgentDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("agent-lane-\(UUID().uuidString)").path)
            defer { try? FileManager.default.removeItem(at: directory.url) }
            let agent = try await TerminalAgent.activate(server: live.url, sn: "PAX-A920-7001", code: try await live.issueCode(), directory: directory)
            func fastLane() async throws -> Int {
                let text = try await live.api("GET", "/metrics").text
                let line = text.split(separator: "\n").first { $0.hasPrefix("tillyard_heartbeat_fast_lane_total ") }
                return Int(line?.split(separator: " ").last ?? "") ?? -1
            }
            let before = try await fastLane()
            let first = try await agent.heartbeat()
            for _ in 0..<5 { _ = try await agent.heartbeat() }
            let warm = try await agent.heartbeat()
            #expect(try await fastLane() - before >= 5, "warm heartbeats answered by the gateway")
            #expect(warm.nextHeartbeatSeconds == first.nextHeartbeatSeconds && warm.parametersVersion == first.parametersVersion && !warm.locked)

            // Raw requests on one keep-alive connection: a fresh one (fast lane), the same bytes again (a
            // replay: the router refuses and records it), a forgery, and a fresh one after both.
            let signer = try RequestSigner(agent.credential)
            let body = Data(#"{"battery": 80, "paper": "ok"}"#.utf8)
            let connection = try LoopbackHTTPConnection(port: live.port)
            func send(_ request: AgentRequest) throws -> LoopbackHTTPConnection.Answer {
                try connection.send(request.method, request.path, headers: request.headers.filter { $0.key != "Content-Type" }.map { ($0.key, $0.value) },
                                    body: Array(request.body))
            }
            let now = Int64(Date().timeIntervalSince1970)
            let signed = signer.request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now)
            let fresh = try send(signed)
            #expect(fresh.status == 200 && fresh.text.contains("\"nextHeartbeatSeconds\":300") && fresh.headers["date"]?.hasSuffix(" GMT") == true,
                    "\(fresh.status) \(fresh.text) \(fresh.headers)")
            let replay = try send(signed)
            #expect(replay.status == 401 && replay.text.contains("replayed_nonce"), "\(replay.text)")
            let forged = try send(RequestSigner(terminalId: agent.credential.terminalId, secret: Data(repeating: 3, count: 32))
                .request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now))
            #expect(forged.status == 401 && forged.text.contains("bad_signature"), "\(forged.text)")
            let after = try send(signer.request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now))
            #expect(after.status == 200, "\(after.text)")
            // A chunked body bigger than any heartbeat leaves the fast lane mid-body and gets the router's answer.
            let padding = String(repeating: "a", count: 20_000)
            let big = Data(#"{"battery": 80, "paper": "ok", "appVersion": "\#(padding)"}"#.utf8)
            let chunked = signer.request("POST", "/terminal/v1/heartbeat", body: big, timestamp: now)
            var raw = "POST /terminal/v1/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
            for (name, value) in chunked.headers where name != "Content-Type" { raw += "\(name): \(value)\r\n" }
            raw += "\r\n"
            var bytes = Array(raw.utf8)
            for part in [big.prefix(10_000), big.dropFirst(10_000)] {
                bytes += Array((String(part.count, radix: 16) + "\r\n").utf8) + Array(part) + Array("\r\n".utf8)
            }
            bytes += Array("0\r\n\r\n".utf8)
            let routed = try connection.sendRaw(bytes)
            #expect((400..<500).contains(routed.status) && routed.text.contains("appVersion"), "\(routed.status) \(routed.text)")
            #expect(try send(signer.request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now)).status == 200, "the connection goes on")
            let events = try await live.api("GET", "/api/v1/security-events?limit=10", as: "security").text
            #expect(events.contains("replayed_nonce") && events.contains("bad_signature"), "refusals are recorded: \(events)")

            // A command queued for the terminal: the next reply carries it, from either lane.
            let reboot = try await live.api("POST", "/api/v1/terminals/\(agent.credential.terminalId)/commands", json: #"{"kind": "reboot", "reason": "frozen screen"}"#)
            #expect(reboot.status == 201, "\(reboot.text)")
            let commanded = try send(signer.request("POST", "/terminal/v1/heartbeat", body: body, timestamp: now))
            #expect(commanded.status == 200 && commanded.text.contains("\"reboot\""), "\(commanded.text)")
            await agent.close()
        }
    }

    @Test func parametersUploadsAcrossACrashAndALock() async throws {
        try await Self.withServer { live in
            let directory = AgentDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("agent-e2e-\(UUID().uuidString)").path)
            defer { try? FileManager.default.removeItem(at: directory.url) }
            let id = live.terminal.id.rawValue
            let template = try await live.api("PUT", "/api/v1/terminals/\(id)/parameter-template",
                                              json: #"{"version": 0, "values": {"receipt.merchant_name": "甲商户", "timeout.online": "30"}}"#, as: "admin")
            #expect(template.status == 200, "\(template.text)")
            let transport = LosingTransport(try URLSessionTransport(server: live.url))
            let first = try await TerminalAgent.activate(server: live.url, sn: "PAX-A920-7001", code: try await live.issueCode(), directory: directory,
                                                         transport: transport)

            // The first cycle fetches the parameters (the terminal holds none yet).
            let cycle = try await first.cycle()
            #expect(cycle.problems.isEmpty, "\(cycle.problems)")
            #expect(cycle.parameters != nil && cycle.parameters == cycle.reply.parametersVersion)
            #expect(await first.device.parameters == ["receipt.merchant_name": "甲商户", "timeout.online": "30"])
            #expect(try await first.cycle().parameters == nil, "an unchanged version is not fetched again")

            // Three payments; the server stores the upload but its answer is lost; the terminal "crashes".
            var made: [String] = []
            for amount in [1250, 800, 4200] as [Int64] { made.append(try await first.pay(amount: amount, maskedPan: "622202******1234").id) }
            transport.loseNextUploadAnswer()
            await #expect(throws: TransportFailure.self) { try await first.upload() }
            #expect(try await first.queued() == 3, "no answer: all kept")

            // A new process on the same folder (the crashed one never closed), one more payment: the retry
            // finds three already stored, stores one, and the queue is empty.
            let agent = try await TerminalAgent.open(directory: directory, transport: transport)
            made.append(try await agent.pay(amount: 99, approved: false, maskedPan: "622202******5678").id)
            let retried = try await agent.cycle()
            #expect(retried.upload == TerminalAgent.UploadSummary(stored: 1, duplicates: 3, remaining: 0), "\(retried.problems)")
            let listed = try await live.api("GET", "/api/v1/terminals/\(id)/transactions?limit=50")
            let items = (listed.object["items"] as? [[String: Any]]) ?? []
            #expect(Set(items.compactMap { ($0["transaction"] as? [String: Any])?["id"] as? String }) == Set(made) && items.count == 4, "\(listed.text)")

            // A lock reaches the terminal in its next heartbeat: acknowledged, payments refused, nothing queued.
            #expect(try await live.api("POST", "/api/v1/terminals/\(id)/lock", json: #"{"reason": "reported stolen"}"#, as: "admin").status == 200)
            let locked = try await agent.cycle()
            #expect(locked.reply.locked && locked.commands.count == 1 && locked.problems.isEmpty, "\(locked.commands) \(locked.problems)")
            do {
                _ = try await agent.pay(amount: 500)
                Issue.record("a locked terminal must refuse payments")
            } catch let error as AgentError {
                #expect(error == .locked("reported stolen"), "\(error)")
            }
            #expect(try await agent.queued() == 0)
            let commands = try await live.api("GET", "/api/v1/terminals/\(id)/commands", as: "admin")
            let lockCommand = (commands.object["commands"] as? [[String: Any]])?.first { $0["kind"] as? String == "lock" }
            #expect(lockCommand?["outcome"] as? String == "done", "\(commands.text)")

            // Unlocked: payments work again and go up.
            #expect(try await live.api("POST", "/api/v1/terminals/\(id)/unlock", json: #"{"note": "found"}"#, as: "admin").status == 200)
            let unlocked = try await agent.cycle()
            let stillLocked = await agent.device.locked
            #expect(!unlocked.reply.locked && !stillLocked, "\(unlocked.commands)")
            _ = try await agent.pay(amount: 700)
            #expect(try await agent.upload().stored == 1)
            await agent.close()
            await first.close()
        }
    }

    @Test func theSimulatorActivatesFromACodesFileAndMeasures() async throws {
        try await Self.withServer { live in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-sim-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let codes = folder.appendingPathComponent("codes.csv").path
            try Data("sn,code\n# the bound terminal\nPAX-A920-7001,\(try await live.issueCode())\n".utf8).write(to: URL(fileURLWithPath: codes))
            let pairs = try FleetSimulator.readCodes(codes)
            let (members, failures) = await FleetSimulator.activate(pairs, transport: try URLSessionTransport(server: live.url))
            #expect(members.count == 1 && failures.isEmpty, "\(failures)")
            let credentials = folder.appendingPathComponent("fleet.csv").path
            try FleetSimulator.writeCredentials(members, to: credentials)
            let reread = try FleetSimulator.readCredentials(credentials)
            #expect(reread.map(\.signer.terminalId) == [live.terminal.id.rawValue])
            let outcome = await FleetSimulator.heartbeats(reread, port: live.port, connections: 2, rate: 200, duration: 1)
            // How many get through depends on the machine's load; every one sent must be answered 200.
            #expect(outcome.ok > 0 && outcome.ok == outcome.sent && outcome.refused.isEmpty,
                    "\(outcome.ok) of \(outcome.sent): \(outcome.refused) \(outcome.otherStatus) \(outcome.firstFailure ?? "")")
            #expect(outcome.rate < 260, "paced to about 200/s: \(outcome.rate)")
            #expect(throws: AgentError.self) { try FleetSimulator.readCodes(credentials) }
        }
    }
}

/// The real transport, except that the answer to the next upload is lost after the server acted
/// on it (a connection cut on the way back).
final class LosingTransport: AgentTransport, @unchecked Sendable {
    let base: URLSessionTransport
    private let lock = NSLock()
    // Guarded by `lock`.
    private var loseNextUpload = false

    init(_ base: URLSessionTransport) { self.base = base }

    func loseNextUploadAnswer() { lock.withLock { loseNextUpload = true } }

    func send(_ request: AgentRequest) async throws -> AgentResponse {
        let response = try await base.send(request)
        let lose = lock.withLock {
            let lose = loseNextUpload && request.path == "/terminal/v1/transactions"
            if lose { loseNextUpload = false }
            return lose
        }
        if lose { throw TransportFailure("connection reset (test: the answer was lost after the server stored the upload)") }
        return response
    }
}

/// The running server and what a test needs to talk to it as an operator.
struct LiveServer: Sendable {
    let port: UInt16
    let terminal: Terminal
    let tokens: [String: String]
    let env: TestEnvironment

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    struct Answer {
        let status: Int
        let text: String
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    }

    /// An operator API call with a fixture user's token (the region administrator's by default).
    func api(_ method: String, _ path: String, json: String? = nil, as user: String = "regionA.admin") async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(tokens[user] ?? "")", forHTTPHeaderField: "Authorization")
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(UUID().uuidString, forHTTPHeaderField: "Idempotency-Key")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, text: String(decoding: data, as: UTF8.self))
    }

    /// A one-time activation code for the terminal, as an operator gets it.
    func issueCode() async throws -> String {
        let issued = try await api("POST", "/api/v1/terminals/\(terminal.id.rawValue)/activation-codes", json: "{}")
        return try #require(issued.object["code"] as? String, "\(issued.status) \(issued.text)")
    }

    func waitUntilListening() async throws {
        for _ in 0..<300 {
            if let connection = try? LoopbackHTTPConnection(port: port), let answer = try? connection.send("GET", "/health", token: nil),
               answer.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TransportFailure("the server did not start listening on 127.0.0.1:\(port)")
    }
}
