import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Catalog CSV import and export on both engines: upsert by SKU with counts, all or nothing with
/// every bad row named, dry runs write nothing, codes move between products of one file, an export
/// reads back unchanged (Chinese names, formula-like cells), one audit event per import.
@Suite struct CatalogImportTests {
    static let header = "sku,barcodes,name_zh,name_en,category,unit,price,member_price,tax_rate,cost,scale_code,active"

    @Test(arguments: TestBackend.allCases)
    func importUpsertsAllOrNothing(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { h in
            let catalog = h.services.catalog
            let owner = try await h.principal("merchantA.owner")
            let existing = try await catalog.create(ProductInput(sku: "COLA-330", barcodes: ["6901234567892"], nameZh: "可口可乐 330ml",
                                                                 category: "drinks", price: 350), merchantId: nil, by: owner)
            _ = try await catalog.create(ProductInput(sku: "KEEP", barcodes: ["SHELF-9"], nameZh: "留着", price: 100), merchantId: nil, by: owner)

            // One bad row among good ones: every problem named, nothing stored.
            let bad = """
                \(Self.header)
                NEW-1,6901234567908,雪碧 330ml,Sprite,drinks,piece,3.30,,13,,,true
                NEW-2,,芬达,,drinks,litre,abc,,13,,,true
                NEW-3,SHELF-9,王老吉,,drinks,piece,4,,13,,,true
                NEW-1,,重复,,,,1,,13,,,
                NEW-4,6901234567893,,,,,1,,13,,,
                NEW-5,,贵,,,,4,5,13,,,
                """
            do {
                _ = try await catalog.importProducts(csv: bad, merchantId: nil, dryRun: false, by: owner)
                Issue.record("a file with bad rows was accepted")
            } catch DomainError.validation(let fields) {
                let named = fields.map(\.field)
                #expect(named.contains("line 3: unit") && named.contains("line 3: price"), "\(fields)")
                #expect(fields.contains { $0.field == "line 7: member_price" && $0.message == "must not exceed the price" }, "\(fields)")
                #expect(fields.contains { $0.field == "line 4: barcodes" && $0.message == "barcode SHELF-9 is used by another product, KEEP" },
                        "a barcode of a product outside the file: \(fields)")
                #expect(named.contains("line 5: sku") && named.contains("line 6: barcodes") && named.contains("line 6: name_zh"), "\(fields)")
                let lines = named.map { Int($0.split(separator: " ")[1].dropLast()) ?? 0 }
                #expect(lines == lines.sorted() && !lines.contains(2), "problems in file order, the good line not among them: \(named)")
            }
            #expect(try await Self.skus(catalog, owner) == ["COLA-330", "KEEP"], "nothing written")

            // A good file: one new, one changed, one unchanged; a dry run first writes nothing.
            let good = """
                sku,barcodes,name_zh,category,price,tax_rate
                NEW-1,6901234567908,雪碧 330ml,drinks,3.30,13
                COLA-330,6901234567892,可口可乐 330ml,drinks,3.80,13
                KEEP,SHELF-9,留着,,1.00,13
                """
            let auditBefore = try await h.events(AuditFilter(action: "catalog.import")).count
            let dry = try await catalog.importProducts(csv: good, merchantId: nil, dryRun: true, by: owner)
            #expect(dry == CatalogImportReport(rows: 3, created: 1, updated: 1, unchanged: 1, dryRun: true))
            #expect(try await Self.skus(catalog, owner) == ["COLA-330", "KEEP"], "a dry run stores nothing")
            let done = try await catalog.importProducts(csv: good, merchantId: nil, dryRun: false, by: owner)
            #expect(done == CatalogImportReport(rows: 3, created: 1, updated: 1, unchanged: 1, dryRun: false))
            let cola = try await catalog.product(existing.id, by: owner)
            #expect(cola.price == 380 && cola.version == 2 && cola.nameZh == "可口可乐 330ml")
            let sprite = try await catalog.scan("6901234567908", merchantId: nil, by: owner).product
            #expect(sprite.sku == "NEW-1" && sprite.nameZh == "雪碧 330ml" && sprite.category == "drinks")
            #expect(try await catalog.search(ProductFilter(query: "雪碧"), merchantId: nil, page: PageRequest(), by: owner).items.map(\.sku) == ["NEW-1"],
                    "imported names are searchable")
            let events = try await h.events(AuditFilter(action: "catalog.import"))
            #expect(events.count == auditBefore + 1, "one audit event per import, none for the dry run")
            let summary = try JSONDecoder().decode([String: String].self, from: Data(try #require(events.first).summary.utf8))
            #expect(summary == ["rows": "3", "created": "1", "updated": "1", "unchanged": "1"])

            // Codes move between products of one file: the barcode and the scale code swap owners.
            _ = try await catalog.create(ProductInput(sku: "PORK", nameZh: "五花肉", unit: .weight, price: 3280, scaleCode: "00123"),
                                         merchantId: nil, by: owner)
            _ = try await catalog.create(ProductInput(sku: "BEEF", nameZh: "牛腩", unit: .weight, price: 6880, scaleCode: "00124"),
                                         merchantId: nil, by: owner)
            let swap = """
                sku,barcodes,scale_code
                COLA-330,6901234567908,
                NEW-1,6901234567892,
                PORK,,00124
                BEEF,,00123
                """
            let swapped = try await catalog.importProducts(csv: swap, merchantId: nil, dryRun: false, by: owner)
            #expect(swapped.updated == 4)
            #expect(try await catalog.scan("6901234567892", merchantId: nil, by: owner).product.sku == "NEW-1")
            #expect(try await catalog.scan("6901234567908", merchantId: nil, by: owner).product.sku == "COLA-330")
            let label = "210012401000"
            #expect(try await catalog.scan(label + String(try #require(Barcodes.checkDigit(label))), merchantId: nil, by: owner).product.sku == "PORK")

            // A price change keeps the name's search terms; a new name replaces them.
            #expect(try await Self.skus(catalog, owner, query: "可口") == ["COLA-330"])
            _ = try await catalog.importProducts(csv: "sku,name_zh\nKEEP,乌龙茶\n", merchantId: nil, dryRun: false, by: owner)
            #expect(try await Self.skus(catalog, owner, query: "乌龙") == ["KEEP"])
            #expect(try await Self.skus(catalog, owner, query: "留着").isEmpty)

            // Only those who maintain the catalog import; another merchant's catalog is not found.
            let cashier = try await h.principal("storeA.cashier")
            await #expect(throws: DomainError.forbidden("your role does not allow catalog.manage")) {
                _ = try await catalog.importProducts(csv: good, merchantId: nil, dryRun: true, by: cashier)
            }
            let ownerB = try await h.principal("merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "merchant", id: h.fixtures.merchantA.rawValue)) {
                _ = try await catalog.importProducts(csv: good, merchantId: h.fixtures.merchantA, dryRun: true, by: ownerB)
            }
            try await h.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func exportReadsBackUnchanged(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { h in
            let catalog = h.services.catalog
            let owner = try await h.principal("merchantA.owner")
            // More products than one export page, Chinese names, a formula-like name, several barcodes.
            var rows = [Self.header]
            for index in 1...1_203 {
                let body = String(format: "69%010d", index)
                let ean = body + String(try #require(Barcodes.checkDigit(body)))
                rows.append("SKU-\(index),\(ean)|SHELF-\(index),商品\(index)号 可口可乐,Item \(index),饮料,piece,\(index).5\(index % 10),,13,0.99,,\(index % 7 != 0)")
            }
            rows.append("EVIL,,\"=HYPERLINK(\"\"http://x\"\")\",\"-cmd\",+cat,weight,12.50,11,9,,00042,true")
            let imported = try await catalog.importProducts(csv: rows.joined(separator: "\r\n"), merchantId: nil, dryRun: false, by: owner)
            #expect(imported == CatalogImportReport(rows: 1_204, created: 1_204, updated: 0, unchanged: 0, dryRun: false))

            let text = try await catalog.export(ProductFilter(), merchantId: nil, by: owner).text()
            #expect(text.hasPrefix("\u{FEFF}sku,barcodes,name_zh"), "UTF-8 BOM, then the header")
            let parsed = try CSV.parse(text)
            #expect(parsed.count == 1_205)
            let evil = try #require(parsed.first { $0.fields[0] == "EVIL" }).fields
            #expect(evil[2] == "'=HYPERLINK(\"http://x\")" && evil[3] == "'-cmd" && evil[4] == "'+cat", "formula guard: \(evil)")
            #expect(parsed.contains { $0.fields[0] == "SKU-7" && $0.fields[2] == "商品7号 可口可乐" && $0.fields[11] == "false" && $0.fields[9] == "0.99" })

            let again = try await catalog.importProducts(csv: text, merchantId: nil, dryRun: false, by: owner)
            #expect(again == CatalogImportReport(rows: 1_204, created: 0, updated: 0, unchanged: 1_204, dryRun: false), "round trip changes nothing")
            let evilStored = try await catalog.search(ProductFilter(query: "EVIL"), merchantId: nil, page: PageRequest(), by: owner).items
            #expect(evilStored.map(\.nameZh) == ["=HYPERLINK(\"http://x\")"] && evilStored.first?.nameEn == "-cmd", "stored as typed")
            // Without catalog.manage the cost column is left out (so such a file never clears costs).
            let cashier = try await h.principal("storeA.cashier")
            let redacted = try await catalog.export(ProductFilter(query: "SKU-1"), merchantId: nil, by: cashier).text()
            #expect(try CSV.parse(redacted).first?.fields.contains("cost") == false && !redacted.contains("0.99"))
        }
    }

    static func skus(_ catalog: CatalogService, _ principal: Principal, query: String? = nil) async throws -> [String] {
        try await catalog.search(ProductFilter(query: query), merchantId: nil, page: PageRequest(limit: 200), by: principal).items.map(\.sku).sorted()
    }
}
