import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Fleet operations over HTTP on both engines: parameter inheritance and the terminal's fetch,
/// locks and commands in heartbeat replies, exactly-once transaction uploads, and relocation
/// alerts at the tolerance boundary with the block an inspector clears.
@Suite struct FleetOperationsTests {
    /// An activated terminal and a way to send it signed requests.
    struct Device {
        let h: Harness
        let terminal: Terminal
        let secret: Data

        var id: String { terminal.id.rawValue }

        func send(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> TestResponse {
            let body = Data((json ?? "").utf8)
            var headers = TerminalProtocolTests.signed(method.rawValue, path, terminal: id, secret: secret, body: body,
                                                       at: Int64(h.env.clock.clock.now().timeIntervalSince1970))
            if json != nil { headers[.contentType] = "application/json" }
            return try await h.client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        }

        /// A heartbeat from where the terminal is (nil: no location), answered with the pending work.
        func beat(latitude: Double? = nil, longitude: Double? = nil, source: String = "gps", accuracy: Double = 20) async throws -> [String: Any] {
            var json = #"{"appVersion": "2.3.1""#
            if let latitude, let longitude {
                let at = ISO8601DateFormatter().string(from: h.env.clock.clock.now())
                json += #", "location": {"latitude": \#(latitude), "longitude": \#(longitude), "source": "\#(source)", "accuracy": \#(accuracy), "reportedAt": "\#(at)"}"#
            }
            let reply = try await send(.post, "/terminal/v1/heartbeat", json: json + "}")
            #expect(reply.status == .ok, "\(reply.text)")
            return reply.object
        }

        static func activate(_ h: Harness) async throws -> Device {
            let (terminal, _) = try await TerminalProtocolTests.terminals(h)
            let code = try #require(try await h.send(.post, "/api/v1/terminals/\(terminal.id.rawValue)/activation-codes", as: "regionA.admin", json: "{}")
                .object["code"] as? String)
            let hex = try #require(try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "\#(terminal.sn)", "code": "\#(code)"}"#)
                .object["secret"] as? String)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { offset -> UInt8 in
                let start = hex.index(hex.startIndex, offsetBy: offset)
                return UInt8(hex[start...hex.index(after: start)], radix: 16)!
            }
            return Device(h: h, terminal: terminal, secret: Data(bytes))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func parametersInheritFromDefaultsToTheTerminal(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let acquirer = h.fixtures.acquirer.rawValue
            func put(_ level: String, _ target: String, _ json: String, as user: String = "admin") async throws -> TestResponse {
                let collection = ["model": "terminal-models", "terminal": "terminals"][level] ?? "orgs"
                return try await h.send(.put, "/api/v1/\(collection)/\(target)/parameter-template", as: user, json: json)
            }
            #expect(try await put("defaults", acquirer, #"{"version": 0, "values": {"host.primary": "10.0.0.1:9000", "timeout.online": "60", "tender.wechat": "on"}}"#).status == .ok)
            #expect(try await put("model", device.terminal.modelId.rawValue, #"{"version": 0, "values": {"timeout.online": "45"}}"#).status == .ok)
            #expect(try await put("region", h.fixtures.regionA.rawValue, #"{"version": 0, "values": {"host.primary": "10.1.0.1:9000"}}"#, as: "regionA.admin").status == .ok)
            #expect(try await put("merchant", h.fixtures.merchantA.rawValue, #"{"version": 0, "values": {"receipt.merchant_name": "甲商户", "tender.wechat": null}}"#).status == .ok)
            #expect(try await put("terminal", device.id, #"{"version": 0, "values": {"timeout.online": "30"}}"#).status == .ok)

            // The operator's view says where each value came from.
            let effective = try await h.send(.get, "/api/v1/terminals/\(device.id)/parameters", as: "regionA.admin").object
            let values = try #require(effective["values"] as? [String: String])
            #expect(values == ["host.primary": "10.1.0.1:9000", "timeout.online": "30", "receipt.merchant_name": "甲商户"], "a null removes the default")
            let sources = try #require(effective["sources"] as? [String: String])
            #expect(sources["host.primary"] == "region:\(h.fixtures.regionA.rawValue)" && sources["timeout.online"] == "terminal:\(device.id)")

            // The terminal is told the version in its heartbeat and fetches the same set.
            let reply = try await device.beat()
            let fetched = try await device.send(.get, "/terminal/v1/parameters").object
            #expect(reply["parametersVersion"] as? String == effective["version"] as? String)
            #expect(fetched["version"] as? String == effective["version"] as? String && fetched["values"] as? [String: String] == values)

            // A change moves the version at once (this node forgets what it held).
            #expect(try await put("model", device.terminal.modelId.rawValue, #"{"version": 1, "values": {"timeout.online": "40", "printer.density": "3"}}"#).status == .ok)
            let after = try await device.beat()
            #expect(after["parametersVersion"] as? String != reply["parametersVersion"] as? String)

            // Stale versions, bad keys, strangers and the wrong role are refused; nothing changes.
            expectProblem(try await put("model", device.terminal.modelId.rawValue, #"{"version": 1, "values": {}}"#), 409, "stale version")
            expectProblem(try await put("terminal", device.id, #"{"version": 1, "values": {"Bad Key": "x"}}"#), 422)
            expectProblem(try await put("merchant", h.fixtures.merchantB.rawValue, #"{"version": 0, "values": {"a": "b"}}"#, as: "regionA.admin"), 404)
            #expect(try await h.send(.get, "/api/v1/orgs/\(h.fixtures.merchantA.rawValue)/parameter-template", as: "regionA.admin")
                .object["level"] as? String == "merchant", "an organisation's level follows from its kind")
            expectProblem(try await put("merchant", h.fixtures.merchantA.rawValue, #"{"version": 1, "values": {"a": "b"}}"#, as: "merchantA.owner"), 403)
            expectProblem(try await h.send(.put, "/api/v1/orgs/nobody/parameter-template", as: "admin", json: #"{"version": 0, "values": {}}"#), 404)
            #expect(try await h.send(.get, "/api/v1/parameter-templates", as: "regionA.admin").items.count == 3, "region A sees its region, merchant and terminal")
            #expect(try await h.send(.delete, "/api/v1/terminals/\(device.id)/parameter-template?version=1", as: "admin").status == .noContent)
            let afterDelete = try await h.send(.get, "/api/v1/terminals/\(device.id)/parameters", as: "admin").object["values"] as? [String: String]
            #expect(afterDelete?["timeout.online"] == "40")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func locksCommandsAndExactlyOnceUploads(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let at = { ISO8601DateFormatter().string(from: h.env.clock.clock.now()) }
            func upload(_ ids: [String], pan: String = "622202******1234") -> String {
                let items = ids.map { #"{"id": "\#($0)", "at": "\#(at())", "kind": "sale", "amount": 1250, "currency": "cny", "tender": "card", "approved": true, "responseCode": "00", "maskedPan": "\#(pan)", "authCode": "A1B2C3", "rrn": "123456789012"}"# }
                return #"{"transactions": [\#(items.joined(separator: ","))]}"#
            }
            // Stored once: a retry of the same batch answers with its duplicates.
            let first = try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-1", "t-2"]))
            #expect(first.status == .ok && first.object["stored"] as? [String] == ["t-1", "t-2"], "\(first.text)")
            let retry = try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-2", "t-3"]))
            #expect(retry.object["stored"] as? [String] == ["t-3"] && retry.object["duplicates"] as? [String] == ["t-2"], "\(retry.text)")
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-4"], pan: "6222021234561234")), 422, "a full card number")
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-5", "t-5"])), 422, "an id twice")
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: #"{"transactions": []}"#), 422)
            let listed = try await h.send(.get, "/api/v1/terminals/\(device.id)/transactions", as: "regionA.admin")
            #expect(listed.items.count == 3 && listed.items.allSatisfy { ($0["transaction"] as? [String: Any])?["maskedPan"] as? String == "622202******1234" },
                    "\(listed.text)")

            // A lock reaches the terminal in its next heartbeat; its later transactions are refused (423) and stay queued.
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(device.id)/lock", as: "merchantA.owner", json: #"{"reason": "lost"}"#), 403)
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(device.id)/lock", as: "admin", json: #"{"reason": ""}"#), 422)
            #expect(try await h.send(.post, "/api/v1/terminals/\(device.id)/lock", as: "admin", json: #"{"reason": "reported stolen"}"#).status == .ok)
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(device.id)/lock", as: "admin", json: #"{"reason": "again"}"#), 409)
            h.env.clock.advance(5)
            let locked = try await device.beat()
            let commands = try #require(locked["commands"] as? [[String: Any]])
            #expect(locked["locked"] as? Bool == true && commands.map { $0["kind"] as? String } == ["lock"], "\(locked)")
            let refused = try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-6"]))
            expectProblem(refused, 423)
            #expect(refused.object["reason"] as? String == "terminal_locked")

            // The terminal acknowledges; the command leaves the replies and shows how it ended.
            let lockCommand = try #require(commands.first?["id"] as? String)
            #expect(try await device.send(.post, "/terminal/v1/commands/\(lockCommand)/ack", json: #"{"outcome": "done"}"#).status == .noContent)
            expectProblem(try await device.send(.post, "/terminal/v1/commands/\(lockCommand)/ack", json: #"{"outcome": "done"}"#), 404, "acknowledged once")
            #expect((try await device.beat()["commands"] as? [Any])?.isEmpty == true)
            #expect(try await h.send(.post, "/api/v1/terminals/\(device.id)/commands", as: "admin", json: #"{"kind": "reboot"}"#).status == .created)
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(device.id)/commands", as: "admin", json: #"{"kind": "lock"}"#), 422)
            #expect(try await h.send(.post, "/api/v1/terminals/\(device.id)/unlock", as: "admin", json: #"{"note": "found"}"#).status == .ok)
            let unlocked = try await device.beat()
            #expect(unlocked["locked"] as? Bool == false)
            #expect(Set((unlocked["commands"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }) == ["reboot", "unlock"])
            #expect(try await device.send(.post, "/terminal/v1/transactions", json: upload(["t-6"])).object["stored"] as? [String] == ["t-6"])
            let history = try await h.send(.get, "/api/v1/terminals/\(device.id)/commands", as: "regionA.admin").object
            #expect((history["commands"] as? [[String: Any]])?.count == 3 && history["lock"] == nil, "\(history)")
            let audit = try await h.env.services.store.read { try await $0.audit.list(under: "/", filter: AuditFilter(), page: PageRequest(limit: 50)) }
            #expect(Set(audit.items.map(\.action)).isSuperset(of: ["terminal.lock", "terminal.unlock", "terminal.command"]))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func relocationAlertsAtTheToleranceAndTheBlockAnInspectorClears(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            // Placement 31.2, 121.4 (a fixed shop): tolerance 500 m, two reports in a row, block.
            expectProblem(try await h.send(.put, "/api/v1/relocation-policy", as: "regionA.admin",
                                           json: #"{"fixedToleranceMeters": 500, "mobileToleranceMeters": 30000, "confirmations": 2, "action": "block"}"#), 403)
            expectProblem(try await h.send(.put, "/api/v1/relocation-policy", as: "admin",
                                           json: #"{"fixedToleranceMeters": 5, "mobileToleranceMeters": 30000, "confirmations": 2, "action": "block"}"#), 422)
            #expect(try await h.send(.put, "/api/v1/relocation-policy", as: "admin",
                                     json: #"{"fixedToleranceMeters": 500, "mobileToleranceMeters": 30000, "confirmations": 2, "action": "block"}"#).status == .ok)
            // Metres per degree of latitude on the sphere RelocationRules uses.
            let metre = 1 / (6_371_008.8 * .pi / 180)
            // Exactly at the tolerance once the uncertainty is taken off: inside, however often.
            for _ in 0..<3 { _ = try await device.beat(latitude: 31.2 + 519.99 * metre, longitude: 121.4, accuracy: 20) }
            #expect(try await h.send(.get, "/api/v1/relocation-alerts", as: "admin").items.isEmpty)
            // An IP fix cannot confirm a shop's move; one GPS fix outside is not enough either.
            _ = try await device.beat(latitude: 31.3, longitude: 121.4, source: "ip", accuracy: 25_000)
            _ = try await device.beat(latitude: 31.2 + 2_000 * metre, longitude: 121.4)
            #expect(try await h.send(.get, "/api/v1/relocation-alerts", as: "admin").items.isEmpty)
            // The second GPS fix a metre past the boundary raises the alert and the block in the same reply.
            let moved = try await device.beat(latitude: 31.2 + 521 * metre, longitude: 121.4, accuracy: 20)
            #expect(moved["locked"] as? Bool == true, "\(moved)")
            let alerts = try await h.send(.get, "/api/v1/relocation-alerts?state=open", as: "regionA.admin")
            let alert = try #require(alerts.items.first, "\(alerts.text)")
            let finding = try #require(alert["finding"] as? [String: Any])
            let evidence = try #require(finding["evidence"] as? [[String: Any]])
            #expect(evidence.count == 2 && finding["toleranceMeters"] as? Double == 500 && finding["action"] as? String == "block")
            #expect(evidence.allSatisfy { ($0["certainDistanceMeters"] as? Double ?? 0) > 500 } && (evidence.first?["report"] as? [String: Any])?["source"] as? String == "gps")
            #expect(try await h.send(.get, "/api/v1/relocation-alerts", as: "merchantB.owner").items.isEmpty, "not merchant B's")
            // The alert sends an inspector: a relocation task naming it, stored with the alert.
            let tasks = try await h.send(.get, "/api/v1/terminals/\(device.id)/inspections", as: "regionA.admin").items
            #expect(tasks.count == 1 && tasks.first?["reason"] as? String == "relocation" && tasks.first?["alertId"] as? String == alert["id"] as? String,
                    "\(tasks)")
            // Still far: no second alert while one is open.
            _ = try await device.beat(latitude: 31.2 + 3_000 * metre, longitude: 121.4)
            _ = try await device.beat(latitude: 31.2 + 3_000 * metre, longitude: 121.4)
            #expect(try await h.send(.get, "/api/v1/relocation-alerts", as: "admin").items.count == 1)

            // Only clearing the alert lifts the block; an operator's unlock is refused.
            expectProblem(try await h.send(.post, "/api/v1/terminals/\(device.id)/unlock", as: "admin", json: "{}"), 409)
            let clear = "/api/v1/terminals/\(device.id)/relocation-alert/clear"
            expectProblem(try await h.send(.post, clear, as: "merchantA.owner", json: #"{"note": "ok"}"#), 403)
            expectProblem(try await h.send(.post, clear, as: "regionA.admin", json: #"{"note": ""}"#), 422)
            let cleared = try await h.send(.post, clear, as: "regionA.admin",
                                           json: #"{"note": "shop moved next door; placement to be updated"}"#)
            #expect(cleared.status == .ok && cleared.object["state"] as? String == "cleared", "\(cleared.text)")
            expectProblem(try await h.send(.post, clear, as: "regionA.admin", json: #"{"note": "again"}"#), 409)
            let back = try await device.beat(latitude: 31.2, longitude: 121.4)
            #expect(back["locked"] as? Bool == false && (back["commands"] as? [[String: Any]])?.contains { $0["kind"] as? String == "unlock" } == true)

            // Presence: the one deployed terminal is online, per owning organisation.
            try await h.env.services.fleet.flushHeartbeats()
            let presence = try await h.send(.get, "/api/v1/fleet/presence", as: "admin")
            #expect(presence.items.count == 1 && presence.items.first?["online"] as? Int == 1 && presence.items.first?["name"] as? String == "region-a",
                    "\(presence.text)")
        }
    }

    @Test(arguments: [TestBackend.sqlite])
    func fleetConsoleShowsPresenceAlertsAndSendsCommands(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            _ = try await device.beat(latitude: 31.2, longitude: 121.4)
            try await h.env.services.fleet.flushHeartbeats()
            var (jar, csrf) = try await h.consoleSession("admin")
            let overview = try await h.browse(.get, "/console/fleet", jar: &jar)
            #expect(overview.status == .ok && overview.text.contains("region-a") && overview.text.contains(#"id="policy-form""#), "\(overview.status)")
            // A policy form with a bad number keeps the page and says why; a good one is saved.
            let bad = try await h.browse(.post, "/console/fleet/policy", jar: &jar,
                                         form: [("_csrf", csrf), ("fixed", "abc"), ("mobile", "30000"), ("confirmations", "2"), ("action", "block")])
            #expect(bad.status == .unprocessableContent && bad.text.contains("role=\"alert\""))
            let saved = try await h.browse(.post, "/console/fleet/policy", jar: &jar,
                                           form: [("_csrf", csrf), ("fixed", "300"), ("mobile", "20000"), ("confirmations", "1"), ("action", "alert")])
            #expect(saved.status == .found)
            #expect(try await h.env.services.fleet.relocationPolicy(by: try await h.principal("admin")).fixedToleranceMeters == 300)

            // The terminal's page: online, a lock sent from the console reaches the next heartbeat.
            let page = try await h.browse(.get, "/console/fleet/terminals/\(device.id)", jar: &jar)
            #expect(page.status == .ok && page.text.contains(#"id="command-form""#) && page.text.contains("2.3.1"))
            let locked = try await h.browse(.post, "/console/fleet/terminals/\(device.id)/command", jar: &jar,
                                            form: [("_csrf", csrf), ("kind", "lock"), ("note", "merchant reported it stolen")])
            #expect(locked.status == .found)
            #expect(try await device.beat()["locked"] as? Bool == true)
            let refused = try await h.browse(.post, "/console/fleet/terminals/\(device.id)/command", jar: &jar,
                                             form: [("_csrf", csrf), ("kind", "lock"), ("note", "again")])
            #expect(refused.status == .conflict && refused.text.contains("already locked"))

            // A move under the alert-only policy shows on the overview with its evidence, and is cleared there.
            _ = try await device.beat(latitude: 31.25, longitude: 121.4)
            let alerted = try await h.browse(.get, "/console/fleet", jar: &jar)
            let alert = try #require(try await h.env.services.fleet.relocationAlerts(state: .open, by: try await h.principal("admin")).first)
            #expect(alerted.text.contains(device.terminal.sn) && alerted.text.contains("gps"))
            let cleared = try await h.browse(.post, "/console/fleet/alerts/\(alert.id)/clear", jar: &jar,
                                             form: [("_csrf", csrf), ("note", "market day stall, allowed")])
            #expect(cleared.status == .found)
            jar.cookies[CookieName.language] = "zh-CN"
            let chinese = try await h.browse(.get, "/console/fleet", jar: &jar)
            #expect(chinese.text.contains("没有未处理的移机告警") && chinese.text.contains("终端监控"))
        }
    }
}
