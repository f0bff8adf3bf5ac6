import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
@testable import TillyardStore
import TillyardTestSupport

/// Catalog search answers each source (barcode, SKU prefix, name pairs) through its own index when
/// the source is narrow and walks the catalog when it is broad. Both ways must find exactly the
/// products an independent reading of the catalog says, newest first, across pages.
@Suite struct CatalogSearchPlanTests {
    @Test(arguments: TestBackend.allCases)
    func listedAndWalkedSourcesFindTheSameProducts(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            let fixtures = try await Fixtures.make(services.access)
            let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
            let names = [("可口可乐", "Coca-Cola"), ("百事可乐", "Pepsi Cola"), ("康师傅红烧牛肉面", "Kangshifu Beef Noodles"),
                         ("康师傅冰红茶", "Kangshifu Iced Tea"), ("农夫山泉", "Nongfu Spring"), ("红牛", "Red Bull")]
            var products: [Product] = []
            for index in 0..<24 {
                let (zh, en) = names[index % names.count]
                products.append(try await services.catalog.create(
                    ProductInput(sku: "\(["DR", "FD"][index % 2])-\(1000 + index)", barcodes: ["CODE-\(index)"], nameZh: "\(zh) \(index)",
                                 nameEn: "\(en) \(index)", category: index % 3 == 0 ? "promo" : "shelf", price: 100 + Int64(index), active: index % 5 != 0),
                    merchantId: nil, by: owner))
            }
            /// What the search must find: every condition tested product by product, newest first. The
            /// name is read independently of the index: each Chinese part of the query (spaces
            /// ignored) is in the Chinese name, each other word begins a word of a name.
            func expected(_ query: String, category: String? = nil, activeOnly: Bool = false) -> [String] {
                func isChinese(_ character: Character) -> Bool { character.unicodeScalars.first?.properties.isIdeographic == true }
                func words(_ text: String) -> [Substring] {
                    text.lowercased().split { !($0.isLetter || $0.isNumber) || isChinese($0) }
                }
                let chinese = query.split { !isChinese($0) && !$0.isWhitespace }.map { $0.filter { !$0.isWhitespace } }.filter { !$0.isEmpty }
                return products.filter { product in
                    let code = query.uppercased()
                    let nameWords = words(product.nameZh) + words(product.nameEn ?? "")
                    let named = !(chinese.isEmpty && words(query).isEmpty)
                        && chinese.allSatisfy { product.nameZh.filter { !$0.isWhitespace }.contains($0) }
                        && words(query).allSatisfy { word in nameWords.contains { $0.hasPrefix(word) } }
                    return (product.barcodes.contains(code) || product.sku.hasPrefix(code) || named)
                        && (category.map { $0 == product.category } ?? true) && (!activeOnly || product.active)
                }.map(\.id.rawValue).sorted(by: >)
            }
            // 2,000: every source listed; 5: the name pairs of a brand (8 products each) walked along the
            // postings both rarest pairs share (counted exactly below 11); 2: walked along the rarest's postings.
            for narrow in [2_000, 5, 2] {
                for (query, category, activeOnly) in [("可乐", nil, false), ("DR-", nil, false), ("dr-101", nil, false), ("code-7", nil, false),
                                                       ("kangshifu bee", nil, false), ("红", "promo", false), ("康师傅", nil, true), ("", nil, false),
                                                       ("nothing at all", nil, false), ("COLA", nil, false), ("Tea kang", nil, false),
                                                       ("1", nil, false), ("noodles 2", "shelf", false), ("shifu", nil, false), ("eef", nil, false),
                                                       ("康师傅 bee", nil, false), ("师傅红烧牛肉", nil, false), ("康师傅 冰红茶", nil, true),
                                                       ("可乐 cola", "shelf", false)] as [(String, String?, Bool)] {
                    var found: [String] = []
                    var cursor: String?
                    repeat {
                        let filter = ProductFilter(query: query, category: category, activeOnly: activeOnly)
                        let request = PageRequest(limit: 4, cursor: cursor)
                        let merchant = fixtures.merchantA
                        let page = try await database.session { db in
                            try await SQLProductRepository(db: db, backend: database.backend, narrowSource: narrow).search(merchant: merchant, filter: filter, page: request)
                        }
                        found += page.items.map(\.id.rawValue)
                        cursor = page.nextCursor
                    } while cursor != nil
                    let want = query.isEmpty ? products.map(\.id.rawValue).sorted(by: >) : expected(query, category: category, activeOnly: activeOnly)
                    #expect(found == want, "narrow \(narrow), query '\(query)' \(category ?? "") \(activeOnly)")
                }
            }
        }
    }

    /// Search sizes a query's terms by `product_term_counts`, so the counts must always equal the
    /// postings: after creates, renames and other edits, imports that create and rename, refused
    /// writes (a stale version, a bad file), in two merchants; and migration 22 counts a catalog stored
    /// before it.
    @Test(arguments: TestBackend.allCases)
    func termCountsFollowEveryCatalogWrite(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { h in
            let (database, fixtures, catalog) = (h.database, h.fixtures, h.services.catalog)
            let ownerA = try await h.principal("merchantA.owner")
            let ownerB = try await h.principal("merchantB.owner")
            /// The stored counts (zero ones are as good as none) and the counts of the postings.
            func counts() async throws -> (stored: [String: Int], postings: [String: Int]) {
                try await database.session { db in
                    func read(_ query: SQLQueryString) async throws -> [String: Int] {
                        var counts: [String: Int] = [:]
                        for row in try await db.raw(query).all() {
                            counts[try row.decode(column: "merchant_id", as: String.self) + " " + row.decode(column: "term", as: String.self)]
                                = try row.decode(column: "n", as: Int.self)
                        }
                        return counts
                    }
                    return (try await read("SELECT merchant_id, term, n FROM product_term_counts WHERE n <> 0"),
                            try await read("SELECT merchant_id, term, COUNT(*) AS n FROM product_terms GROUP BY merchant_id, term"))
                }
            }
            func expectExact(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let (stored, postings) = try await counts()
                #expect(!postings.isEmpty && stored == postings, "\(step)", sourceLocation: sourceLocation)
            }
            var noodles = try await catalog.create(ProductInput(sku: "N-1", nameZh: "康师傅红烧牛肉面", nameEn: "Kangshifu Beef Noodles", price: 450),
                                                   merchantId: nil, by: ownerA)
            _ = try await catalog.create(ProductInput(sku: "N-2", nameZh: "康师傅冰红茶", nameEn: "Kangshifu Iced Tea", price: 300),
                                         merchantId: nil, by: ownerA)
            _ = try await catalog.create(ProductInput(sku: "B-1", nameZh: "康师傅红烧牛肉面", nameEn: "Kangshifu Beef Noodles", price: 460),
                                         merchantId: nil, by: ownerB)
            try await expectExact("created in two merchants")
            #expect(try await counts().stored[fixtures.merchantA.rawValue + " 康师"] == 2)

            noodles = try await catalog.update(noodles.id, ProductInput(sku: "N-1", nameZh: "统一老坛酸菜牛肉面", nameEn: "Tongyi Pickled Beef Noodles",
                                                                         price: 450), expectedVersion: noodles.version, by: ownerA)
            try await expectExact("renamed")
            #expect(try await counts().stored[fixtures.merchantA.rawValue + " 康师"] == 1, "the old name's terms left the counts")
            noodles = try await catalog.update(noodles.id, ProductInput(sku: "N-1", nameZh: "统一老坛酸菜牛肉面", nameEn: "Tongyi Pickled Beef Noodles",
                                                                         price: 480), expectedVersion: noodles.version, by: ownerA)
            try await expectExact("price changed, names kept")
            await #expect(throws: DomainError.self) {
                _ = try await catalog.update(noodles.id, ProductInput(sku: "N-1", nameZh: "别的名字", price: 1), expectedVersion: noodles.version - 1,
                                             by: ownerA)
            }
            try await expectExact("a stale version refused")

            let good = """
                sku,barcodes,name_zh,name_en,price,tax_rate
                N-1,,康师傅红烧牛肉面,Kangshifu Beef Noodles,4.50,13
                N-2,,康师傅冰红茶,Kangshifu Iced Tea,3.20,13
                N-3,,统一冰红茶,Tongyi Iced Tea,3.00,13
                N-4,,农夫山泉,Nongfu Spring,2.00,13
                """
            _ = try await catalog.importProducts(csv: good, merchantId: nil, dryRun: false, by: ownerA)
            try await expectExact("an import renamed one, repriced one and created two")
            #expect(try await counts().stored[fixtures.merchantA.rawValue + " 冰红"] == 2)
            let bad = """
                sku,barcodes,name_zh,price,tax_rate
                N-5,,娃哈哈,abc,13
                N-1,,新名字,4.50,13
                """
            await #expect(throws: DomainError.self) { _ = try await catalog.importProducts(csv: bad, merchantId: nil, dryRun: false, by: ownerA) }
            try await expectExact("a refused import")
            let search = try await catalog.search(ProductFilter(query: "康师傅 红烧"), merchantId: nil, page: PageRequest(), by: ownerA)
            #expect(search.items.map(\.sku) == ["N-1"])

            // A catalog stored before migration 22: counted by it.
            let before = try await counts().postings
            try await database.transaction { db in
                try await db.raw("DROP TABLE product_term_counts").run()
                try await db.raw("DELETE FROM schema_migrations WHERE version = 22").run()
            }
            #expect(try await Migrator(database: database).migrate().applied == ["22 product_term_counts"])
            #expect(try await counts().stored == before)
        }
    }

    /// PostgreSQL compiled a catalog search whose estimated cost passed `jit_above_cost` (16.6 ms compiling
    /// a 4.5 ms statement at 1,000,000 products): our connections switch JIT off when they open.
    @Test func postgresConnectionsDoNotCompilePlans() async throws {
        try await TestDatabase.with(.postgres) { database in
            let setting = try await database.session { db in try await db.raw("SHOW jit").first()?.decode(column: "jit", as: String.self) }
            #expect(setting == "off")
        }
    }

    /// Migration 12 replaces the letter-pair terms of products stored before it by the terms the
    /// code computes now (word prefixes, Chinese pairs), in batches along the catalog.
    @Test(arguments: TestBackend.allCases)
    func wordTermsMigrationRebuildsTheTermsOfExistingProducts(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            let fixtures = try await Fixtures.make(services.access)
            let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
            let cashier = try await services.access.principal(commandLineUser: "storeA.cashier")
            var created: [Product] = []
            for (index, (zh, en)) in [("康师傅红烧牛肉面", "Kangshifu Beef Noodles"), ("百事可乐", "Pepsi Cola"), ("青岛啤酒", "Tsingtao Beer"),
                                      ("农夫山泉 550ml", nil)].enumerated() {
                created.append(try await services.catalog.create(ProductInput(sku: "P-\(index)", nameZh: zh, nameEn: en, price: 100),
                                                                 merchantId: nil, by: owner))
            }
            let products = created
            /// The stored terms of each product.
            func stored() async throws -> [String: Set<String>] {
                try await database.session { db in
                    var terms: [String: Set<String>] = [:]
                    for row in try await db.raw("SELECT product_id, term FROM product_terms").all() {
                        terms[try row.decode(column: "product_id", as: String.self), default: []].insert(try row.decode(column: "term", as: String.self))
                    }
                    return terms
                }
            }
            let current = Dictionary(uniqueKeysWithValues: products.map { ($0.id.rawValue, CatalogRules.terms(of: $0)) })
            #expect(try await stored() == current, "the service stores the terms of the current scheme")

            // The database as it was before migration 12: the letter pairs (and characters) of the folded names.
            try await database.transaction { db in
                try await db.raw("DELETE FROM product_terms").run()
                try await db.raw("DELETE FROM schema_migrations WHERE version = 12").run()
                for product in products {
                    var pairs: Set<String> = []
                    for name in [product.nameZh] + [product.nameEn].compactMap({ $0 }) {
                        let characters = Array(CatalogRules.fold(name))
                        for index in characters.indices {
                            pairs.insert(String(characters[index]))
                            if index + 1 < characters.count { pairs.insert(String(characters[index...index + 1])) }
                        }
                    }
                    for term in pairs {
                        try await db.raw("""
                            INSERT INTO product_terms (merchant_id, term, product_id)
                            VALUES (\(bind: fixtures.merchantA.rawValue), \(bind: term), \(bind: product.id.rawValue))
                            """).run()
                    }
                }
            }
            #expect(try await stored()[products[0].id.rawValue]?.contains("ee") == true)
            let report = try await Migrator(database: database).migrate()
            #expect(report.applied == ["12 product_word_terms"])
            #expect(try await stored() == current, "every product's terms recomputed, the old pairs gone")
            func skus(_ query: String) async throws -> [String] {
                try await services.catalog.search(ProductFilter(query: query), merchantId: nil, page: PageRequest(limit: 50), by: cashier)
                    .items.map(\.sku).sorted()
            }
            #expect(try await skus("kangshifu BEE") == ["P-0"])
            #expect(try await skus("bee") == ["P-0", "P-2"])
            #expect(try await skus("550") == ["P-3"])
            #expect(try await skus("可乐") == ["P-1"])
            #expect(try await skus("eer").isEmpty, "the middle of a word is no longer found")

            // In batches smaller than the catalog, the same terms.
            try await database.transaction { db in
                try await db.raw("DELETE FROM product_terms").run()
                try await SQLProductRepository(db: db, backend: database.backend).rebuildTerms(batch: 3)
            }
            #expect(try await stored() == current)
        }
    }
}
