import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The terminal protocol over HTTP on both engines: activation codes (one use, expiry), activation
/// (一机一密) and re-activation, and signed requests refused for every reason, each recorded.
@Suite struct TerminalProtocolTests {
    /// A terminal bound to merchant A (region A's stock), and one still in stock.
    static func terminals(_ h: Harness) async throws -> (bound: Terminal, stock: Terminal) {
        let admin = try await h.principal("admin")
        let estate = h.env.services.estate
        let model = try await estate.createModel(NewTerminalModel(
            manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
            ptsExpiry: h.env.clock.clock.now().addingTimeInterval(365 * 86400), unionPayCertified: true, unionPayCertificate: nil), by: admin)
        let bound = try await estate.stockIn(StockIn(sn: "PAX-A920-0001", tid: "10000001", modelId: model.id, ownerId: h.fixtures.regionA), by: admin)
        let stock = try await estate.stockIn(StockIn(sn: "PAX-A920-0002", tid: "10000002", modelId: model.id, ownerId: h.fixtures.regionA), by: admin)
        try await Fixtures.onboard(h.fixtures.merchantA, services: h.env.services, mid: "898310048161234")
        let placed = try await estate.bind(bound.id, BindRequest(merchantId: h.fixtures.merchantA, storeId: nil,
                                                                 placement: Placement(address: "A street 1", latitude: 31.2, longitude: 121.4)), by: admin)
        return (placed, stock)
    }

    /// Headers of a request signed with `secret` (or a forged one).
    static func signed(_ method: String, _ path: String, terminal: String, secret: Data, body: Data = Data(), at timestamp: Int64,
                       nonce: String = "nonce-" + Secrets.randomHex(bytes: 8)) -> HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name(SignedRequestHeaders.terminalIdName)!] = terminal
        headers[HTTPField.Name(SignedRequestHeaders.timestampName)!] = String(timestamp)
        headers[HTTPField.Name(SignedRequestHeaders.nonceName)!] = nonce
        headers[HTTPField.Name(SignedRequestHeaders.signatureName)!] = TerminalSigning.sign(secret: secret, method: method, path: path,
                                                                                           timestamp: timestamp, nonce: nonce, body: body)
        return headers
    }

    @Test(arguments: TestBackend.allCases)
    func activationAndSignedRequests(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (terminal, stock) = try await Self.terminals(h)
            let id = terminal.id.rawValue
            // Only a terminal at a merchant gets a code; a merchant's owner cannot issue one (no estate.install).
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(stock.id.rawValue)/activation-codes", as: "regionA.admin", json: "{}"), 409)
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(id)/activation-codes", as: "merchantA.owner", json: "{}"), 403)
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(id)/activation-codes", as: "regionA.admin", json: #"{"validForHours": 100}"#), 422)
            let issued = try await h.send(.post, "/api/v1/terminals/\(id)/activation-codes", as: "regionA.admin", json: #"{"validForHours": 2}"#)
            #expect(issued.status == .created, "\(issued.text)")
            let code = try #require(issued.object["code"] as? String)

            // Wrong code, wrong SN: one answer; then the right one once.
            expectProblem(try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "PAX-A920-0001", "code": "0000-0000-0000"}"#), 401)
            expectProblem(try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "PAX-A920-0002", "code": "\#(code)"}"#), 401)
            let activated = try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "pax-a920-0001", "code": "\#(code)"}"#)
            #expect(activated.status == .ok, "\(activated.text)")
            #expect(activated.object["terminalId"] as? String == id && activated.object["tid"] as? String == "10000001")
            let secretHex = try #require(activated.object["secret"] as? String)
            let secret = Data(stride(from: 0, to: secretHex.count, by: 2).map { offset -> UInt8 in
                let start = secretHex.index(secretHex.startIndex, offsetBy: offset)
                return UInt8(secretHex[start...secretHex.index(after: start)], radix: 16)!
            })
            #expect(secret.count == 32)
            expectProblem(try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "PAX-A920-0001", "code": "\#(code)"}"#), 401, "used code")

            // A signed ping; then every way of getting it wrong, each with its reason.
            let now = Int64(h.env.clock.clock.now().timeIntervalSince1970)
            let good = Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: secret, at: now, nonce: "nonce-good-000001")
            let ping = try await h.send(.get, "/terminal/v1/ping", headers: good)
            #expect(ping.status == .ok && ping.object["sn"] as? String == "PAX-A920-0001", "\(ping.text)")

            // A heartbeat goes to memory and answers at once; operators see the terminal online; a batch writes it.
            let beat = Data(#"{"appVersion": "2.3.1", "battery": 76, "paper": "low", "signal": -81, "secondsSinceTransaction": 120, "location": {"latitude": 31.2001, "longitude": 121.4001, "source": "gps", "accuracy": 12, "reportedAt": "2026-09-21T14:13:20Z"}}"#.utf8)
            let beatHeaders = Self.signed("POST", "/terminal/v1/heartbeat", terminal: id, secret: secret, body: beat, at: now)
            var beatRequestHeaders = beatHeaders
            beatRequestHeaders[.contentType] = "application/json"
            let reply = try await h.client.execute(uri: "/terminal/v1/heartbeat", method: .post, headers: beatRequestHeaders, body: ByteBuffer(data: beat))
            #expect(reply.status == .ok && reply.object["nextHeartbeatSeconds"] as? Int == 300, "\(reply.text)")
            let status = try await h.send(.get, "/api/v1/terminals/\(id)/status", as: "regionA.admin")
            #expect(status.object["online"] as? Bool == true && (status.object["heartbeat"] as? [String: Any])?["paper"] as? String == "low", "\(status.text)")
            expectProblem(try await h.send(.get, "/api/v1/terminals/\(id)/status", as: "merchantB.owner"), 404)
            #expect(try await h.send(.get, "/api/v1/terminals/\(id)/status", as: "merchantA.owner").object["online"] as? Bool == true, "the bound merchant sees it")
            try await h.env.services.fleet.flushHeartbeats()
            let stored = try await h.env.services.store.read { try await $0.fleet.status(of: terminal.id) }
            // Dates come back through epoch milliseconds: compared to the millisecond.
            let lastTransaction = try #require(stored?.lastTransactionAt)
            #expect(stored?.heartbeat.battery == 76 && abs(lastTransaction.timeIntervalSince(h.env.clock.clock.now().addingTimeInterval(-120))) < 0.001)
            let badBeat = Data(#"{"battery": 120}"#.utf8)
            let refusedBeat = try await h.client.execute(uri: "/terminal/v1/heartbeat", method: .post,
                                                         headers: Self.signed("POST", "/terminal/v1/heartbeat", terminal: id, secret: secret, body: badBeat, at: now),
                                                         body: ByteBuffer(data: badBeat))
            expectProblem(refusedBeat, 422, "battery over 100")
            func reason(_ headers: HTTPFields, path: String = "/terminal/v1/ping") async throws -> String? {
                let response = try await h.send(.get, path, headers: headers)
                expectProblem(response, 401, path)
                return response.object["reason"] as? String
            }
            #expect(try await reason(good) == "replayed_nonce")
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: Data(repeating: 1, count: 32), at: now)) == "bad_signature")
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping?x=1", terminal: id, secret: secret, at: now)) == "bad_signature")
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: secret, at: now - 301)) == "clock_skew")
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: stock.id.rawValue, secret: secret, at: now)) == "credential_revoked")
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: "nobody", secret: secret, at: now)) == "unknown_terminal")
            var missing = Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: secret, at: now)
            missing[HTTPField.Name(SignedRequestHeaders.nonceName)!] = nil
            #expect(try await reason(missing) == "missing_header")

            // Re-activation replaces the secret: the old one no longer signs.
            let second = try #require(try await h.send(.post, "/api/v1/terminals/\(id)/activation-codes", as: "regionA.admin", json: "{}").object["code"] as? String)
            let again = try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "PAX-A920-0001", "code": "\#(second)"}"#)
            #expect(again.status == .ok && again.object["secret"] as? String != secretHex)
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: secret, at: now)) == "bad_signature")

            // An expired code is refused; a removed terminal is refused even with a good signature.
            let third = try #require(try await h.send(.post, "/api/v1/terminals/\(id)/activation-codes", as: "regionA.admin", json: #"{"validForHours": 1}"#)
                .object["code"] as? String)
            h.env.clock.advance(3601)
            expectProblem(try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "PAX-A920-0001", "code": "\#(third)"}"#), 401, "expired")
            let newHex = try #require(again.object["secret"] as? String)
            let newSecret = Data(stride(from: 0, to: newHex.count, by: 2).map { offset -> UInt8 in
                let start = newHex.index(newHex.startIndex, offsetBy: offset)
                return UInt8(newHex[start...newHex.index(after: start)], radix: 16)!
            })
            let later = Int64(h.env.clock.clock.now().timeIntervalSince1970)
            #expect(try await h.send(.get, "/terminal/v1/ping", headers: Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: newSecret, at: later)).status == .ok)
            let admin = try await h.principal("admin")
            _ = try await h.env.services.estate.install(terminal.id, installer: "li.wei", placement: nil, by: admin)
            _ = try await h.env.services.estate.remove(terminal.id, reason: "merchant closed", by: admin)
            #expect(try await reason(Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: newSecret, at: later)) == "terminal_retired")

            // Every refusal is there for the security team, with its reason.
            let events = try await h.send(.get, "/api/v1/security-events?limit=50", as: "security")
            let reasons = Set(events.items.compactMap { $0["reason"] as? String })
            #expect(reasons == ["activation_refused", "replayed_nonce", "bad_signature", "clock_skew", "credential_revoked", "unknown_terminal",
                                "missing_header", "terminal_retired"], "\(events.text)")
            expectProblem(try await h.send(.get, "/api/v1/security-events", as: "merchantA.owner"), 403)
            // A region's administrator sees its terminals' events, not a stranger's guesses at unknown ids.
            let regional = try await h.send(.get, "/api/v1/security-events?limit=50", as: "regionA.admin")
            #expect(Set(regional.items.compactMap { $0["reason"] as? String }) == reasons.subtracting(["unknown_terminal"]), "\(regional.text)")
        }
    }

    /// A flood of identical refusals is one security event with a count, not a write per request:
    /// forged pings naming one terminal, and a scan of made-up terminal ids from one origin.
    @Test(arguments: TestBackend.allCases)
    func aFloodOfRefusalsIsOneEventWithACount(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (terminal, _) = try await Self.terminals(h)
            let id = terminal.id.rawValue
            let now = Int64(h.env.clock.clock.now().timeIntervalSince1970)
            for _ in 0..<25 {
                let forged = Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: Data(repeating: 9, count: 32), at: now)
                expectProblem(try await h.send(.get, "/terminal/v1/ping", headers: forged), 401, "forged")
            }
            for index in 0..<15 {
                let made = Self.signed("GET", "/terminal/v1/ping", terminal: "made-up-\(index)", secret: Data(repeating: 9, count: 32), at: now)
                expectProblem(try await h.send(.get, "/terminal/v1/ping", headers: made), 401, "unknown")
            }
            func events() async throws -> [[String: Any]] {
                try await h.send(.get, "/api/v1/security-events?limit=50", as: "security").items
            }
            var stored = try await events()
            #expect(stored.count == 2, "one row per burst: \(stored)")
            // The counts land when the window closes (the timer, or the next refusal after it).
            h.env.clock.advance(61)
            try await h.env.services.fleet.flushRefusals(at: h.env.clock.clock.now())
            stored = try await events()
            // (Never activated, so its refusals say credential_revoked.)
            let forged = stored.first { $0["terminalRef"] as? String == id }
            let unknown = stored.first { $0["reason"] as? String == "unknown_terminal" }
            #expect(forged?["reason"] as? String == "credential_revoked" && forged?["repeats"] as? Int == 24, "\(stored)")
            #expect(unknown?["terminalRef"] as? String == "made-up-0" && unknown?["repeats"] as? Int == 14, "\(stored)")
            // A new window opens a new row.
            let later = Int64(h.env.clock.clock.now().timeIntervalSince1970)
            expectProblem(try await h.send(.get, "/terminal/v1/ping",
                                           headers: Self.signed("GET", "/terminal/v1/ping", terminal: id, secret: Data(repeating: 9, count: 32), at: later)),
                          401, "forged again")
            #expect(try await events().count == 3)
        }
    }
}
