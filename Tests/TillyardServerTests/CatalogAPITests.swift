import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The catalog as a register or a back office would use it over HTTP.
@Suite struct CatalogAPITests {
    @Test(arguments: TestBackend.allCases)
    func productsOverTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let created = try await h.send(.post, "/api/v1/products", as: "merchantA.owner", json: """
                {"sku": "cola-330", "barcodes": ["6901234567892"], "nameZh": "可口可乐 330ml", "nameEn": "Coca-Cola",
                 "category": "drinks", "price": 350, "memberPrice": 300, "cost": 180}
                """)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.object["id"] as? String)
            #expect(created.object["sku"] as? String == "COLA-330" && created.object["taxRate"] as? Int == 1300)

            // Bad input is named field by field.
            let badCode = try await h.send(.post, "/api/v1/products", as: "merchantA.owner",
                                           json: #"{"sku": "X", "barcodes": ["6901234567893"], "nameZh": "x", "price": 1}"#)
            #expect(badCode.status == .unprocessableContent && badCode.text.contains("barcodes.0"))
            let badTax = try await h.send(.post, "/api/v1/products", as: "merchantA.owner",
                                          json: #"{"sku": "X", "nameZh": "x", "price": 1, "taxRate": 1700}"#)
            #expect(badTax.status == .unprocessableContent && badTax.text.contains("taxRate"))
            let duplicate = try await h.send(.post, "/api/v1/products", as: "merchantA.owner",
                                             json: #"{"sku": "COLA-330", "nameZh": "x", "price": 1}"#)
            #expect(duplicate.status == .conflict)

            // The store's cashier searches and scans; the cost is not shown to them.
            let found = try await h.send(.get, "/api/v1/products?q=%E5%8F%AF%E4%B9%90", as: "merchantA.owner")
            #expect(found.items.compactMap { $0["id"] as? String } == [id])
            // (Cashiers hold no API tokens: the register works in their console session.)
            var (till, csrf) = try await h.consoleSession("storeA.cashier")
            let scan = try await h.browse(.get, "/api/v1/product-scan?code=6901234567892", jar: &till)
            #expect(scan.status == .ok, "\(scan.text)")
            let product = try #require(scan.object["product"] as? [String: Any])
            #expect(product["id"] as? String == id && scan.object["quantity"] as? Int == 1000 && product["cost"] == nil)
            let unknown = try await h.browse(.get, "/api/v1/product-scan?code=6900000000000", jar: &till)
            #expect(unknown.status == .notFound && unknown.headers[.contentType] == "application/problem+json")
            let cashierWrite = try await h.client.execute(uri: "/api/v1/products", method: .post,
                                                          headers: till.headers([.contentType: "application/json", .init("X-CSRF-Token")!: csrf]),
                                                          body: ByteBuffer(string: #"{"sku": "X", "nameZh": "x", "price": 1}"#))
            #expect(cashierWrite.status == .forbidden)

            // Changes carry the version read.
            let noVersion = try await h.send(.put, "/api/v1/products/\(id)", as: "merchantA.owner",
                                             json: #"{"sku": "COLA-330", "nameZh": "可口可乐 330ml", "price": 380}"#)
            #expect(noVersion.status == .unprocessableContent && noVersion.text.contains("version"))
            let changed = try await h.send(.put, "/api/v1/products/\(id)", as: "merchantA.owner",
                                           json: #"{"version": 1, "sku": "COLA-330", "barcodes": ["6901234567892"], "nameZh": "可口可乐 330ml", "price": 380}"#)
            #expect(changed.status == .ok && changed.object["price"] as? Int == 380 && changed.object["version"] as? Int == 2)
            let stale = try await h.send(.put, "/api/v1/products/\(id)", as: "merchantA.owner",
                                         json: #"{"version": 1, "sku": "COLA-330", "nameZh": "x", "price": 1}"#)
            #expect(stale.status == .conflict)
        }
    }
}
