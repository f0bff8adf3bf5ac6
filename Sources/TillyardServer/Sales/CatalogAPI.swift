import Foundation
import Hummingbird
import TillyardKit

/// A product as the API shows it; the cost only to those who maintain the catalog.
struct ProductBody: Codable, Sendable {
    var id: String
    var merchantId: String
    var sku: String
    var barcodes: [String]
    var nameZh: String
    var nameEn: String?
    var category: String?
    var unit: SaleUnit
    var price: Int64
    var memberPrice: Int64?
    var taxRate: Int
    var cost: Int64?
    var scaleCode: String?
    var active: Bool
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ product: Product, showCost: Bool) {
        id = product.id.rawValue; merchantId = product.merchantId.rawValue; sku = product.sku; barcodes = product.barcodes
        nameZh = product.nameZh; nameEn = product.nameEn; category = product.category; unit = product.unit; price = product.price
        memberPrice = product.memberPrice; taxRate = product.taxRate; cost = showCost ? product.cost : nil; scaleCode = product.scaleCode
        active = product.active; createdAt = product.createdAt; updatedAt = product.updatedAt; version = product.version
    }
}

/// The body of `POST /products` and `PUT /products/{id}`.
struct ProductBodyInput: APIInput {
    var merchantId: String?
    var version: Int?
    var sku: String
    var barcodes: [String]?
    var nameZh: String
    var nameEn: String?
    var category: String?
    var unit: SaleUnit?
    var price: Int64
    var memberPrice: Int64?
    var taxRate: Int?
    var cost: Int64?
    var scaleCode: String?
    var active: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case merchantId, version, sku, barcodes, nameZh, nameEn, category, unit, price, memberPrice, taxRate, cost, scaleCode, active
    }
    typealias Field = CodingKeys

    var input: ProductInput {
        ProductInput(sku: sku, barcodes: barcodes ?? [], nameZh: nameZh, nameEn: nameEn, category: category, unit: unit ?? .piece,
                     price: price, memberPrice: memberPrice, taxRate: taxRate ?? 1300, cost: cost, scaleCode: scaleCode, active: active ?? true)
    }
}

/// A scan as the register sees it.
struct ScanBody: Codable, Sendable {
    var product: ProductBody
    var quantity: Int64
    var fromScale: Bool
}

/// `/api/v1` routes of the merchant catalog: products, CSV export and import, and the scan lookup.
struct CatalogAPI {
    let catalog: CatalogService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let catalog = self.catalog
        let routes = self.routes

        api.get("products") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await catalog.search(Self.filter(request), merchantId: try Self.merchant(request), page: try request.pageRequest(),
                                                by: principal)
            return try JSONResponse.make(PageBody(page) { ProductBody($0, showCost: principal.can(.catalogManage)) })
        }
        api.get("products.csv") { request, context in
            let principal = try context.requirePrincipal()
            let export = try await catalog.export(Self.filter(request), merchantId: try Self.merchant(request), by: principal)
            return CSVTransfer.streamed(filename: "products.csv") { try await export.write($0) }
        }
        api.post("products/import") { request, context in
            let principal = try context.requirePrincipal()
            let merchant = try Self.merchant(request)
            let dryRun = try Self.dryRun(request)
            let (data, text) = try await CSVTransfer.upload(request)
            return try await routes.idempotency.run(request: request, body: data, principal: principal) {
                let report = try await catalog.importProducts(csv: text, merchantId: merchant, dryRun: dryRun, by: principal)
                return (dryRun ? .ok : .created, try JSONIO.encode(report))
            }
        }
        api.post("products") { request, context in
            try await routes.create(request, context) { (body: ProductBodyInput, principal) in
                guard body.version == nil else { throw DomainError.invalid("version", "is not used when creating a product") }
                let merchant = try OrgID.parse(ifPresent: body.merchantId, field: "merchantId")
                return ProductBody(try await catalog.create(body.input, merchantId: merchant, by: principal), showCost: true)
            }
        }
        api.get("products/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id: ProductID = try context.id("id", resource: "product")
            return try JSONResponse.make(ProductBody(try await catalog.product(id, by: principal), showCost: principal.can(.catalogManage)))
        }
        api.put("products/:id") { request, context in
            let id: ProductID = try context.id("id", resource: "product")
            return try await routes.update(request, context) { (body: ProductBodyInput, principal) in
                guard let version = body.version else { throw DomainError.invalid("version", "is required: the version you read") }
                guard body.merchantId == nil else { throw DomainError.invalid("merchantId", "a product stays in its catalog") }
                return ProductBody(try await catalog.update(id, body.input, expectedVersion: version, by: principal), showCost: true)
            }
        }
        api.get("product-scan") { request, context in
            let principal = try context.requirePrincipal()
            guard let code = request.query("code") else { throw DomainError.invalid("code", "give the scanned code") }
            let result = try await catalog.scan(code, merchantId: try Self.merchant(request), by: principal)
            return try JSONResponse.make(ScanBody(product: ProductBody(result.product, showCost: principal.can(.catalogManage)),
                                                  quantity: result.quantity, fromScale: result.fromScale))
        }
    }

    /// The search filter of the query (`q`, `category`, `active=true`).
    static func filter(_ request: Request) -> ProductFilter {
        ProductFilter(query: request.query("q"), category: request.query("category"), activeOnly: request.query("active") == "true")
    }

    /// `dryRun=true|false` (absent: false); anything else is refused rather than taken as a real import.
    static func dryRun(_ request: Request) throws -> Bool {
        switch request.query("dryRun") {
        case nil, "false": return false
        case "true": return true
        default: throw DomainError.invalid("dryRun", "must be true or false")
        }
    }

    /// The `merchantId` query parameter (staff name the catalog; merchant users default to theirs).
    static func merchant(_ request: Request) throws -> OrgID? {
        try OrgID.parse(ifPresent: request.query("merchantId"), field: "merchantId")
    }
}
