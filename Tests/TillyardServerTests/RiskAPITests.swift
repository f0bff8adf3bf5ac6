import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Risk over HTTP on both engines: uploads screened in their own transaction (counters, alerts,
/// evidence), cases from open to closed with precision per rule, shadow rules and back-tests,
/// the block action, refused terminals, relocation alerts in the queue, settlement
/// reconciliation, card data that never reaches storage, and the webhook.
@Suite struct RiskAPITests {
    typealias Device = FleetOperationsTests.Device

    static let pan = "622202******1234"

    /// An upload body; each item is (id, amount, kind, masked PAN).
    static func upload(_ items: [(String, Int64, String, String?)], at: Date, extra: String = "") -> String {
        let time = ISO8601DateFormatter().string(from: at)
        let rows = items.map { id, amount, kind, pan in
            let card = pan.map { #", "maskedPan": "\#($0)", "cardType": "debit", "entryMode": "chip""# } ?? #", "tender": "wechat", "entryMode": "qr""#
            let tender = pan == nil ? "" : #", "tender": "card""#
            return #"{"id": "\#(id)", "at": "\#(time)", "kind": "\#(kind)", "amount": \#(amount), "currency": "CNY", "approved": true, "responseCode": "00"\#(tender)\#(card), "rrn": "123456789012"\#(extra)}"#
        }
        return #"{"transactions": [\#(rows.joined(separator: ","))]}"#
    }

    func alerts(_ h: Harness, _ query: String = "", as user: String = "security") async throws -> [[String: Any]] {
        try await h.send(.get, "/api/v1/risk-alerts\(query)", as: user).items
    }

    @Test(arguments: TestBackend.allCases)
    func uploadsAreScreenedCountedAndHandledAsCases(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let now = h.env.clock.clock.now()
            // Five payments of one card (the fifth trips the velocity rule) and one of 8,000 yuan with another card.
            let first = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload(
                (1...5).map { ("v-\($0)", Int64($0) * 1_000, "sale", Self.pan) } + [("big", 800_000, "sale", "625807******5678")], at: now,
                extra: #", "mid": "898310048161234", "tid": "10000001", "latitude": 31.2, "longitude": 121.4"#))
            #expect(first.status == .ok && (first.object["stored"] as? [String])?.count == 6, "\(first.text)")
            var queue = try await alerts(h)
            #expect(Set(queue.compactMap { $0["rule"] as? String }).isSuperset(of: ["card_velocity", "large_amount"]), "\(queue)")
            // A sixth payment of the card adds its evidence to the same alert (one per card and day).
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("v-6", 6_000, "sale", Self.pan)], at: now))
            queue = try await alerts(h, "?rule=card_velocity")
            #expect(queue.count == 1)
            let velocity = try #require(queue.first)
            let id = try #require(velocity["id"] as? String)
            #expect((velocity["numbers"] as? [String: Any])?["count"] as? Int == 5 && velocity["severity"] as? String == "medium")
            let detail = try await h.send(.get, "/api/v1/risk-alerts/\(id)", as: "security").object
            let evidence = try #require(detail["transactions"] as? [[String: Any]])
            #expect(evidence.compactMap { ($0["transaction"] as? [String: Any])?["id"] as? String } == ["v-5", "v-6"], "\(detail)")
            #expect((evidence.first?["transaction"] as? [String: Any])?["entryMode"] as? String == "chip")

            // The counters moved in the upload's transaction: six attempts of the card today.
            let counted = try await h.env.services.database.session { db in
                try await db.raw("SELECT MAX(count) AS n FROM risk_counters WHERE key LIKE 'c:%'").first()?.decode(column: "n", as: Int64?.self)
            }
            #expect(counted == 6)

            // A MID or TID that is not the terminal's refuses the batch.
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("m-1", 100, "sale", nil)], at: now,
                                                                                                     extra: #", "mid": "898310048169999""#)), 422)
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("m-2", 100, "pre_auth", nil)], at: now,
                                                                                                     extra: #", "tid": "99999999""#)), 422)

            // Who may see and handle alerts.
            expectProblem(try await h.send(.get, "/api/v1/risk-alerts", as: "merchantA.owner"), 403)
            expectProblem(try await h.send(.post, "/api/v1/risk-alerts/\(id)/assign", as: "security", json: #"{"assignee": "merchantA.owner", "version": 1}"#), 422)
            let assigned = try await h.send(.post, "/api/v1/risk-alerts/\(id)/assign", as: "admin", json: #"{"assignee": "security", "version": 1}"#)
            #expect(assigned.status == .ok && assigned.object["assignee"] as? String == "security" && assigned.object["version"] as? Int == 2)
            expectProblem(try await h.send(.post, "/api/v1/risk-alerts/\(id)/status", as: "security", json: #"{"status": "investigating", "version": 1}"#), 409)
            #expect(try await h.send(.post, "/api/v1/risk-alerts/\(id)/status", as: "security", json: #"{"status": "investigating", "version": 2}"#).status == .ok)
            #expect(try await h.send(.post, "/api/v1/risk-alerts/\(id)/comments", as: "security", json: #"{"text": "called the cardholder"}"#).status == .created)
            h.env.clock.advance(60)
            expectProblem(try await h.send(.post, "/api/v1/risk-alerts/\(id)/status", as: "security", json: #"{"status": "closed_false_positive", "version": 3}"#), 422,
                          "closing needs a note")
            let closed = try await h.send(.post, "/api/v1/risk-alerts/\(id)/status", as: "security",
                                          json: #"{"status": "closed_false_positive", "note": "regular customer, repeated lunch", "version": 3}"#)
            #expect(closed.object["status"] as? String == "closed_false_positive" && closed.object["closedBy"] as? String == "security")
            expectProblem(try await h.send(.post, "/api/v1/risk-alerts/\(id)/status", as: "security", json: #"{"status": "open", "version": 4}"#), 409)
            let comments = try #require(try await h.send(.get, "/api/v1/risk-alerts/\(id)", as: "security").object["comments"] as? [[String: Any]])
            #expect(comments.compactMap { $0["text"] as? String } == ["called the cardholder", "regular customer, repeated lunch"])

            // The false positive shows in the rule's precision.
            let rules = try await h.send(.get, "/api/v1/risk-rules", as: "security").items
            let figures = try #require(rules.first { ($0["rule"] as? [String: Any])?["kind"] as? String == "card_velocity" }?["figures"] as? [String: Any])
            #expect(figures["closed"] as? Int == 1 && figures["falsePositives"] as? Int == 1, "\(figures)")
            let audit = try await h.env.services.store.read { try await $0.audit.list(under: "/", filter: AuditFilter(), page: PageRequest(limit: 100)) }
            #expect(Set(audit.items.map(\.action)).isSuperset(of: ["risk.assign", "risk.status", "risk.comment"]))

            // Monitoring: counts by merchant and response code, approval trend.
            let monitor = try await h.send(.get, "/api/v1/risk-monitor", as: "security").object
            let merchants = try #require(monitor["byMerchant"] as? [[String: Any]])
            #expect(merchants.first?["label"] as? String == "merchant-a" && merchants.first?["count"] as? Int == 7, "\(merchants)")
            #expect((monitor["byResponseCode"] as? [[String: Any]])?.first?["key"] as? String == "00")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func fullCardDataIsRefusedAndNeverStored(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let now = h.env.clock.clock.now()
            let full = "6222021234561236" // Luhn-valid
            #expect(CardDataGuard.luhn(full))
            let refused = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("p-1", 100, "sale", full)], at: now))
            expectProblem(refused, 422)
            #expect(!refused.text.contains(full), "the answer never echoes the number")
            for body in [#"{"transactions": [{"id": "p-2", "cvv": "123"}]}"#, #"{"transactions": [{"id": "p-3", "track2": ";6222021234561236=25121010000012300000"}]}"#,
                         #"{"transactions": [{"id": "p-4", "pinBlock": "0412AC89ABCDEF01"}]}"#] {
                expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: body), 422)
            }
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("ok-1", 100, "sale", Self.pan)], at: now))
            // Nothing anywhere in the database holds the number, the CVV, the track or the PIN block.
            let secrets = [full, "0412AC89ABCDEF01", "25121010000012300000"]
            switch h.env.services.database.location {
            case .sqlite(let path):
                try await h.env.services.database.session { db in try await db.raw("PRAGMA wal_checkpoint(TRUNCATE)").run() }
                for file in [path, path + "-wal"] {
                    guard let bytes = FileManager.default.contents(atPath: file) else { continue }
                    for secret in secrets { #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds \(secret)") }
                }
            case .postgres:
                let dump = try await h.env.services.database.session { db -> String in
                    let tables = try await db.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").all()
                        .map { try $0.decode(column: "table_name", as: String.self) }
                    var text = ""
                    for table in tables {
                        let rows = try await db.raw("SELECT string_agg(t::text, '|') AS dump FROM \(ident: table) t").first()
                        text += try rows?.decode(column: "dump", as: String?.self) ?? ""
                    }
                    return text
                }
                #expect(dump.contains("622202******1234"), "the dump reads stored rows")
                for secret in secrets { #expect(!dump.contains(secret)) }
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func shadowRulesBacktestsAndTheBlockAction(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let now = h.env.clock.clock.now()
            // Rules are the acquirer's: versioned, validated, changed from the top only.
            let shadow = #"{"mode": "shadow", "severity": "high", "actions": ["alert"], "parameters": {"minAmount": 100000}, "version": 0}"#
            expectProblem(try await h.send(.put, "/api/v1/risk-rules/large_amount", as: "regionA.admin", json: shadow), 403)
            expectProblem(try await h.send(.put, "/api/v1/risk-rules/large_amount", as: "admin",
                                           json: #"{"mode": "shadow", "severity": "high", "actions": ["alert"], "parameters": {"minAmount": 0}, "version": 0}"#), 422)
            let saved = try await h.send(.put, "/api/v1/risk-rules/large_amount", as: "admin", json: shadow)
            #expect(saved.status == .ok && saved.object["version"] as? Int == 1, "\(saved.text)")
            expectProblem(try await h.send(.put, "/api/v1/risk-rules/large_amount", as: "admin", json: shadow), 409)
            expectProblem(try await h.send(.put, "/api/v1/risk-rules/nonsense", as: "admin", json: shadow), 404)
            #expect(try await h.send(.get, "/api/v1/risk-rules/large_amount", as: "security").items.map { $0["version"] as? Int } == [1, 0])

            // A shadow rule logs what it would have flagged and raises nothing in the queue.
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("s-1", 200_000, "sale", Self.pan)], at: now))
            #expect(try await alerts(h, "?rule=large_amount").isEmpty)
            #expect(try await alerts(h, "?rule=large_amount&mode=shadow").count == 1)

            // Back-test on the stored history: a stricter velocity would have raised one alert.
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("s-2", 300, "sale", Self.pan), ("s-3", 400, "sale", Self.pan)], at: now))
            let span = { (offset: TimeInterval) in ISO8601DateFormatter().string(from: now.addingTimeInterval(offset)) }
            let backtest = try await h.send(.post, "/api/v1/risk-rules/card_velocity/backtest", as: "security",
                                            json: #"{"from": "\#(span(-3600))", "to": "\#(span(3600))", "parameters": {"minCount": 2}}"#)
            #expect(backtest.object["transactions"] as? Int == 3 && backtest.object["hits"] as? Int == 2 && backtest.object["alerts"] as? Int == 1,
                    "\(backtest.text)")
            let defaults = try await h.send(.post, "/api/v1/risk-rules/card_velocity/backtest", as: "security",
                                            json: #"{"from": "\#(span(-3600))", "to": "\#(span(3600))"}"#)
            #expect(defaults.object["alerts"] as? Int == 0)

            // Enforced with the block action: the terminal is locked by the hit, told so, and its next upload refused and alerted.
            let block = #"{"mode": "enforced", "severity": "critical", "actions": ["block_terminal"], "parameters": {"minCount": 4}, "version": 0}"#
            #expect(try await h.send(.put, "/api/v1/risk-rules/card_velocity", as: "admin", json: block).object["actions"] as? [String] == ["alert", "block_terminal"])
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("s-4", 500, "sale", Self.pan)], at: now))
            h.env.clock.advance(5)
            #expect(try await device.beat()["locked"] as? Bool == true)
            expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("s-5", 600, "sale", nil)], at: h.env.clock.clock.now())), 423)
            let refused = try #require(try await alerts(h, "?rule=refused_terminal").first)
            #expect(refused["severity"] as? String == "critical" && (refused["summary"] as? String)?.contains("locked") == true)
            // An operator lifts a risk block after the investigation.
            #expect(try await h.send(.post, "/api/v1/terminals/\(device.id)/unlock", as: "admin", json: #"{"note": "cleared"}"#).status == .ok)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func uncertifiedTerminalsAreRefusedAndRelocationsJoinTheQueue(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            #expect(try await h.send(.put, "/api/v1/relocation-policy", as: "admin",
                                     json: #"{"fixedToleranceMeters": 500, "mobileToleranceMeters": 30000, "confirmations": 1, "action": "alert"}"#).status == .ok)
            _ = try await device.beat(latitude: 31.3, longitude: 121.4)
            let relocation = try #require(try await alerts(h, "?rule=relocation").first)
            #expect(relocation["relocationAlertId"] as? String != nil && relocation["terminalId"] as? String == device.id)

            // The model's PCI PTS approval lapses: the terminal's transactions are refused (403) and alerted once a day.
            let expired = EpochMillis.from(h.env.clock.clock.now().addingTimeInterval(-86_400))
            try await h.env.services.database.session { db in
                try await db.raw("UPDATE terminal_models SET pts_expiry = \(bind: expired) WHERE id = \(bind: device.terminal.modelId.rawValue)").run()
            }
            let now = h.env.clock.clock.now()
            for id in ["u-1", "u-2"] {
                let refused = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([(id, 100, "sale", Self.pan)], at: now))
                expectProblem(refused, 403)
                #expect(refused.text.contains("uncertified"))
            }
            #expect(try await alerts(h, "?rule=refused_terminal").count == 1)
            #expect(try await h.send(.get, "/api/v1/terminals/\(device.id)/transactions", as: "admin").items.isEmpty, "nothing stored")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func theScheduledSweepRunsMerchantDayRulesOverTheCounters(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let off = #"{"mode": "off", "severity": "high", "actions": ["alert"], "parameters": {}, "version": 0}"#
            #expect(try await h.send(.put, "/api/v1/risk-rules/refunds_exceed_sales", as: "admin", json: off).status == .ok)
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload(
                [("r-1", 1_000, "sale", Self.pan), ("r-2", 2_000, "refund", Self.pan)], at: h.env.clock.clock.now()))
            #expect(try await alerts(h, "?rule=refunds_exceed_sales").isEmpty, "the rule was off when they arrived")
            let on = #"{"mode": "enforced", "severity": "high", "actions": ["alert"], "parameters": {}, "version": 1}"#
            #expect(try await h.send(.put, "/api/v1/risk-rules/refunds_exceed_sales", as: "admin", json: on).status == .ok)
            expectProblem(try await h.send(.post, "/api/v1/risk-sweeps", as: "merchantA.owner"), 403)
            let swept = try await h.send(.post, "/api/v1/risk-sweeps", as: "admin")
            #expect(swept.items.count == 1 && swept.items.first?["rule"] as? String == "refunds_exceed_sales", "\(swept.text)")
            #expect((swept.items.first?["numbers"] as? [String: Any])?["refunds"] as? Int == 2_000)
            #expect(try await h.send(.post, "/api/v1/risk-sweeps", as: "admin").items.isEmpty, "once per merchant and day")
            #expect(try await alerts(h, "?rule=refunds_exceed_sales").first?["merchantId"] as? String == h.fixtures.merchantA.rawValue)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func settlementBatchesAreReconciled(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            let now = h.env.clock.clock.now()
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload(
                [("b-1", 1_000, "sale", Self.pan), ("b-2", 2_000, "sale", nil), ("b-3", 500, "refund", Self.pan)], at: now.addingTimeInterval(-60)))
            let close = ISO8601DateFormatter().string(from: now)
            let good = #"{"batchNo": "000001", "closedAt": "\#(close)", "totals": [{"kind": "sale", "count": 2, "amount": 3000}, {"kind": "refund", "count": 1, "amount": 500}]}"#
            let matched = try await device.send(.post, "/terminal/v1/settlements", json: good)
            #expect(matched.status == .ok && (matched.object["lines"] as? [[String: Any]])?.count == 2, "\(matched.text)")
            let batchId = try #require(matched.object["id"] as? String)
            #expect(try await device.send(.post, "/terminal/v1/settlements", json: good).object["id"] as? String == batchId, "a retry is the same batch")

            #expect(matched.object["held"] as? Bool == false)
            // A large sale under a rule that holds settlement; the terminal counts a sale the server never received and misses one it did.
            #expect(try await h.send(.put, "/api/v1/risk-rules/large_amount", as: "admin",
                                     json: #"{"mode": "enforced", "severity": "high", "actions": ["hold_settlement"], "parameters": {}, "version": 0}"#).status == .ok)
            h.env.clock.advance(120)
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("b-4", 900_000, "sale", Self.pan)], at: h.env.clock.clock.now()))
            let later = ISO8601DateFormatter().string(from: h.env.clock.clock.now().addingTimeInterval(1))
            let bad = #"{"batchNo": "000002", "closedAt": "\#(later)", "totals": [{"kind": "sale", "count": 1, "amount": 900}], "transactionIds": ["b-9"]}"#
            let mismatched = try await device.send(.post, "/terminal/v1/settlements", json: bad)
            #expect(mismatched.object["missingFromBatch"] as? [String] == ["b-4"] && mismatched.object["notUploaded"] as? [String] == ["b-9"], "\(mismatched.text)")
            #expect(mismatched.object["held"] as? Bool == true, "the open alert holds the merchant's settlement")
            let hold = try #require(try await alerts(h, "?rule=large_amount").first)
            #expect(hold["actions"] as? [String] == ["alert", "hold_settlement"])
            #expect(try await h.send(.post, "/api/v1/risk-alerts/\(hold["id"] as? String ?? "")/status", as: "security",
                                     json: #"{"status": "closed_accepted", "note": "wholesale order, verified", "version": 1}"#).status == .ok)
            h.env.clock.advance(60)
            let released = ISO8601DateFormatter().string(from: h.env.clock.clock.now())
            let third = try await device.send(.post, "/terminal/v1/settlements", json: #"{"batchNo": "000003", "closedAt": "\#(released)", "totals": []}"#)
            #expect(third.object["held"] as? Bool == false && (third.object["lines"] as? [Any])?.isEmpty == true, "\(third.text)")
            let listed = try await h.send(.get, "/api/v1/settlement-batches?mismatched=true", as: "security").items
            #expect(listed.count == 1 && listed.first?["batchNo"] as? String == "000002")
            #expect(try await h.send(.get, "/api/v1/settlement-batches/\(batchId)", as: "security").object["batchNo"] as? String == "000001")
            expectProblem(try await h.send(.get, "/api/v1/settlement-batches/\(batchId)", as: "merchantA.owner"), 403)
        }
    }

    @Test(arguments: [TestBackend.sqlite])
    func enforcedAlertsArePostedToTheWebhook(backend: TestBackend) async throws {
        let received = Received()
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            // The first attempt fails: the notifier tries again.
            return await received.add(String(buffer: body)) == 1 ? .serviceUnavailable : .noContent
        }
        try await Application(router: router).test(.live) { client in
            let port = client.port ?? 0
            try await Harness.run(backend) { h in
                h.env.services.fleet.riskNotifier.set(WebhookNotifier(url: URL(string: "http://127.0.0.1:\(port)/hook")!, firstPause: .milliseconds(50)))
                let device = try await Device.activate(h)
                _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("w-1", 900_000, "sale", Self.pan)], at: h.env.clock.clock.now()))
                for _ in 0..<100 where await received.count < 2 { try await Task.sleep(for: .milliseconds(50)) }
                let bodies = await received.bodies
                #expect(bodies.count == 2 && bodies.allSatisfy { $0.contains("large_amount") && $0.contains("risk.alerts") }, "\(bodies)")
                #expect(bodies.allSatisfy { !$0.contains("622202") }, "alerts carry no card number")
            }
        }
    }

    @Test(arguments: [TestBackend.sqlite])
    func consoleShowsChartsTheQueueCasesAndRules(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            // A merchant name with markup: the SVG charts and tables escape it.
            let merchant = try await h.send(.get, "/api/v1/orgs/\(h.fixtures.merchantA.rawValue)", as: "admin").object
            let version = try #require(merchant["version"] as? Int)
            #expect(try await h.send(.patch, "/api/v1/orgs/\(h.fixtures.merchantA.rawValue)", as: "admin",
                                     json: #"{"name": "A&B <shop>", "code": "MERCHANT-A", "version": \#(version)}"#).status == .ok)
            _ = try await device.send(.post, "/terminal/v1/transactions", json: Self.upload(
                (1...5).map { ("c-\($0)", Int64($0) * 1_000, "sale", Self.pan) }, at: h.env.clock.clock.now()))
            var (jar, csrf) = try await h.consoleSession("security")
            let page = try await h.browse(.get, "/console/risk", jar: &jar)
            #expect(page.status == .ok && page.text.components(separatedBy: "<svg").count == 6, "five charts")
            #expect(page.text.contains("<circle"), "transactions of one hour: the approval trend is one point")
            #expect(page.text.contains("A&amp;B &lt;shop&gt;") && !page.text.contains("A&B <shop>"), "labels are escaped")
            #expect(page.text.contains("the same card 5 times today") && page.text.contains(#"id="risk-alerts""#))
            let id = try #require(try await alerts(h, "?rule=card_velocity").first?["id"] as? String)

            // The case page: evidence, then assign, investigate and comment through its forms.
            let alertPage = try await h.browse(.get, "/console/risk/alerts/\(id)", jar: &jar)
            #expect(alertPage.text.contains(Self.pan) && alertPage.text.contains(#"id="status-form""#))
            #expect(try await h.browse(.post, "/console/risk/alerts/\(id)", jar: &jar,
                                       form: [("_csrf", csrf), ("action", "assign"), ("version", "1")]).status == .found)
            #expect(try await h.browse(.post, "/console/risk/alerts/\(id)", jar: &jar,
                                       form: [("_csrf", csrf), ("action", "status"), ("status", "investigating"), ("version", "2")]).status == .found)
            let stale = try await h.browse(.post, "/console/risk/alerts/\(id)", jar: &jar,
                                           form: [("_csrf", csrf), ("action", "status"), ("status", "closed_fraud"), ("text", "x"), ("version", "2")])
            #expect(stale.status == .conflict && stale.text.contains("role=\"alert\""))
            #expect(try await h.browse(.post, "/console/risk/alerts/\(id)", jar: &jar,
                                       form: [("_csrf", csrf), ("action", "comment"), ("text", "card blocked by issuer"), ("version", "3")]).status == .found)
            let handled = try await h.send(.get, "/api/v1/risk-alerts/\(id)", as: "security").object
            #expect((handled["alert"] as? [String: Any])?["status"] as? String == "investigating" && (handled["comments"] as? [Any])?.count == 1)

            // Rules: a new version from the form, and a back-test.
            let rules = try await h.browse(.get, "/console/risk/rules", jar: &jar)
            #expect(rules.status == .ok && rules.text.contains(#"id="rule-card_velocity""#))
            #expect(try await h.browse(.post, "/console/risk/rules/card_velocity", jar: &jar,
                                       form: [("_csrf", csrf), ("mode", "shadow"), ("severity", "high"), ("hold", "1"), ("parameters", "minCount=6"),
                                              ("version", "0")]).status == .found)
            let saved = try await h.send(.get, "/api/v1/risk-rules/card_velocity", as: "security").items.first
            #expect(saved?["mode"] as? String == "shadow" && saved?["actions"] as? [String] == ["alert", "hold_settlement"]
                    && (saved?["parameters"] as? [String: Any])?["minCount"] as? Int == 6)
            let backtest = try await h.browse(.post, "/console/risk/rules/backtest", jar: &jar,
                                              form: [("_csrf", csrf), ("kind", "card_velocity"), ("days", "1"), ("parameters", "minCount=4")])
            #expect(backtest.status == .ok && backtest.text.contains(#"id="backtest-result""#), "\(backtest.text.suffix(2000))")

            jar.cookies[CookieName.language] = "zh-CN"
            #expect(try await h.browse(.get, "/console/risk", jar: &jar).text.contains("告警队列"))
            var (ownerJar, _) = try await h.consoleSession("merchantA.owner")
            #expect(try await h.browse(.get, "/console/risk", jar: &ownerJar).status == .forbidden)
        }
    }

    /// Every log line of an application (at trace level) while terminals send card data: the
    /// values appear in none of them.
    @Test(arguments: [TestBackend.sqlite])
    func cardDataNeverReachesTheLogs(backend: TestBackend) async throws {
        try await TestEnvironment.with(backend) { env in
            let fixtures = try await Fixtures.make(env.services.access)
            let lines = LogLines()
            var logger = Logger(label: "tillyard") { _ in CapturingLogHandler(lines: lines) }
            logger.logLevel = .trace
            let console = try await ConsoleRenderer.load(resources: ConsoleRenderer.bundledResources)
            let app = Application(router: try buildRouter(services: env.services, configuration: env.configuration, console: console), logger: logger)
            try await app.test(.router) { client in
                let h = Harness(env: env, fixtures: fixtures, client: client)
                let device = try await Device.activate(h)
                let now = h.env.clock.clock.now()
                expectProblem(try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("l-1", 100, "sale", "6222021234561236")], at: now)), 422)
                expectProblem(try await device.send(.post, "/terminal/v1/transactions",
                                                    json: #"{"transactions": [{"id": "l-2", "track2": ";6222021234561236=25121010000012300000", "cvv": "987", "pinBlock": "0412AC89ABCDEF01"}]}"#), 422)
                // A full PAN in an operator's body is refused the same way.
                expectProblem(try await h.send(.post, "/api/v1/risk-alerts/x/comments", as: "security", json: #"{"text": "6222021234561236"}"#), 422)
            }
            let logged = lines.all
            #expect(logged.count >= 5, "requests were logged: \(logged)")
            for secret in ["6222021234561236", "25121010000012300000", "0412AC89ABCDEF01", "\"987\""] {
                #expect(!logged.contains { $0.contains(secret) }, "a log line holds \(secret)")
            }
        }
    }

    /// Log lines kept in memory.
    final class LogLines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
    }

    /// A log handler writing every message with its metadata into `LogLines`.
    struct CapturingLogHandler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.add("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 }) \(event.error.map { "\($0)" } ?? "")")
        }
    }

    /// What the loopback webhook received.
    actor Received {
        var bodies: [String] = []
        var count: Int { bodies.count }
        func add(_ body: String) -> Int {
            bodies.append(body)
            return bodies.count
        }
    }
}
