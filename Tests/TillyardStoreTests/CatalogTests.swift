import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The merchant catalog on both engines: validation and uniqueness, search by barcode, SKU
/// prefix and any part of a Chinese name, the register's scan (scale labels included), scoping.
@Suite struct CatalogStoreTests {
    @Test(arguments: TestBackend.allCases)
    func productsSearchAndScan(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            let fixtures = try await Fixtures.make(services.access)
            let catalog = services.catalog
            let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
            let cashier = try await services.access.principal(commandLineUser: "storeA.cashier")
            let ownerB = try await services.access.principal(commandLineUser: "merchantB.owner")

            let cola = try await catalog.create(ProductInput(sku: "cola-330", barcodes: ["6901234567892"], nameZh: "可口可乐 330ml",
                                                             nameEn: "Coca-Cola", category: "drinks", price: 350, memberPrice: 300, cost: 180),
                                                merchantId: nil, by: owner)
            #expect(cola.sku == "COLA-330" && cola.merchantId == fixtures.merchantA && cola.version == 1)
            _ = try await catalog.create(ProductInput(sku: "SPRITE-330", barcodes: ["SHELF-7"], nameZh: "雪碧 330ml", category: "drinks", price: 330),
                                         merchantId: nil, by: owner)
            let pork = try await catalog.create(ProductInput(sku: "PORK", nameZh: "五花肉", category: "meat", unit: .weight, price: 3280,
                                                             taxRate: 900, scaleCode: "00123"), merchantId: nil, by: owner)

            // Uniqueness inside the catalog, with a message naming the other product.
            let again = await Self.message {
                _ = try await catalog.create(ProductInput(sku: "X1", barcodes: ["6901234567892"], nameZh: "x", price: 1), merchantId: nil, by: owner)
            }
            #expect(again == "barcode 6901234567892 is already on COLA-330 可口可乐 330ml")
            let sku = await Self.message { _ = try await catalog.create(ProductInput(sku: "Cola-330", nameZh: "x", price: 1), merchantId: nil, by: owner) }
            #expect(sku == "SKU COLA-330 is already used by 可口可乐 330ml")
            await #expect(throws: DomainError.invalid("memberPrice", "must not exceed the price")) {
                _ = try await catalog.create(ProductInput(sku: "X2", nameZh: "x", price: 100, memberPrice: 101), merchantId: nil, by: owner)
            }
            await #expect(throws: DomainError.invalid("scaleCode", "only weighed products carry a scale code")) {
                _ = try await catalog.create(ProductInput(sku: "X3", nameZh: "x", price: 100, scaleCode: "00001"), merchantId: nil, by: owner)
            }
            // Merchant B may use the same codes in its own catalog.
            _ = try await catalog.create(ProductInput(sku: "COLA-330", barcodes: ["6901234567892"], nameZh: "百事可乐", price: 300),
                                         merchantId: nil, by: ownerB)

            // Search: any part of a Chinese name, SKU prefix, exact barcode; the store's cashier uses the merchant's catalog.
            func skus(_ query: String, by principal: Principal) async throws -> [String] {
                try await catalog.search(ProductFilter(query: query), merchantId: nil, page: PageRequest(limit: 50), by: principal).items.map(\.sku).sorted()
            }
            #expect(try await skus("可乐", by: cashier) == ["COLA-330"])
            #expect(try await skus("330", by: cashier) == ["COLA-330", "SPRITE-330"])
            #expect(try await skus("cola", by: cashier) == ["COLA-330"])
            #expect(try await skus("spr", by: cashier) == ["SPRITE-330"])
            #expect(try await skus("shelf-7", by: cashier) == ["SPRITE-330"])
            #expect(try await skus("花肉", by: cashier) == ["PORK"])
            #expect(try await skus("百事", by: cashier) == [])
            #expect(try await skus("可乐", by: ownerB) == ["COLA-330"], "merchant B finds its own cola only")

            // Scan: a barcode is one piece; a scale label carries the grams (or the price, from which the grams follow).
            let scanned = try await catalog.scan("6901234567892", merchantId: nil, by: cashier)
            #expect(scanned.product.id == cola.id && scanned.quantity == 1000 && !scanned.fromScale)
            let body = "210012301250"
            let label = body + String(try #require(Barcodes.checkDigit(body)))
            let weighed = try await catalog.scan(label, merchantId: nil, by: cashier)
            #expect(weighed.product.id == pork.id && weighed.quantity == 1250 && weighed.fromScale)
            await #expect(throws: DomainError.notFound(resource: "barcode", id: "6900000000000")) {
                _ = try await catalog.scan("6900000000000", merchantId: nil, by: cashier)
            }

            // Changes: version checked, price change audited, an inactive product no longer scans.
            var input = ProductInput(sku: "COLA-330", barcodes: ["6901234567892"], nameZh: "可口可乐 330ml", category: "drinks", price: 380, active: false)
            let changed = try await catalog.update(cola.id, input, expectedVersion: 1, by: owner)
            #expect(changed.price == 380 && changed.version == 2 && !changed.active)
            input.price = 390
            let stale = await Self.message { _ = try await catalog.update(cola.id, input, expectedVersion: 1, by: owner) }
            #expect(stale?.contains("changed by someone else") == true)
            await #expect(throws: DomainError.self) { _ = try await catalog.scan("6901234567892", merchantId: nil, by: cashier) }
            let audited = try await database.session { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'product.update' AND summary LIKE '%CNY 3.50%CNY 3.80%'")
                    .first()?.decode(column: "n", as: Int.self) ?? -1
            }
            #expect(audited == 1)

            // Scoping: cashiers read but never change; another merchant's products are not found.
            await #expect(throws: DomainError.forbidden("your role does not allow catalog.manage")) {
                _ = try await catalog.create(ProductInput(sku: "X4", nameZh: "x", price: 1), merchantId: nil, by: cashier)
            }
            await #expect(throws: DomainError.notFound(resource: "product", id: cola.id.rawValue)) {
                _ = try await catalog.product(cola.id, by: ownerB)
            }
            await #expect(throws: DomainError.notFound(resource: "merchant", id: fixtures.merchantA.rawValue)) {
                _ = try await catalog.search(ProductFilter(), merchantId: fixtures.merchantA, page: PageRequest(limit: 5), by: ownerB)
            }
            // Staff of the acquirer name the catalog they work on.
            let admin = try await services.access.principal(commandLineUser: "admin")
            await #expect(throws: DomainError.invalid("merchantId", "is required: say whose catalog")) {
                _ = try await catalog.search(ProductFilter(), merchantId: nil, page: PageRequest(limit: 5), by: admin)
            }
            #expect(try await catalog.search(ProductFilter(), merchantId: fixtures.merchantA, page: PageRequest(limit: 5), by: admin).items.count == 3)
        }
    }

    static func message(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let error as DomainError { return error.message } catch { return "unexpected \(error)" }
    }
}
