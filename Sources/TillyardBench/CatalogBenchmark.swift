import ArgumentParser
import Foundation
import Logging
import SQLKit
import TillyardKit
import TillyardServer
import TillyardStore

/// `tillyard-bench catalog`: one merchant's catalog of N products (default 1,000,000) bulk-loaded
/// into the real tables, then the register's lookups timed through `CatalogService` exactly as the
/// API runs them: scan by barcode, and the search box with a barcode, a SKU, a SKU prefix, an
/// English name prefix and Chinese text. A million products take 15–25 minutes to load, so
/// `--load-only` keeps them in `--data-dir` and `--reuse` times them later (as `risk` does).
struct CatalogBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Time barcode, SKU and name search on a generated catalog (default 1,000,000 products).")

    @Option(help: "Products in the merchant's catalog.") var products = 1_000_000
    @Option(help: "Timed calls per kind of lookup.") var iterations = 200
    @Option(help: "Untimed calls per kind of lookup before timing.") var warmup = 20
    @Option(help: "Products per loading transaction.") var batch = 20_000
    @Option(help: "Seed of the generated catalog.") var seed: UInt64 = 1
    @OptionGroup var history: BenchReuse
    @OptionGroup var storage: BenchStorage

    func validate() throws {
        guard products >= 1_000 else { throw ValidationError("--products must be at least 1,000") }
        guard iterations >= 1, warmup >= 0, batch >= 1 else { throw ValidationError("--iterations, --warmup and --batch must be positive") }
        try history.check(storage)
    }

    func run() async throws {
        try await storage.open() { database, folder in
            try await benchmark(database, folder: folder)
        }
    }

    private func benchmark(_ database: Database, folder: String) async throws {
        let migrated = try await Migrator(database: database).migrate()
        Report.say("Tillyard catalog benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(migrated.applied.joined(separator: ", "))")
        let services = AppServices(database: database, bcryptCost: 4, documents: URL(fileURLWithPath: folder).appendingPathComponent("documents"))
        let access = services.access
        let loaded: LoadedCatalog
        if history.reuse {
            loaded = try await Self.stored(database)
            Report.say(loaded.summary)
        } else {
            loaded = try await setUp(database, access: access)
            Report.say(loaded.summary)
            if database.backend == .postgres {
                try await database.session { db in try await db.raw("VACUUM ANALYZE").run() }
                Report.say("VACUUM ANALYZE after loading (as autovacuum would)")
            }
        }
        if history.loadOnly { Report.say("loaded; time it later with --reuse --data-dir \(storage.dataDirectory ?? "")"); return }
        if database.backend == .sqlite { Report.say("no ANALYZE (as in production: the query planner has no statistics)") }
        // The register's user: a cashier of a store, searching its merchant's catalog.
        let cashier = try await access.principal(commandLineUser: Self.cashierName)

        let catalog = services.catalog
        let samples = loaded.samples
        let merchantId = loaded.merchantId
        let products = loaded.products
        Report.say("timing \(iterations) calls per lookup after \(warmup) warm-up calls, one client, page size \(PageRequest.defaultLimit)…")
        var results: [Measurement] = []
        func time(_ name: String, _ call: (Int) async throws -> Int) async throws {
            results.append(try await Measurement.run(name, iterations: iterations, warmup: warmup, call))
        }
        func search(_ text: String) async throws -> Int {
            try await catalog.search(ProductFilter(query: text), merchantId: merchantId, page: PageRequest(), by: cashier).items.count
        }
        let sample = { (index: Int) in samples[(index * 7_919) % samples.count] }
        try await time("scan: barcode (product-scan)") { index in
            _ = try await catalog.scan(sample(index).barcode, merchantId: merchantId, by: cashier)
            return 1
        }
        try await time("search: barcode") { try await search(sample($0).barcode) }
        try await time("search: SKU exact") { try await search(sample($0).sku) }
        try await time("search: SKU prefix (100 or 1,000)") { index in try await search(String(sample(index).sku.dropLast(2 + index % 2))) }
        try await time("search: English name prefix") { index in
            // The brand and the first letters of the item, as typed ("Kangshifu Bee").
            let words = sample(index).nameEn.split(separator: " ")
            return try await search("\(words[0]) \(words[1].prefix(3))")
        }
        try await time("search: Chinese brand + item (~80)") { try await search(CatalogData.brandItem(sample($0).nameZh)) }
        try await time("search: Chinese item word (thousands)") { try await search(CatalogData.item(sample($0).nameZh)) }
        try await time("ceiling: product(id)") { index in
            _ = try await catalog.product(sample(index).id, by: cashier)
            return 1
        }
        Report.say("")
        Report.say(Report.table(results))
        let searches = results.filter { $0.name.hasPrefix("search:") }
        if let worst = searches.max(by: { $0.percentile(99) < $1.percentile(99) }), let ceiling = results.first(where: { $0.name.hasPrefix("ceiling:") }) {
            Report.summary("catalog search p99 at \(Report.grouped(products)) products (\(database.backend.rawValue), worst of \(searches.count) kinds)",
                           "\(Report.decimal(worst.percentile(99), 2)) ms (\(worst.name.dropFirst(8)))",
                           ceiling: "\(Report.decimal(ceiling.percentile(99), 2)) ms product by id",
                           ratio: Report.decimal(worst.percentile(99) / max(ceiling.percentile(99), 0.001), 1) + "x")
        }
    }

    /// The generated user of the timed calls (a `--reuse` run finds it by this name).
    static let cashierName = "bench.cashier"
    /// The generated merchant's code (a `--reuse` run finds it by this code).
    static let merchantCode = "M-BENCH"
    /// Every how many products one is a sample the lookups ask for (about 2,048 of them).
    static func sampleStep(_ products: Int) -> Int { max(1, products / 2_048) }

    /// The organisation tree, the cashier and the catalog of a fresh database.
    private func setUp(_ database: Database, access: AccessService) async throws -> LoadedCatalog {
        let (admin, _) = try await access.bootstrap(rootName: "基准收单 Bench Acquirer", rootCode: "BENCH")
        let root = try await access.principal(commandLineUser: admin.username)
        let region = try await access.createOrganization(NewOrganization(parentId: admin.orgId, kind: .region, name: "华东 East", code: "EAST"), by: root)
        let merchant = try await access.createOrganization(
            NewOrganization(parentId: region.id, kind: .merchant, name: "基准超市 Bench Market", code: Self.merchantCode), by: root)
        let store = try await access.createOrganization(
            NewOrganization(parentId: merchant.id, kind: .store, name: "基准超市 1 号店", code: "S-BENCH-1"), by: root)
        _ = try await access.createUser(NewUser(orgId: store.id, username: Self.cashierName, displayName: "Bench Cashier", role: .cashier,
                                                password: "Bench-pass-1"), by: root)
        return try await load(database, merchant: merchant)
    }

    /// What a `--reuse` run times against: the merchant of a `--load-only` run, its product count,
    /// and the same samples the load picked (every `sampleStep`-th generated product, found by its
    /// barcode, which encodes the generated index). The name terms are not counted: that reads the
    /// whole 28M-row index of a million products (the load's line says how many there are).
    static func stored(_ database: Database) async throws -> LoadedCatalog {
        try await database.session { db in
            guard let merchant = try await db.raw("SELECT id FROM organizations WHERE kind = 'merchant' AND code = \(bind: merchantCode) ORDER BY id LIMIT 1")
                .first()?.decode(column: "id", as: String.self) else {
                throw ValidationError("--reuse: no generated catalog in this database (load one with --load-only)")
            }
            let products = try await db.raw("SELECT COUNT(*) AS n FROM products WHERE merchant_id = \(bind: merchant)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            var samples: [CatalogSample] = []
            let codes = stride(from: 0, to: products, by: sampleStep(products)).map(CatalogData.barcode)
            for start in stride(from: 0, to: codes.count, by: 500) {
                let chunk = codes[start..<min(codes.count, start + 500)]
                var query: SQLQueryString = """
                    SELECT p.id, p.sku, p.name_zh, p.name_en, b.code FROM product_barcodes b JOIN products p ON p.id = b.product_id
                    WHERE b.merchant_id = \(bind: merchant) AND b.code IN (
                    """
                for (index, code) in chunk.enumerated() { query += index == 0 ? "\(bind: code)" : ", \(bind: code)" }
                query += ") ORDER BY b.code"
                for row in try await db.raw(query).all() {
                    samples.append(CatalogSample(id: ProductID(rawValue: try row.decode(column: "id", as: String.self)),
                                                 sku: try row.decode(column: "sku", as: String.self),
                                                 barcode: try row.decode(column: "code", as: String.self),
                                                 nameZh: try row.decode(column: "name_zh", as: String.self),
                                                 nameEn: try row.decode(column: "name_en", as: String?.self) ?? ""))
                }
            }
            guard samples.count == codes.count else {
                throw ValidationError("--reuse: found \(samples.count) of \(codes.count) sample barcodes; was this catalog loaded by this benchmark?")
            }
            return LoadedCatalog(merchantId: OrgID(rawValue: merchant), products: products, samples: samples, summary: """
                reusing: \(Report.grouped(products)) products of one merchant, \(Report.grouped(samples.count)) samples found by their barcodes
                """)
        }
    }

    private func load(_ database: Database, merchant: Organization) async throws -> LoadedCatalog {
        if database.backend == .sqlite {
            // A bigger page cache for the loading connection (the single writer), as the estate load does.
            try await database.transaction { db in try await db.raw("PRAGMA cache_size = -262144").run() }
        }
        var generator = CatalogData(seed: seed, merchant: merchant)
        var samples: [CatalogSample] = []
        var terms = 0
        let clock = ContinuousClock()
        let began = clock.now
        for start in stride(from: 0, to: products, by: batch) {
            let rows = (start..<min(products, start + batch)).map { generator.make($0) }
            terms += rows.reduce(0) { $0 + $1.terms.count }
            for row in rows where row.index % Self.sampleStep(products) == 0 {
                samples.append(CatalogSample(id: row.product.id, sku: row.product.sku, barcode: row.product.barcodes[0],
                                             nameZh: row.product.nameZh, nameEn: row.product.nameEn ?? ""))
            }
            try await database.transaction { db in try await CatalogData.insert(rows, path: merchant.path, into: db) }
            if (start / batch) % 10 == 9 { Report.say("  loaded \(Report.grouped(start + rows.count)) products…") }
        }
        // The terms went in directly, not through the catalog, which keeps their counts.
        try await database.recountProductTerms()
        let wall = EstateBenchmark.seconds(clock.now - began)
        return LoadedCatalog(merchantId: merchant.id, products: products, samples: samples, summary: """
            catalog: \(Report.grouped(products)) products of one merchant, \(Report.grouped(products)) barcodes, \(Report.grouped(terms)) name terms
            load: \(Report.decimal(wall, 1)) s = \(Report.grouped(Int(Double(products) / max(wall, 0.001)))) products/s
            """)
    }
}

/// A product the lookups ask for.
struct CatalogSample: Sendable {
    let id: ProductID
    let sku: String
    let barcode: String
    let nameZh: String
    let nameEn: String
}

struct LoadedCatalog: Sendable {
    let merchantId: OrgID
    let products: Int
    let samples: [CatalogSample]
    let summary: String
}

/// A generated product with its search terms (the same `CatalogRules.terms` the service stores).
struct GeneratedProduct: Sendable {
    let index: Int
    let product: Product
    let terms: Set<String>
}

/// Generates a supermarket catalog: names are brand + item + size, in Chinese with a pinyin English
/// name, so a brand finds thousands, a brand with its item a few dozen; SKUs are a category code
/// and a running number (a prefix finds 100 or 1,000); barcodes are valid EAN-13.
struct CatalogData {
    static let brands: [(zh: String, en: String)] = {
        let first = ["康", "统", "娃", "农", "伊", "蒙", "光", "海", "金", "鲁", "李", "百", "雀", "双", "白", "青", "王", "老", "维", "洽"]
        let second = ["师傅", "一", "哈哈", "夫山泉", "利", "牛", "明", "天", "龙鱼", "花", "锦记", "事", "巢", "汇", "象", "岛", "老吉", "干妈", "达", "洽"]
        let pinyin = ["Kang", "Tong", "Wa", "Nong", "Yi", "Meng", "Guang", "Hai", "Jin", "Lu", "Li", "Bai", "Que", "Shuang", "Bai", "Qing", "Wang",
                      "Lao", "Wei", "Qia"]
        let pinyin2 = ["shifu", "yi", "haha", "fushanquan", "li", "niu", "ming", "tian", "longyu", "hua", "jinji", "shi", "chao", "hui", "xiang",
                       "dao", "laoji", "ganma", "da", "qia"]
        var list: [(String, String)] = []
        for (a, left) in first.enumerated() {
            for (b, right) in second.enumerated() { list.append((left + right, pinyin[a] + pinyin2[b])) }
        }
        return list
    }()
    static let items: [(zh: String, en: String)] = [
        ("牛肉面", "Beef noodles"), ("矿泉水", "Mineral water"), ("纯牛奶", "Pure milk"), ("酸奶", "Yogurt"), ("食用油", "Cooking oil"),
        ("酱油", "Soy sauce"), ("饼干", "Biscuits"), ("薯片", "Potato chips"), ("可乐", "Cola"), ("绿茶", "Green tea"), ("咖啡", "Coffee"),
        ("洗发水", "Shampoo"), ("牙膏", "Toothpaste"), ("洗衣液", "Laundry liquid"), ("纸巾", "Tissues"), ("大米", "Rice"), ("面粉", "Flour"),
        ("火腿肠", "Ham sausage"), ("巧克力", "Chocolate"), ("果汁", "Fruit juice"), ("啤酒", "Beer"), ("白酒", "Baijiu"), ("辣酱", "Chili sauce"),
        ("醋", "Vinegar"), ("饮用水", "Drinking water"), ("冰淇淋", "Ice cream"), ("速冻水饺", "Frozen dumplings"), ("面包", "Bread"),
        ("口香糖", "Chewing gum"), ("电池", "Batteries"),
    ]
    static let sizes = ["250毫升", "330毫升", "500毫升", "1升", "5升", "100克", "200克", "500克", "1千克", "6连包", "12卷", "24罐"]
    static let categories = ["FD", "DR", "DA", "HH", "PC", "FR", "SN", "AL"]

    private var generator: SeededGenerator
    private let merchant: Organization
    private let now = Date()

    init(seed: UInt64, merchant: Organization) {
        generator = SeededGenerator(seed: seed)
        self.merchant = merchant
    }

    mutating func make(_ index: Int) -> GeneratedProduct {
        let brand = Self.brands[Int.random(in: 0..<Self.brands.count, using: &generator)]
        let item = Self.items[Int.random(in: 0..<Self.items.count, using: &generator)]
        let size = Self.sizes[Int.random(in: 0..<Self.sizes.count, using: &generator)]
        let category = Self.categories[index % Self.categories.count]
        // SKUs run per category: FD-0000123; dropping 2 or 3 digits leaves 100 or 1,000 of them.
        let sku = "\(category)-\(String(format: "%07d", index / Self.categories.count))"
        let barcode = Self.barcode(index)
        let created = now.addingTimeInterval(Double(index - 10_000_000) / 1_000)
        let product = Product(id: ProductID(rawValue: UUIDv7.make(now: created)), merchantId: merchant.id, sku: sku, barcodes: [barcode],
                              nameZh: "\(brand.zh)\(item.zh) \(size)", nameEn: "\(brand.en) \(item.en)", category: category, unit: .piece,
                              price: Int64(100 + Int.random(in: 0..<20_000, using: &generator)), memberPrice: nil, taxRate: 1300, cost: nil,
                              scaleCode: nil, active: true, createdAt: created, updatedAt: created, version: 1)
        return GeneratedProduct(index: index, product: product, terms: CatalogRules.terms(of: product))
    }

    /// The EAN-13 barcode of the generated product at `index` ("69", the index in 10 digits, the check digit).
    static func barcode(_ index: Int) -> String {
        let body = "69\(String(format: "%010d", index))"
        return body + String(Barcodes.checkDigit(body) ?? 0)
    }

    /// The brand and item of a generated Chinese name (what is typed to find one product line).
    static func brandItem(_ nameZh: String) -> String { String(nameZh.split(separator: " ")[0]) }

    /// The item word of a generated Chinese name (found in thousands of products).
    static func item(_ nameZh: String) -> String {
        let brandItem = String(nameZh.split(separator: " ")[0])
        return items.first { brandItem.hasSuffix($0.zh) }?.zh ?? brandItem
    }

    /// Inserts products, barcodes and name terms with multi-row INSERTs in the caller's transaction,
    /// into the columns of migration 0007, so the product's repository reads them as its own.
    static func insert(_ rows: [GeneratedProduct], path: String, into db: any SQLDatabase) async throws {
        let columns = ["id", "merchant_id", "org_path", "sku", "name_zh", "name_en", "category", "unit", "price", "member_price", "tax_rate",
                       "cost", "scale_code", "active", "created_at", "updated_at", "version"]
        for start in stride(from: 0, to: rows.count, by: 500) {
            let insert = db.insert(into: "products").columns(columns)
            for row in rows[start..<min(rows.count, start + 500)] {
                let p = row.product
                insert.values([p.id.rawValue, p.merchantId.rawValue, path, p.sku, p.nameZh, p.nameEn, p.category, p.unit.rawValue, p.price,
                                p.memberPrice, p.taxRate, p.cost, p.scaleCode, 1, EpochMillis.from(p.createdAt), EpochMillis.from(p.updatedAt), p.version] as [any Encodable & Sendable])
            }
            try await insert.run()
        }
        let barcodes = rows.flatMap { row in row.product.barcodes.map { (row.product.merchantId.rawValue, $0, row.product.id.rawValue) } }
        let terms = rows.flatMap { row in row.terms.sorted().map { (row.product.merchantId.rawValue, $0, row.product.id.rawValue) } }
        for (table, triples) in [("product_barcodes", barcodes), ("product_terms", terms)] {
            let second = table == "product_barcodes" ? "code" : "term"
            for start in stride(from: 0, to: triples.count, by: 2_000) {
                let insert = db.insert(into: table).columns(["merchant_id", second, "product_id"])
                for triple in triples[start..<min(triples.count, start + 2_000)] { insert.values([triple.0, triple.1, triple.2]) }
                try await insert.run()
            }
        }
    }
}
