import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Members over HTTP: enrolment, masking by role (a cashier's console session against the owner's
/// token), audited phone reads, lookup at the till with member prices in the quote and the sale,
/// offers as CSV, and the all-or-nothing CSV import.
@Suite struct MemberAPITests {
    @Test(arguments: TestBackend.allCases)
    func membersOverTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let store = h.fixtures.storeA.rawValue
            let product = try await h.send(.post, "/api/v1/products", as: "merchantA.owner",
                                           json: #"{"sku": "COLA", "nameZh": "可乐", "price": 350, "memberPrice": 300, "category": "drinks"}"#)
            let productId = try #require(product.object["id"] as? String)
            let enrolled = try await h.send(.post, "/api/v1/members", as: "merchantA.owner", json: """
                {"phone": "+86 138 0013 8000", "name": "王芳", "birthday": "1990-05-12", "tags": ["VIP"], "consent": {"marketing": true}}
                """, headers: [HTTPField.Name("Idempotency-Key")!: "enrol-1"])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            let id = try #require(enrolled.object["id"] as? String)
            let card = try #require(enrolled.object["cardNumber"] as? String)
            #expect(enrolled.object["phone"] as? String == "138****8000" && enrolled.object["name"] as? String == "王芳")
            let again = try await h.send(.post, "/api/v1/members", as: "merchantA.owner", json: """
                {"phone": "+86 138 0013 8000", "name": "王芳", "birthday": "1990-05-12", "tags": ["VIP"], "consent": {"marketing": true}}
                """, headers: [HTTPField.Name("Idempotency-Key")!: "enrol-1"])
            #expect(again.object["id"] as? String == id, "the same key answers the same member")
            expectProblem(try await h.send(.post, "/api/v1/members", as: "merchantA.owner", json: #"{"phone": "13800138000"}"#), 409, "phone taken")
            expectProblem(try await h.send(.post, "/api/v1/members", as: "merchantA.owner", json: #"{"phone": "12345"}"#), 422, "not a mobile")

            // The cashier (console session) sees masks only and may not read the full number.
            let login = try await h.env.services.access.login(username: "storeA.cashier", password: Fixtures.password, origin: "test")
            let cashier: HTTPFields = [.cookie: "\(CookieName.session)=\(login.cookieSecret)",
                                       HTTPField.Name("X-CSRF-Token")!: login.session.csrfToken]
            let list = try await h.send(.get, "/api/v1/members", headers: cashier)
            #expect(list.items.map { $0["phone"] as? String } == ["138****8000"] && list.items.map { $0["name"] as? String } == ["王*"], "\(list.text)")
            #expect(!list.text.contains("13800138000") && !list.text.contains("王芳") && !list.text.contains("1990-05-12"))
            expectProblem(try await h.send(.get, "/api/v1/members/\(id)/phone", headers: cashier), 403, "cashier reads a phone")
            let reveal = try await h.send(.get, "/api/v1/members/\(id)/phone", as: "merchantA.owner")
            #expect(reveal.object["phone"] as? String == "13800138000")
            #expect(try await h.events(AuditFilter(action: "member.phone_read", resourceId: id)) == 1)

            // At the till: found by card, member price quoted and charged.
            let found = try await h.send(.get, "/api/v1/member-lookup?q=\(card)&storeId=\(store)", headers: cashier)
            #expect(found.status == .ok, "\(found.text)")
            #expect((found.object["member"] as? [String: Any])?["id"] as? String == id)
            #expect((found.object["benefits"] as? [String: Any])?["memberPrice"] as? Bool == true)
            let quote = try await h.send(.post, "/api/v1/carts/price", json: """
                {"storeId": "\(store)", "memberId": "\(id)", "lines": [{"productId": "\(productId)", "quantity": 2000}]}
                """, headers: cashier)
            #expect(quote.object["total"] as? Int == 600, "\(quote.text)")
            _ = try await h.send(.post, "/api/v1/shifts", json: #"{"storeId": "\#(store)", "registerId": "WEB-1", "openingFloat": 0}"#, headers: cashier)
            let sale = try await h.send(.post, "/api/v1/sales", json: """
                {"id": "\(SaleID.generate().rawValue)", "storeId": "\(store)", "registerId": "WEB-1", "registerSeq": 1, "memberId": "\(id)",
                 "lines": [{"productId": "\(productId)", "quantity": 2000}], "tenders": [{"kind": "cash", "tendered": 1000}], "expectedTotal": 600}
                """, headers: cashier)
            #expect(sale.status == .created || sale.status == .ok, "\(sale.text)")
            let member = try await h.send(.get, "/api/v1/members/\(id)", headers: cashier)
            #expect(member.object["points"] as? Int == 6 && member.object["visits"] as? Int == 1, "\(member.text)")
            let ledger = try await h.send(.get, "/api/v1/members/\(id)/ledger", as: "merchantA.owner")
            #expect(ledger.items.map { $0["reason"] as? String } == ["earn"])

            // Offers: the birthday-month list is a CSV of members who agreed to marketing.
            let offers = try await h.send(.get, "/api/v1/member-offers.csv?code=lapsed", as: "merchantA.owner")
            #expect(offers.status == .ok && offers.text.hasPrefix("card_number,phone,name,tier"), "\(offers.text)")

            // A member card given at enrolment (`memberCard`: bank-card field names are refused by the card-data guard).
            let carded = try await h.send(.post, "/api/v1/members", as: "merchantA.owner", json: #"{"phone": "13700137000", "memberCard": "vip0001"}"#)
            #expect(carded.status == .created && carded.object["cardNumber"] as? String == "VIP0001", "\(carded.text)")
            // Import: one bad row refuses the whole file; a clean file is written whole.
            let bad = "phone,name,points,stored_value\n13900139000,李雷,100,50.00\n13900139001,韩梅梅,-5,0\n"
            let refused = try await h.send(.post, "/api/v1/members/import", as: "merchantA.owner", json: bad, headers: [.contentType: "text/csv"])
            #expect(refused.status == .unprocessableContent && refused.text.contains("line 3: points"), "\(refused.text)")
            #expect(try await h.send(.get, "/api/v1/members", as: "merchantA.owner").items.count == 2, "nothing of the refused file is kept")
            let good = "phone,name,points,stored_value,marketing_consent\n13900139000,李雷,100,50.00,yes\n13900139001,韩梅梅,0,0,no\n"
            let imported = try await h.send(.post, "/api/v1/members/import", as: "merchantA.owner", json: good, headers: [.contentType: "text/csv"])
            #expect(imported.status == .created && imported.object["created"] as? Int == 2, "\(imported.text)")
            let lilei = try await h.send(.get, "/api/v1/member-lookup?q=13900139000&storeId=\(store)", as: "merchantA.owner")
            #expect((lilei.object["member"] as? [String: Any])?["storedValue"] as? Int == 5_000)
            #expect((lilei.object["member"] as? [String: Any])?["points"] as? Int == 100)

            // Another merchant sees none of it.
            expectProblem(try await h.send(.get, "/api/v1/members/\(id)", as: "merchantB.owner"), 404, "other merchant")
            expectProblem(try await h.send(.get, "/api/v1/member-lookup?q=13800138000&storeId=\(h.fixtures.storeB.rawValue)", as: "merchantB.owner"),
                          404, "not a member there")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func memberConsolePages(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var (jar, csrf) = try await h.consoleSession("merchantA.owner")
            let empty = try await h.browse(.get, "/console/members", jar: &jar)
            #expect(empty.status == .ok && empty.text.contains(#"id="member-form""#) && empty.text.contains(#"id="member-import-form""#))
            let bad = try await h.browse(.post, "/console/members", jar: &jar, form: [("_csrf", csrf), ("phone", "123")])
            #expect(bad.status == .unprocessableContent && bad.text.contains("role=\"alert\""))
            let made = try await h.browse(.post, "/console/members", jar: &jar,
                                          form: [("_csrf", csrf), ("phone", "13800138000"), ("name", "王芳"), ("tags", "VIP"), ("analytics", "1")])
            #expect(made.status == .found, "\(made.status)")
            let member = try #require(try await h.env.services.members.list(merchantId: nil, filter: MemberFilter(), page: PageRequest(),
                                                                           by: try await h.principal("merchantA.owner")).items.first)
            let page = try await h.browse(.get, "/console/members/\(member.id.rawValue)", jar: &jar)
            #expect(page.status == .ok && page.text.contains("138****8000") && page.text.contains("王芳") && page.text.contains(#"id="member-reveal""#))
            let revealed = try await h.browse(.post, "/console/members/\(member.id.rawValue)/phone", jar: &jar, form: [("_csrf", csrf), ("version", "1")])
            #expect(revealed.status == .ok && revealed.text.contains("13800138000"))
            let topUp = try await h.browse(.post, "/console/members/\(member.id.rawValue)/top-up", jar: &jar,
                                           form: [("_csrf", csrf), ("amount", "100.00"), ("tender", "cash")])
            #expect(topUp.status == .found)
            let after = try await h.browse(.get, "/console/members/\(member.id.rawValue)", jar: &jar)
            #expect(after.text.contains("100.00") && after.text.contains("Top-up"))
            let program = try await h.browse(.get, "/console/members/program", jar: &jar)
            #expect(program.status == .ok && program.text.contains("silver"))
            let imported = try await h.browse(.post, "/console/members/import", jar: &jar,
                                              form: [("_csrf", csrf), ("csv", "phone,name\n13900139000,李雷\n")])
            #expect(imported.status == .created && imported.text.contains("1 members imported"), "\(imported.status)")
            // A cashier sees masks only, and neither the forms nor the reveal button.
            var (cashierJar, _) = try await h.consoleSession("storeA.cashier")
            let cashierList = try await h.browse(.get, "/console/members", jar: &cashierJar)
            #expect(cashierList.status == .ok && cashierList.text.contains("王*") && !cashierList.text.contains("王芳")
                    && !cashierList.text.contains(#"id="member-form""#))
            let cashierPage = try await h.browse(.get, "/console/members/\(member.id.rawValue)", jar: &cashierJar)
            #expect(cashierPage.status == .ok && !cashierPage.text.contains(#"id="member-reveal""#) && !cashierPage.text.contains("13800138000"))
            jar.cookies[CookieName.language] = "zh-CN"
            #expect(try await h.browse(.get, "/console/members", jar: &jar).text.contains("新增会员"))
        }
    }
}
