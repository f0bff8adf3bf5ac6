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
            /// What the search must find: every condition tested product by product, newest first.
            func expected(_ query: String, category: String? = nil, activeOnly: Bool = false) -> [String] {
                let pairs = CatalogRules.queryTerms(query)
                return products.filter { product in
                    let code = query.uppercased()
                    let named = !pairs.isEmpty && pairs.isSubset(of: CatalogRules.terms([product.nameZh] + [product.nameEn].compactMap { $0 }))
                    return (product.barcodes.contains(code) || product.sku.hasPrefix(code) || named)
                        && (category.map { $0 == product.category } ?? true) && (!activeOnly || product.active)
                }.map(\.id.rawValue).sorted(by: >)
            }
            for narrow in [2_000, 2] {
                for (query, category, activeOnly) in [("可乐", nil, false), ("DR-", nil, false), ("dr-101", nil, false), ("code-7", nil, false),
                                                       ("kangshifu bee", nil, false), ("红", "promo", false), ("康师傅", nil, true), ("", nil, false),
                                                       ("nothing at all", nil, false)] as [(String, String?, Bool)] {
                    var found: [String] = []
                    var cursor: String?
                    repeat {
                        let filter = ProductFilter(query: query, category: category, activeOnly: activeOnly)
                        let request = PageRequest(limit: 4, cursor: cursor)
                        let merchant = fixtures.merchantA
                        let page = try await database.session { db in
                            try await SQLProductRepository(db: db, narrowSource: narrow).search(merchant: merchant, filter: filter, page: request)
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
}
