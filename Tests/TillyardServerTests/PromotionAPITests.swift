import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Promotions and cart pricing over HTTP, and the promotions console page.
@Suite struct PromotionAPITests {
    @Test(arguments: TestBackend.allCases)
    func promotionsAndCartPricingOverTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let store = h.fixtures.storeA.rawValue
            let product = try await h.send(.post, "/api/v1/products", as: "merchantA.owner",
                                           json: #"{"sku": "NOODLE", "nameZh": "方便面", "price": 1290, "category": "instant"}"#)
            let productId = try #require(product.object["id"] as? String)

            let created = try await h.send(.post, "/api/v1/promotions", as: "merchantA.owner", json: """
                {"name": "买二送一", "rule": {"kind": "buyXGetY", "buy": 2, "free": 1}, "categories": ["instant"], "storeIds": ["\(store)"]}
                """)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.object["id"] as? String)
            #expect(created.object["status"] as? String == "running" && created.object["description"] as? String == "buy 2 get 1 free")
            #expect((created.object["rule"] as? [String: Any])?["kind"] as? String == "buyXGetY")

            // Bad input is named, and nothing is stored.
            expectProblem(try await h.send(.post, "/api/v1/promotions", as: "merchantA.owner",
                                           json: #"{"name": "x", "rule": {"kind": "halfOff"}}"#), 422, "unknown kind")
            let missing = try await h.send(.post, "/api/v1/promotions", as: "merchantA.owner", json: #"{"name": "x", "rule": {"kind": "percentOff"}}"#)
            #expect(missing.status == .unprocessableContent && missing.text.contains("rule.basisPoints"), "\(missing.text)")
            expectProblem(try await h.send(.post, "/api/v1/promotions", as: "merchantA.owner",
                                           json: #"{"name": "x", "rule": {"kind": "memberPrice"}, "colour": "red"}"#), 422, "unknown field")
            expectProblem(try await h.send(.get, "/api/v1/promotions?status=soon", as: "merchantA.owner"), 422, "bad status")
            let running = try await h.send(.get, "/api/v1/promotions?status=running", as: "merchantA.owner")
            #expect(running.items.map { $0["id"] as? String } == [id])

            // Three noodles: one free. The answer prices the cart; nothing is stored.
            let quote = try await h.send(.post, "/api/v1/carts/price", as: "merchantA.owner", json: """
                {"storeId": "\(store)", "lines": [{"productId": "\(productId)", "quantity": 2000}, {"productId": "\(productId)", "quantity": 1000}]}
                """)
            #expect(quote.status == .ok, "\(quote.text)")
            #expect(quote.object["total"] as? Int == 2580 && quote.object["discount"] as? Int == 1290)
            let line = try #require((quote.object["lines"] as? [[String: Any]])?.first)
            #expect(line["quantity"] as? Int == 3000 && line["promotionName"] as? String == "买二送一" && line["nameZh"] as? String == "方便面")
            expectProblem(try await h.send(.post, "/api/v1/carts/price", as: "merchantA.owner",
                                           json: #"{"storeId": "\#(store)", "lines": []}"#), 422, "empty cart")

            // Started promotions are not edited; ending one needs the version read; other merchants see nothing.
            expectProblem(try await h.send(.put, "/api/v1/promotions/\(id)", as: "merchantA.owner",
                                           json: #"{"version": 1, "name": "买三送一", "rule": {"kind": "buyXGetY", "buy": 3, "free": 1}}"#), 409, "started")
            expectProblem(try await h.send(.get, "/api/v1/promotions/\(id)", as: "merchantB.owner"), 404, "other merchant")
            expectProblem(try await h.send(.post, "/api/v1/promotions/\(id)/end", as: "merchantB.owner", json: #"{"version": 1}"#), 404, "other merchant ends")
            let ended = try await h.send(.post, "/api/v1/promotions/\(id)/end", as: "merchantA.owner", json: #"{"version": 1}"#)
            #expect(ended.status == .ok && ended.object["status"] as? String == "ended" && ended.object["version"] as? Int == 2, "\(ended.text)")
            let after = try await h.send(.post, "/api/v1/carts/price", as: "merchantA.owner", json: """
                {"storeId": "\(store)", "lines": [{"productId": "\(productId)", "quantity": 3000}]}
                """)
            #expect(after.object["total"] as? Int == 3870)
        }
    }

    @Test(arguments: [TestBackend.sqlite])
    func promotionsConsolePageMakesAndEndsPromotions(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var (jar, csrf) = try await h.consoleSession("merchantA.owner")
            let empty = try await h.browse(.get, "/console/promotions", jar: &jar)
            #expect(empty.status == .ok && empty.text.contains(#"id="promotion-form""#))
            // A refused form keeps the page and says why.
            let bad = try await h.browse(.post, "/console/promotions", jar: &jar,
                                         form: [("_csrf", csrf), ("name", "周末九折"), ("kind", "percentOff"), ("percent", "abc")])
            #expect(bad.status == .unprocessableContent && bad.text.contains("role=\"alert\""), "\(bad.status)")
            let made = try await h.browse(.post, "/console/promotions", jar: &jar,
                                          form: [("_csrf", csrf), ("name", "周末九折"), ("kind", "percentOff"), ("percent", "10"),
                                                 ("categories", "drinks"), ("wd6", "1"), ("wd7", "1"), ("hours", "10:00-22:00")])
            #expect(made.status == .found, "\(made.text)")
            let list = try await h.browse(.get, "/console/promotions?status=running", jar: &jar)
            #expect(list.text.contains("周末九折") && list.text.contains("10% off") && list.text.contains("weekdays 6,7"))
            let promotion = try #require(try await h.env.services.promotions.list(merchantId: nil, status: nil, page: PageRequest(),
                                                                             by: try await h.principal("merchantA.owner")).items.first)
            #expect(promotion.promotion.rule == .percentOff(basisPoints: 1000) && promotion.promotion.window.weekdays == [6, 7])
            let ended = try await h.browse(.post, "/console/promotions/\(promotion.promotion.id.rawValue)/end", jar: &jar,
                                           form: [("_csrf", csrf), ("version", "1")])
            #expect(ended.status == .found)
            jar.cookies[CookieName.language] = "zh-CN"
            let chinese = try await h.browse(.get, "/console/promotions", jar: &jar)
            #expect(chinese.text.contains("已结束") && chinese.text.contains("新建促销"))
            // A cashier sees the page but not the form.
            var (cashierJar, _) = try await h.consoleSession("storeA.cashier")
            let cashierPage = try await h.browse(.get, "/console/promotions", jar: &cashierJar)
            #expect(cashierPage.status == .ok && !cashierPage.text.contains(#"id="promotion-form""#))
        }
    }
}
