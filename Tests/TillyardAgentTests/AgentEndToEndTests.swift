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
            let live = LiveServer(port: port, terminal: terminal, token: fixtures.tokens["regionA.admin"]!, env: env)
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
            try await agent.update { $0.battery = 64; $0.paper = .low }
            let reply = try await agent.heartbeat()
            #expect(reply.nextHeartbeatSeconds > 0 && !reply.locked)
            let status = try await live.api("GET", "/api/v1/terminals/\(id)/status")
            let heartbeat = status.object["heartbeat"] as? [String: Any]
            #expect(status.object["online"] as? Bool == true && heartbeat?["battery"] as? Int == 64 && heartbeat?["paper"] as? String == "low",
                    "\(status.text)")
            await agent.close()
        }
    }
}

/// The running server and what a test needs to talk to it as an operator.
struct LiveServer: Sendable {
    let port: UInt16
    let terminal: Terminal
    let token: String
    let env: TestEnvironment

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    struct Answer {
        let status: Int
        let text: String
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    }

    /// An operator API call with the region administrator's token.
    func api(_ method: String, _ path: String, json: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
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
