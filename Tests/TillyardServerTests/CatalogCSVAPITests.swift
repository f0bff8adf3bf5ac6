import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Catalog CSV over HTTP (both engines): the import's counts and its 422 listing every bad row,
/// dry runs, the size limit, the card-data guard, the streamed export; and the console page with
/// its search, product form and import form.
@Suite struct CatalogCSVAPITests {
    static let csv: HTTPFields = [.contentType: "text/csv"]

    @Test(arguments: TestBackend.allCases)
    func importAndExportOverTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let file = """
                sku,barcodes,name_zh,name_en,category,unit,price,member_price,tax_rate,active
                COLA-330,6901234567892,可口可乐 330ml,Coca-Cola,drinks,piece,3.50,3.00,13,true
                PORK,,五花肉,,meat,weight,32.80,,9,true
                """
            let dry = try await h.send(.post, "/api/v1/products/import?dryRun=true", as: "merchantA.owner", json: file, headers: Self.csv)
            #expect(dry.status == .ok, "\(dry.text)")
            #expect(dry.object["created"] as? Int == 2 && dry.object["dryRun"] as? Bool == true)
            #expect(try await h.send(.get, "/api/v1/products", as: "merchantA.owner").items.isEmpty, "a dry run stores nothing")
            let done = try await h.send(.post, "/api/v1/products/import", as: "merchantA.owner", json: file, headers: Self.csv)
            #expect(done.status == .created, "\(done.text)")
            #expect(done.object["created"] as? Int == 2 && done.object["updated"] as? Int == 0 && done.object["unchanged"] as? Int == 0)

            // One bad row: 422 naming every bad cell by line and column; nothing stored.
            let bad = "sku,name_zh,price,unit,barcodes\nNEW-1,新品,1.00,piece,\nNEW-2,坏,abc,box,6901234567893\nPORK,五花肉,40,weight,6901234567892\n"
            let refused = try await h.send(.post, "/api/v1/products/import", as: "merchantA.owner", json: bad, headers: Self.csv)
            let problem = expectProblem(refused, 422, "bad rows")
            let fields = (problem?.errors ?? []).map(\.field)
            #expect(fields == ["line 3: barcodes", "line 3: unit", "line 3: price", "line 4: barcodes"], "\(refused.text)")
            #expect(refused.text.contains("barcode 6901234567892 is used by another product, COLA-330"))
            #expect(try await h.send(.get, "/api/v1/products?q=NEW", as: "merchantA.owner").items.isEmpty)
            let badFlag = try await h.send(.post, "/api/v1/products/import?dryRun=yes", as: "merchantA.owner", json: file, headers: Self.csv)
            expectProblem(badFlag, 422, "dryRun must be true or false")

            // Card data in any cell: 422 without the number; other people's catalogs: 404; readers: 403.
            let card = try await h.send(.post, "/api/v1/products/import", as: "merchantA.owner",
                                        json: "sku,name_zh,price\nX,4111111111111111,1\n", headers: Self.csv)
            expectProblem(card, 422, "card data")
            #expect(!card.text.contains("4111111111111111"))
            let foreign = try await h.send(.post, "/api/v1/products/import?merchantId=\(h.fixtures.merchantA.rawValue)", as: "merchantB.owner",
                                           json: file, headers: Self.csv)
            expectProblem(foreign, 404, "another merchant's catalog")
            // Beyond the import limit: 413 before anything is parsed.
            let huge = String(repeating: "a", count: (16 << 20) + 1)
            let tooBig = try await h.send(.post, "/api/v1/products/import", as: "merchantA.owner", json: huge, headers: Self.csv)
            expectProblem(tooBig, 413, "oversize import")

            // Export: CSV with a BOM, the header, the rows; filters apply; cashiers get no cost column.
            let export = try await h.send(.get, "/api/v1/products.csv", as: "merchantA.owner")
            #expect(export.status == .ok && export.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(export.headers[.contentDisposition] == "attachment; filename=\"products.csv\"")
            #expect(Array(export.bytes.prefix(3)) == [0xEF, 0xBB, 0xBF], "UTF-8 byte-order mark for Excel")
            let rows = try CSV.parse(export.text)
            #expect(rows.first?.fields == CatalogCSV.columns(showCost: true).map(\.rawValue))
            #expect(rows.contains { $0.fields == ["COLA-330", "6901234567892", "可口可乐 330ml", "Coca-Cola", "drinks", "piece", "3.50", "3.00", "13", "", "", "true"] })
            let meat = try CSV.parse(try await h.send(.get, "/api/v1/products.csv?category=meat", as: "merchantA.owner").text)
            #expect(meat.dropFirst().map { $0.fields[0] } == ["PORK"])
            // Reading the export back changes nothing.
            let again = try await h.send(.post, "/api/v1/products/import", as: "merchantA.owner", json: export.text, headers: Self.csv)
            #expect(again.object["unchanged"] as? Int == 2 && again.object["created"] as? Int == 0, "\(again.text)")
            let foreignExport = try await h.send(.get, "/api/v1/products.csv?merchantId=\(h.fixtures.merchantA.rawValue)", as: "merchantB.owner")
            expectProblem(foreignExport, 404, "another merchant's export")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func catalogConsolePage(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var (jar, csrf) = try await h.consoleSession("merchantA.owner")
            let empty = try await h.browse(.get, "/console/catalog", jar: &jar)
            #expect(empty.status == .ok && empty.text.contains("id=\"product-form\"") && empty.text.contains("id=\"catalog-import-form\""))
            #expect(empty.text.contains("href=\"/console/catalog\""), "the catalog is in the navigation")

            // The product form: yuan and percent as typed, a refusal shown readably with the typed values kept.
            let refused = try await h.browse(.post, "/console/catalog", jar: &jar, form: [
                ("_csrf", csrf), ("sku", "cola-330"), ("barcodes", "6901234567893"), ("nameZh", "可口可乐"), ("price", "3.5x"),
                ("taxRate", "13"), ("unit", "piece"), ("active", "1"),
            ])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("id=\"product-error\"") && refused.text.contains("3.5x") && refused.text.contains("is not an amount in yuan"),
                    "\(refused.text)")
            #expect(refused.text.contains("barcodes: 6901234567893"), "the bad check digit is named too")
            #expect(refused.text.contains("value=\"可口可乐\""), "typed values kept")
            let created = try await h.browse(.post, "/console/catalog", jar: &jar, form: [
                ("_csrf", csrf), ("sku", "cola-330"), ("barcodes", "6901234567892"), ("nameZh", "可口可乐"), ("price", "3.50"),
                ("memberPrice", "3"), ("taxRate", "13"), ("unit", "piece"), ("active", "1"),
            ])
            #expect(created.status == .found, "\(created.text)")

            // Import through the form: a dry run reports, errors are listed by line, a real import stores.
            let file = "sku,name_zh,price\nCOLA-330,可口可乐,3.80\nTEA,绿茶,4\n"
            let checked = try await h.browse(.post, "/console/catalog/import", jar: &jar,
                                             form: [("_csrf", csrf), ("csv", file), ("dryRun", "1")])
            #expect(checked.status == .ok && checked.text.contains("id=\"catalog-notice\""))
            #expect(checked.text.contains("1 would be created, 1 updated, 0 unchanged"), "\(checked.text)")
            let bad = try await h.browse(.post, "/console/catalog/import", jar: &jar,
                                         form: [("_csrf", csrf), ("csv", "sku,name_zh,price\nA,甲,1\nB,,abc\n")])
            #expect(bad.status == .unprocessableContent && bad.text.contains("id=\"catalog-import-error\""))
            #expect(bad.text.contains("line 3: name_zh: is missing") && bad.text.contains("line 3: price:"), "\(bad.text)")
            let imported = try await h.browse(.post, "/console/catalog/import", jar: &jar, form: [("_csrf", csrf), ("csv", file)])
            #expect(imported.status == .created && imported.text.contains("2 rows imported: 1 created, 1 updated, 0 unchanged"), "\(imported.text)")

            // Search by Chinese name, SKU and barcode; the list shows prices in yuan.
            for query in ["%E7%BB%BF%E8%8C%B6", "te", "6901234567892"] {
                let found = try await h.browse(.get, "/console/catalog?q=\(query)", jar: &jar)
                #expect(found.status == .ok)
                #expect(found.text.contains(query == "6901234567892" ? "3.80" : "绿茶"), "search \(query)")
            }
            let exported = try await h.browse(.get, "/console/catalog/export.csv", jar: &jar)
            #expect(exported.status == .ok && exported.text.contains("TEA,,绿茶"), "\(exported.text)")

            // The stock column for a store of the merchant; an edit link opens the product in the form.
            let withStock = try await h.browse(.get, "/console/catalog?storeId=\(h.fixtures.storeA.rawValue)", jar: &jar)
            #expect(withStock.status == .ok && withStock.text.contains(">—</td>"), "no stock counted yet")
            let product = try #require(try await h.send(.get, "/api/v1/products?q=TEA", as: "merchantA.owner").items.first)
            let edit = try await h.browse(.get, "/console/catalog?edit=\(try #require(product["id"] as? String))", jar: &jar)
            #expect(edit.text.contains("value=\"TEA\"") && edit.text.contains("name=\"version\" value=\"1\""))

            // A cashier reads the catalog but has no forms.
            var (till, _) = try await h.consoleSession("storeA.cashier")
            let cashier = try await h.browse(.get, "/console/catalog", jar: &till)
            #expect(cashier.status == .ok && cashier.text.contains("绿茶") && !cashier.text.contains("id=\"product-form\""))
        }
    }
}
