import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The Estate API as an integration would use it: model → stock-in → transfer → receipt →
/// bind (settlement account accepted, stored masked) → install → dossier with the whole history.
@Suite struct EstateAPITests {
    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test(arguments: TestBackend.allCases)
    func stockInToInstalledThroughTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { harness in
            let expiry = Date().addingTimeInterval(365 * 86400).iso8601
            let model = try await harness.send(.post, "/api/v1/terminal-models", as: "admin", json: """
                {"manufacturer":"PAX","name":"A920","terminalClass":"smart_android","connectivity":["4G"],
                 "ptsApproval":"4-30310","ptsExpiry":"\(expiry)","unionPayCertified":true}
                """)
            #expect(model.status == .created, "\(String(buffer: model.body))")
            let modelId = try #require(try Self.json(model)["id"] as? String)
            #expect(try Self.json(model)["certification"] as? String == "valid")

            let stocked = try await harness.send(.post, "/api/v1/terminals", as: "admin", json: """
                {"sn":"pax-0001","tid":"12345678","modelId":"\(modelId)","purchaseCost":185000,"keyCheckValue":"TMK:1A2B3C"}
                """)
            #expect(stocked.status == .created, "\(String(buffer: stocked.body))")
            let terminalId = try #require(try Self.json(stocked)["id"] as? String)
            #expect(try Self.json(stocked)["sn"] as? String == "PAX-0001")

            // One level down to region A, received there.
            let fixtures = harness.fixtures
            let moved = try await harness.send(.post, "/api/v1/terminals/transfers", as: "admin", json: """
                {"terminalIds":["\(terminalId)"],"destinationId":"\(fixtures.regionA.rawValue)","reason":"allocation"}
                """)
            #expect(moved.status == .ok, "\(String(buffer: moved.body))")
            let received = try await harness.send(.post, "/api/v1/terminals/receipts", as: "regionA.admin", json: """
                {"terminalIds":["\(terminalId)"]}
                """)
            #expect(received.status == .ok, "\(String(buffer: received.body))")

            // The merchant passes onboarding first: the binding takes MID, credit code and account from its file.
            try await Fixtures.onboard(fixtures.merchantA, services: harness.env.services,
                                       application: Fixtures.application(account: "6222021234567890123"), mid: "898310048161234")
            // A CVV anywhere is refused even on the bind route.
            let bindBody = """
                {"merchantId":"\(fixtures.merchantA.rawValue)","storeId":"\(fixtures.storeA.rawValue)",
                 "placement":{"address":"上海市徐汇区漕溪北路 1 号","latitude":31.19,"longitude":121.43}}
                """
            let withCVV = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/bind", as: "regionA.admin",
                                                 json: String(bindBody.dropLast()) + ",\"cvv\":\"123\"}")
            #expect(withCVV.status == .unprocessableContent)
            let bound = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/bind", as: "regionA.admin", json: bindBody)
            #expect(bound.status == .ok, "\(String(buffer: bound.body))")
            #expect(!String(buffer: bound.body).contains("6222021234567890123"))

            let installed = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/install", as: "regionA.admin",
                                                   json: #"{"installer":"吴刚"}"#)
            #expect(installed.status == .ok, "\(String(buffer: installed.body))")
            let illegal = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/install", as: "regionA.admin",
                                                 json: #"{"installer":"again"}"#)
            #expect(illegal.status == .conflict)

            // The merchant's side keeps the usage log of its own terminal; merchant B cannot write to it.
            let usage = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/usage", as: "merchantA.owner",
                                               json: #"{"operation":"daily settlement","amount":1234500}"#)
            #expect(usage.status == .created, "\(String(buffer: usage.body))")
            let negative = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/usage", as: "merchantA.owner",
                                                  json: #"{"operation":"refund","amount":-1}"#)
            #expect(negative.status == .unprocessableContent)
            let intruder = try await harness.send(.post, "/api/v1/terminals/\(terminalId)/usage", as: "merchantB.owner",
                                                  json: #"{"operation":"tamper"}"#)
            #expect(intruder.status == .notFound)

            let dossier = try await harness.send(.get, "/api/v1/terminals/\(terminalId)", as: "merchantA.owner")
            #expect(dossier.status == .ok)
            let body = try Self.json(dossier)
            let history = try #require(body["history"] as? [[String: Any]])
            #expect(history.compactMap { $0["action"] as? String } == ["install", "bind", "receive", "dispatch", "stock_in"])
            let usageLog = try #require(body["usage"] as? [[String: Any]])
            #expect(usageLog.count == 1)
            #expect(usageLog.first?["operation"] as? String == "daily settlement")
            #expect(usageLog.first?["amount"] as? Int == 1234500)
            #expect(usageLog.first?["recordedBy"] as? String == "merchanta.owner")
            let binding = try #require(body["binding"] as? [String: Any])
            #expect(binding["settlementAccount"] as? String == "6222 **** **** 0123")
            #expect(binding["acquirerCode"] as? String == "ACQ")
            // Merchants never see costs; merchant B does not see the terminal at all.
            let terminal = try #require(body["terminal"] as? [String: Any])
            #expect(terminal["purchaseCost"] == nil)
            let other = try await harness.send(.get, "/api/v1/terminals/\(terminalId)", as: "merchantB.owner")
            #expect(other.status == .notFound)
            let search = try await harness.send(.get, "/api/v1/terminals?mid=898310048161234", as: "merchantB.owner")
            let bItems = try Self.json(search)["items"] as? [Any]
            #expect(bItems?.isEmpty == true)
            let found = try await harness.send(.get, "/api/v1/terminals?mid=898310048161234&state=installed", as: "admin")
            #expect((try Self.json(found)["items"] as? [[String: Any]])?.first?["purchaseCost"] as? Int == 185000)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func badEstateInputIsAFieldError(backend: TestBackend) async throws {
        try await Harness.run(backend) { harness in
            let badClass = try await harness.send(.post, "/api/v1/terminal-models", as: "admin", json: """
                {"manufacturer":"PAX","name":"A920","terminalClass":"toaster","ptsApproval":"4-1","ptsExpiry":"2030-01-01T00:00:00Z","unionPayCertified":true}
                """)
            #expect(badClass.status == .unprocessableContent)
            let badState = try await harness.send(.get, "/api/v1/terminals?state=lost", as: "admin")
            #expect(badState.status == .unprocessableContent)
            #expect(String(buffer: badState.body).contains("state"))
            let unknownTerminal = try await harness.send(.post, "/api/v1/terminals/\(UUIDv7.make())/scrap", as: "admin", json: #"{"reason":"x"}"#)
            #expect(unknownTerminal.status == .notFound)
            let noReason = try await harness.send(.post, "/api/v1/terminals/not-an-id/scrap", as: "admin", json: "{}")
            #expect(noReason.status == .notFound)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func csvImportAndExportOverHTTP(backend: TestBackend) async throws {
        try await Harness.run(backend) { harness in
            let model = try await harness.send(.post, "/api/v1/terminal-models", as: "admin", json: """
                {"manufacturer":"Sunmi","name":"P2","terminalClass":"smart_android","ptsApproval":"4-30455","ptsExpiry":"2031-01-01","unionPayCertified":true}
                """)
            #expect(model.status == .created, "\(String(buffer: model.body))")
            let csv = "sn,tid,model,owner\nCSV-0001,61000001,Sunmi P2,REGION-A\nCSV-0002,61000002,Sunmi P2,REGION-A\n"
            let headers: HTTPFields = [.contentType: "text/csv"]
            let dry = try await harness.send(.post, "/api/v1/terminals/import?dryRun=true", as: "admin", json: csv, headers: headers)
            #expect(dry.status == .ok, "\(String(buffer: dry.body))")
            let done = try await harness.send(.post, "/api/v1/terminals/import", as: "admin", json: csv, headers: headers)
            #expect(done.status == .created)
            #expect(try Self.json(done)["created"] as? Int == 2)
            // A card number in any cell is refused before anything is parsed into terminals.
            let withCard = try await harness.send(.post, "/api/v1/terminals/import", as: "admin",
                                                  json: "sn,tid,model,notes\nCSV-0003,61000003,Sunmi P2,4111111111111111\n", headers: headers)
            #expect(withCard.status == .unprocessableContent)
            #expect(!String(buffer: withCard.body).contains("4111111111111111"))
            // Merchants cannot import.
            let merchant = try await harness.send(.post, "/api/v1/terminals/import", as: "merchantA.owner", json: csv, headers: headers)
            #expect(merchant.status == .forbidden)

            // Narrowing to a region: A has both, B none; an organisation the caller cannot see is a field error.
            let inA = try await harness.send(.get, "/api/v1/terminals?orgId=\(harness.fixtures.regionA.rawValue)", as: "admin")
            #expect((try Self.json(inA)["items"] as? [Any])?.count == 2)
            let inB = try await harness.send(.get, "/api/v1/terminals?orgId=\(harness.fixtures.regionB.rawValue)", as: "admin")
            #expect((try Self.json(inB)["items"] as? [Any])?.isEmpty == true)
            let foreign = try await harness.send(.get, "/api/v1/terminals?orgId=\(harness.fixtures.regionB.rawValue)", as: "merchantA.owner")
            #expect(foreign.status == .unprocessableContent)

            let export = try await harness.send(.get, "/api/v1/terminals/export.csv?sn=CSV-", as: "admin")
            #expect(export.status == .ok)
            #expect(export.headers[.contentType] == "text/csv; charset=utf-8")
            let rows = try CSV.parse(String(buffer: export.body))
            #expect(rows.count == 3)
            #expect(Set(rows.dropFirst().map { $0.fields[0] }) == ["CSV-0001", "CSV-0002"])
        }
    }
}

/// Purchasing over HTTP: submit, decide along the chain with the right people, stock in against it.
@Suite struct PurchaseAPITests {
    @Test(arguments: TestBackend.allCases)
    func submitDecideAndStockIn(backend: TestBackend) async throws {
        try await Harness.run(backend) { harness in
            let model = try await harness.send(.post, "/api/v1/terminal-models", as: "admin", json: """
                {"manufacturer":"PAX","name":"A920","terminalClass":"smart_android","ptsApproval":"4-1","ptsExpiry":"2031-01-01","unionPayCertified":true}
                """)
            let modelId = try #require(try EstateAPITests.json(model)["id"] as? String)
            // A one-step chain decided by security keeps the HTTP walk short; the full chain is tested in the store suite.
            let chain = try await harness.send(.put, "/api/v1/purchase-chain", as: "admin",
                                               json: #"{"steps":[{"name":"security_assessment","role":"security"}]}"#)
            #expect(chain.status == .ok, "\(String(buffer: chain.body))")
            let submitted = try await harness.send(.post, "/api/v1/purchase-requests", as: "admin",
                                                   json: #"{"modelId":"\#(modelId)","quantity":1,"reason":"spare","unitCost":185000}"#)
            #expect(submitted.status == .created, "\(String(buffer: submitted.body))")
            let id = try #require(try EstateAPITests.json(submitted)["id"] as? String)
            let wrongPerson = try await harness.send(.post, "/api/v1/purchase-requests/\(id)/decision", as: "admin", json: #"{"decision":"approve"}"#)
            #expect(wrongPerson.status == .forbidden)
            let badDecision = try await harness.send(.post, "/api/v1/purchase-requests/\(id)/decision", as: "security", json: #"{"decision":"maybe"}"#)
            #expect(badDecision.status == .unprocessableContent)
            let approved = try await harness.send(.post, "/api/v1/purchase-requests/\(id)/decision", as: "security", json: #"{"decision":"approve"}"#)
            #expect(try EstateAPITests.json(approved)["status"] as? String == "approved")
            let stocked = try await harness.send(.post, "/api/v1/purchase-requests/\(id)/stock-in", as: "admin",
                                                 json: #"{"terminals":[{"sn":"PUR-0001","tid":"77000001","modelId":"\#(modelId)"}]}"#)
            #expect(stocked.status == .created, "\(String(buffer: stocked.body))")
            let after = try await harness.send(.get, "/api/v1/purchase-requests/\(id)", as: "admin")
            #expect(try EstateAPITests.json(after)["status"] as? String == "completed")
            let listed = try await harness.send(.get, "/api/v1/purchase-requests?status=completed", as: "admin")
            #expect((try EstateAPITests.json(listed)["items"] as? [Any])?.count == 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consoleStocksInAgainstAnApprovedRequest(backend: TestBackend) async throws {
        try await Harness.run(backend) { harness in
            let admin = try await harness.principal("admin")
            let estate = harness.env.services.estate
            let model = try await estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: [], ptsApproval: "4-1",
                ptsExpiry: Date().addingTimeInterval(86400 * 365), unionPayCertified: true, unionPayCertificate: nil), by: admin)
            _ = try await estate.setPurchaseChain([ApprovalStep(name: "security_assessment", role: .security)], by: admin)
            let request = try await estate.submitPurchase(modelId: model.id, quantity: 2, reason: "spares", unitCost: 99_000, by: admin)
            _ = try await estate.decidePurchase(request.id, .approve, comment: nil, by: try await harness.principal("security"))

            var (jar, csrf) = try await harness.consoleSession("admin")
            let page = try await harness.browse(.get, "/console/purchases", jar: &jar)
            #expect(page.text.contains("id=\"stock-in-\(request.id.rawValue)\""))
            // One bad line refuses the whole batch; nothing is stocked in.
            let bad = try await harness.browse(.post, "/console/purchases/\(request.id.rawValue)/stock-in", jar: &jar,
                                               form: [("_csrf", csrf), ("terminals", "CON-0001 77100001\nCON-0002")])
            #expect(bad.status == .unprocessableContent && bad.text.contains("line 2"))
            let tooMany = try await harness.browse(.post, "/console/purchases/\(request.id.rawValue)/stock-in", jar: &jar,
                                                   form: [("_csrf", csrf), ("terminals", "A-0001 77100001\nA-0002 77100002\nA-0003 77100003")])
            #expect(tooMany.status == .conflict && tooMany.text.contains("allows 2 more terminals, not 3"))
            let good = try await harness.browse(.post, "/console/purchases/\(request.id.rawValue)/stock-in", jar: &jar,
                                                form: [("_csrf", csrf), ("terminals", "CON-0001, 77100001\n\nCON-0002\t77100002\n")])
            #expect(good.status == .found)
            let after = try await estate.purchase(request.id, by: admin)
            #expect(after.status == .completed && after.stockedIn == 2)
            let stocked = try await estate.search(TerminalFilter(sn: "CON-"), page: PageRequest(limit: 10), by: admin).items
            #expect(stocked.count == 2 && stocked.allSatisfy { $0.purchaseCost == 99_000 && $0.modelId == model.id })
        }
    }
}
