import Crypto
import Foundation
import Testing
import TillyardAgent
import TillyardKit

/// A stand-in server behind the agent's transport: it checks every signature like the real one,
/// stores uploaded transactions by id (a repeat is a duplicate), and can be told to fail in the
/// ways a network fails: no answer before the server saw the request, or after it acted on it.
final class FakeServer: AgentTransport, @unchecked Sendable {
    enum Fault { case unreachable, loseAnswer }

    private let lock = NSLock()
    let secret = Data((0..<32).map { UInt8($0) })
    let terminalId = "0190a1b2-0000-7000-8000-000000000001"
    // Guarded by `lock`.
    private var storedIds: [String] = []
    private var received = 0
    private var nextFault: Fault?
    private var locked = false

    // Guarded by `lock`: the update offered in heartbeat replies, the file served, the reports received.
    private var offer: UpdateOffer?
    private var package = Data()
    private var installReports: [InstallReport] = []

    var stored: [String] { lock.withLock { storedIds } }
    var reports: [InstallReport] { lock.withLock { installReports } }
    func offer(_ update: UpdateOffer?, serving file: Data) { lock.withLock { offer = update; package = file } }
    var receivedCount: Int { lock.withLock { received } }
    func fail(_ fault: Fault) { lock.withLock { nextFault = fault } }
    func setLocked(_ value: Bool) { lock.withLock { locked = value } }

    func send(_ request: AgentRequest) async throws -> AgentResponse {
        try lock.withLock {
            let fault = nextFault
            nextFault = nil
            if fault == .unreachable { throw TransportFailure("connection refused") }
            let response = try answer(request)
            if fault == .loseAnswer { throw TransportFailure("connection reset after the server answered") }
            return response
        }
    }

    private func answer(_ request: AgentRequest) throws -> AgentResponse {
        if request.path == "/terminal/v1/activate" {
            let body = #"{"terminalId":"\#(terminalId)","sn":"FAKE-0001","tid":"10000001","keyId":"abcd1234","secret":"\#(Hex.string(secret))","serverTime":"\#(Date().iso8601)"}"#
            return AgentResponse(status: 200, body: Data(body.utf8))
        }
        let headers = SignedRequestHeaders(terminalId: request.headers[SignedRequestHeaders.terminalIdName],
                                           timestamp: request.headers[SignedRequestHeaders.timestampName],
                                           nonce: request.headers[SignedRequestHeaders.nonceName],
                                           signature: request.headers[SignedRequestHeaders.signatureName])
        let (_, timestamp, nonce, signature) = try TerminalSigning.precheck(headers, now: Date())
        guard TerminalSigning.matches(signature, secret: secret, method: request.method, path: request.path, timestamp: timestamp, nonce: nonce,
                                      body: request.body) else {
            return AgentResponse(status: 401, body: Data(#"{"title":"Unauthorized","detail":"refused","reason":"bad_signature"}"#.utf8))
        }
        switch request.path {
        case "/terminal/v1/heartbeat":
            let reply = HeartbeatReply(serverTime: Date(), nextHeartbeatSeconds: 300, parametersVersion: "p1", update: offer)
            return AgentResponse(status: 200, body: try WireJSON.encoder().encode(reply))
        case "/terminal/v1/parameters":
            return AgentResponse(status: 200, body: Data(#"{"version":"p1","values":{"timeout.online":"30"}}"#.utf8))
        case let path where path.hasPrefix("/terminal/v1/packages/"):
            return AgentResponse(status: 200, body: package)
        case let path where path.hasPrefix("/terminal/v1/updates/"):
            installReports.append(try WireJSON.decoder().decode(InstallReport.self, from: request.body))
            return AgentResponse(status: 204)
        case "/terminal/v1/transactions":
            if locked {
                return AgentResponse(status: 423, body: Data(#"{"title":"Locked","detail":"terminal locked","reason":"terminal_locked"}"#.utf8))
            }
            let upload = try WireJSON.decoder().decode(TransactionUpload.self, from: request.body)
            #expect(upload.transactions.count <= 500)
            var result = TransactionUploadResult(stored: [], duplicates: [])
            for transaction in upload.transactions {
                received += 1
                #expect(transaction.maskedPan.map { !CardDataGuard.looksLikeCardData($0) } ?? true)
                if storedIds.contains(transaction.id) { result.duplicates.append(transaction.id) } else {
                    storedIds.append(transaction.id)
                    result.stored.append(transaction.id)
                }
            }
            return AgentResponse(status: 200, body: try WireJSON.encoder().encode(result))
        default:
            return AgentResponse(status: 404, body: Data(#"{"title":"Not Found","detail":"no route"}"#.utf8))
        }
    }
}

/// The offline queue keeps every transaction until the server has answered for it, whatever fails.
@Suite struct QueueExactlyOnceTests {
    static func folder() -> AgentDirectory {
        AgentDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)").path)
    }

    /// An agent activated against a fresh fake server in a temp folder, closed and removed afterwards.
    static func withAgent(_ body: (TerminalAgent, AgentDirectory, FakeServer) async throws -> Void) async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let server = FakeServer()
        let agent = try await TerminalAgent.activate(server: URL(string: "http://127.0.0.1:9")!, sn: "FAKE-0001", code: "123456789012",
                                                     directory: directory, transport: server)
        do {
            try await body(agent, directory, server)
        } catch {
            await agent.close()
            throw error
        }
        await agent.close()
    }

    @Test func crashesAndLostAnswersNeitherLoseNorDouble() async throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let server = FakeServer()
        let url = URL(string: "http://127.0.0.1:9")!
        var agent = try await TerminalAgent.activate(server: url, sn: "FAKE-0001", code: "1234-5678-9012", directory: directory, transport: server)
        let mode = try FileManager.default.attributesOfItem(atPath: directory.credentialURL.path)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the credential holds the secret")

        // Three payments recorded; the process "crashes" before any upload (no close, a new agent on the folder).
        var made: [String] = []
        for amount in [1250, 800, 99] as [Int64] {
            made.append(try await agent.pay(amount: amount, approved: amount != 99, maskedPan: "622202******1234").id)
        }
        // (The crashed agent's file handle stays open, as a dead process's would until the OS reaps it.)
        let crashed = agent
        agent = try await TerminalAgent.open(directory: directory, transport: server)
        #expect(try await agent.queued() == 3)

        // No answer before the server saw it: nothing stored, all kept.
        server.fail(.unreachable)
        await #expect(throws: TransportFailure.self) { try await agent.upload() }
        var queued = try await agent.queued()
        #expect(server.stored.isEmpty && queued == 3)

        // The server stores them but its answer is lost: still queued on the terminal.
        server.fail(.loseAnswer)
        await #expect(throws: TransportFailure.self) { try await agent.upload() }
        queued = try await agent.queued()
        #expect(server.stored == made && queued == 3)

        // One more payment; the retry sends the same ids: three duplicates, one stored, queue empty.
        made.append(try await agent.pay(amount: 4200, maskedPan: "6222 02** **** 5678").id)
        let summary = try await agent.upload()
        #expect(summary == TerminalAgent.UploadSummary(stored: 1, duplicates: 3, remaining: 0, lockedOut: false))
        #expect(server.stored == made, "each transaction stored once, oldest first")
        #expect(server.receivedCount == 7)
        #expect(try await agent.upload() == TerminalAgent.UploadSummary())
        await agent.close()
        await crashed.close()
    }

    @Test func aLockedTerminalKeepsItsQueueAndRefusesPayments() async throws {
        try await Self.withAgent { agent, _, server in
            _ = try await agent.pay(amount: 100)
            server.setLocked(true)
            let summary = try await agent.upload()
            let queued = try await agent.queued()
            #expect(summary.lockedOut && queued == 1 && server.stored.isEmpty)
            await #expect(throws: AgentError.self) { try await agent.pay(amount: 100) }
            #expect(await agent.device.locked)
        }
    }

    @Test func updatesAreInstalledOnlyWhenTheChecksumMatches() async throws {
        try await Self.withAgent { agent, directory, server in
            let file = Data("firmware image 2.0.0".utf8)
            let sha = SHA256.hash(data: file).map { String(format: "%02x", $0) }.joined()
            let offer = UpdateOffer(campaignId: "c1", packageId: "p1", kind: "app", version: "2.0.0", sha256: sha, size: Int64(file.count),
                                    url: "/terminal/v1/packages/p1")

            // A tampered file is refused and reported with the reason; the version stays.
            server.offer(offer, serving: Data("firmware image 2.0.1".utf8))
            let refused = try await agent.cycle()
            #expect(refused.problems.isEmpty && refused.parameters == "p1", "\(refused.problems)")
            #expect(server.reports.last?.outcome == .failed && server.reports.last?.detail?.contains("checksum mismatch") == true)
            #expect(await agent.device.appVersion == "1.0.0")

            // The right file is installed, kept and reported; offered again (a lost report), it is reported again, not fetched.
            server.offer(offer, serving: file)
            _ = try await agent.cycle()
            #expect(server.reports.last == InstallReport(packageId: "p1", outcome: .installed, detail: "sha256 \(sha) verified"))
            #expect(await agent.device.appVersion == "2.0.0")
            #expect(FileManager.default.contents(atPath: directory.packagesURL.appendingPathComponent("p1.bin").path) == file)
            server.offer(offer, serving: Data())
            let again = try await agent.cycle()
            #expect(again.update?.contains("already installed") == true && server.reports.count == 3 && server.reports.last?.outcome == .installed)
        }
    }

    @Test func bigQueuesGoInBatchesOldestFirstAndFullCardNumbersNeverEnter() async throws {
        try await Self.withAgent { agent, _, server in
            do {
                _ = try await agent.pay(amount: 100, maskedPan: "6222021234567890123")
                Issue.record("a full card number must be refused")
            } catch let error as AgentError {
                #expect(error.description.contains("masked"), "\(error)")
            }
            var made: [String] = []
            for index in 0..<510 { made.append(try await agent.pay(amount: Int64(100 + index)).id) }
            let summary = try await agent.upload()
            #expect(summary.stored == 510 && summary.remaining == 0)
            #expect(server.stored == made)
        }
    }
}
