import Foundation

/// What a scanned code resolved to: the product and how much of it (a scale label carries the
/// weight, or the price from which the weight follows).
public struct ScanResult: Sendable, Equatable {
    public var product: Product
    /// Milli-units: 1000 for one piece; grams for weighed goods.
    public var quantity: Int64
    /// True when the code was a scale label.
    public var fromScale: Bool
}

/// A merchant's catalog, shared by its stores: products, barcodes, prices, and the lookup the
/// register does on every scan.
public struct CatalogService: Sendable {
    public let store: any Persistence
    public let clock: Clock
    /// How this installation's scales print weighed-goods labels.
    public let scaleFormat: ScaleBarcodeFormat

    /// Emptied after every change to products, so the next sale reads them afresh; scans and searches
    /// find the caller's merchant in it (nil: none kept).
    let saleContext: SaleContextCache?

    public init(store: any Persistence, clock: Clock = .system, scaleFormat: ScaleBarcodeFormat = ScaleBarcodeFormat(),
                saleContext: SaleContextCache? = nil) {
        self.store = store
        self.saleContext = saleContext
        self.clock = clock
        self.scaleFormat = scaleFormat
    }

    /// Adds a product to a merchant's catalog (the caller's own merchant when `merchantId` is nil).
    public func create(_ input: ProductInput, merchantId: OrgID?, by principal: Principal) async throws -> Product {
        try principal.require(.catalogManage)
        let now = clock.now()
        return try await store.write { repos in
            let merchant = try await Self.merchant(merchantId, repos: repos, principal: principal)
            let product = try await checked(input, into: nil, merchant: merchant, repos: repos, at: now)
            try await repos.products.insert(product, orgPath: merchant.path, terms: CatalogRules.terms(of: product))
            try await audit("product.create", product, merchant, principal, repos, now)
            return product
        }
    }

    /// Changes a product (optimistic: `expectedVersion` is the version read).
    public func update(_ id: ProductID, _ input: ProductInput, expectedVersion: Int, by principal: Principal) async throws -> Product {
        try principal.require(.catalogManage)
        let now = clock.now()
        // Sales read products through a short-lived cache: forget it once this commits.
        defer { saleContext?.removeAll() }
        return try await store.write { repos in
            let (stored, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            guard stored.version == expectedVersion else {
                throw DomainError.conflict("the product was changed by someone else (version \(stored.version)); reload it")
            }
            var product = try await checked(input, into: stored, merchant: merchant, repos: repos, at: now)
            product.version = stored.version + 1
            try await repos.products.update(product, terms: CatalogRules.terms(of: product))
            var summary = ["sku": product.sku]
            if stored.price != product.price {
                summary["price"] = "\(Money(minorUnits: stored.price)) → \(Money(minorUnits: product.price))"
            }
            try await audit("product.update", product, merchant, principal, repos, now, extra: summary)
            return product
        }
    }

    /// One product the caller can see.
    public func product(_ id: ProductID, by principal: Principal) async throws -> Product {
        try principal.require(.catalogRead)
        return try await store.read { try await Self.visible(id, repos: $0, principal: principal).0 }
    }

    /// Searches a merchant's catalog.
    public func search(_ filter: ProductFilter, merchantId: OrgID?, page: PageRequest, by principal: Principal) async throws -> Page<Product> {
        try principal.require(.catalogRead)
        return try await store.read { [saleContext] repos in
            let merchant = try await Self.merchant(merchantId, repos: repos, principal: principal, cache: saleContext)
            return try await repos.products.search(merchant: merchant.id, filter: filter, page: page)
        }
    }

    /// What the register does on a scan: a barcode of an active product, or a scale label.
    public func scan(_ code: String, merchantId: OrgID?, by principal: Principal) async throws -> ScanResult {
        try principal.require(.catalogRead)
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else { throw DomainError.invalid("code", "give the scanned code") }
        let format = scaleFormat
        return try await store.read { [saleContext] repos in
            let merchant = try await Self.merchant(merchantId, repos: repos, principal: principal, cache: saleContext)
            if let product = try await repos.products.find(merchant: merchant.id, barcode: trimmed.uppercased()), product.active {
                return ScanResult(product: product, quantity: 1000, fromScale: false)
            }
            if let label = format.read(trimmed), let product = try await repos.products.find(merchant: merchant.id, scaleCode: label.itemCode),
               product.active, product.unit == .weight {
                // A price label: the weight is what that price buys (to the gram).
                let grams = label.grams ?? PricingEngine.roundedDivision((label.priceFen ?? 0) * 1000, by: max(product.price, 1))
                return ScanResult(product: product, quantity: grams, fromScale: true)
            }
            throw DomainError.notFound(resource: "barcode", id: trimmed)
        }
    }

    // MARK: - Helpers

    private func checked(_ input: ProductInput, into existing: Product?, merchant: Organization, repos: any Repositories,
                         at now: Date) async throws -> Product {
        let product = try validated(input, into: existing, merchant: merchant.id, at: now)
        let sku = product.sku, barcodes = product.barcodes, scaleCode = product.scaleCode
        // Uniqueness inside the catalog, checked before writing (a failed statement would abort a
        // PostgreSQL transaction, and the message names the other product).
        if let other = try await repos.products.find(merchant: merchant.id, sku: sku), other.id != existing?.id {
            throw DomainError.conflict("SKU \(sku) is already used by \(other.nameZh)")
        }
        for code in barcodes {
            if let other = try await repos.products.find(merchant: merchant.id, barcode: code), other.id != existing?.id {
                throw DomainError.conflict("barcode \(code) is already on \(other.sku) \(other.nameZh)")
            }
        }
        if let scaleCode, let other = try await repos.products.find(merchant: merchant.id, scaleCode: scaleCode), other.id != existing?.id {
            throw DomainError.conflict("scale code \(scaleCode) is already used by \(other.sku)")
        }
        return product
    }

    /// The product an input makes (new, or `existing` changed), checked field by field; what only
    /// storage can tell (codes used by other products) is left to the caller.
    func validated(_ input: ProductInput, into existing: Product?, merchant: OrgID, at now: Date) throws -> Product {
        let sku = try CatalogRules.sku(input.sku)
        let barcodes = try CatalogRules.barcodes(input.barcodes)
        let nameZh = try AccessRules.text(input.nameZh, field: "nameZh", max: 100)
        let nameEn = try input.nameEn.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try AccessRules.text($0, field: "nameEn", max: 100) }
        let category = try input.category.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try AccessRules.text($0, field: "category", max: 60) }
        let price = try CatalogRules.price(input.price, field: "price")
        let memberPrice = try input.memberPrice.map { try CatalogRules.price($0, field: "memberPrice") }
        if let memberPrice, memberPrice > price { throw DomainError.invalid("memberPrice", "must not exceed the price") }
        let cost = try input.cost.map { try CatalogRules.price($0, field: "cost") }
        let taxRate = try CatalogRules.taxRate(input.taxRate)
        var scaleCode: String?
        if let raw = input.scaleCode?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
            guard input.unit == .weight else { throw DomainError.invalid("scaleCode", "only weighed products carry a scale code") }
            guard raw.count == scaleFormat.itemDigits, raw.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw DomainError.invalid("scaleCode", "must be \(scaleFormat.itemDigits) digits")
            }
            scaleCode = raw
        }
        return Product(id: existing?.id ?? .generate(now: now), merchantId: merchant, sku: sku, barcodes: barcodes, nameZh: nameZh,
                       nameEn: nameEn, category: category, unit: input.unit, price: price, memberPrice: memberPrice, taxRate: taxRate,
                       cost: cost, scaleCode: scaleCode, active: input.active, createdAt: existing?.createdAt ?? now, updatedAt: now,
                       version: existing?.version ?? 1)
    }

    /// The merchant whose catalog the caller works on: the given one if the caller sees it or
    /// works inside it (a store's cashier uses its merchant's catalog), else the caller's own.
    /// Reads may pass `cache` (the register's lookups: a cashier's scan or search would otherwise read
    /// its store and then its merchant before the catalog, two round trips to a database server).
    static func merchant(_ id: OrgID?, repos: any Repositories, principal: Principal, cache: SaleContextCache? = nil) async throws -> Organization {
        func find(_ id: OrgID) async throws -> Organization? {
            if let cache { return try await cache.org(id, repos: repos) }
            return try await repos.orgs.find(id)
        }
        if let id {
            guard let org = try await find(id), org.kind == .merchant,
                  principal.worksWith(path: org.path) else {
                throw DomainError.notFound(resource: "merchant", id: id.rawValue)
            }
            return org
        }
        guard let own = try await find(principal.user.orgId) else {
            throw DomainError.conflict("your organisation is missing")
        }
        if own.kind == .merchant { return own }
        if own.kind == .store, let parent = own.parentId, let merchant = try await find(parent) { return merchant }
        throw DomainError.invalid("merchantId", "is required: say whose catalog")
    }

    /// A product and its merchant, if the caller may see that catalog.
    static func visible(_ id: ProductID, repos: any Repositories, principal: Principal) async throws -> (Product, Organization) {
        guard let product = try await repos.products.find(id), let merchant = try await repos.orgs.find(product.merchantId),
              principal.worksWith(path: merchant.path) else {
            throw DomainError.notFound(resource: "product", id: id.rawValue)
        }
        return (product, merchant)
    }

    private func audit(_ action: String, _ product: Product, _ merchant: Organization, _ principal: Principal, _ repos: any Repositories,
                       _ now: Date, extra: [String: String]? = nil) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: merchant.id, actor: principal.actor, action: action, resourceType: "product", resourceId: product.id.rawValue,
                       origin: principal.origin,
                       summary: extra ?? ["sku": product.sku, "name": product.nameZh, "price": Money(minorUnits: product.price).description]),
            orgPath: merchant.path, at: now)
    }
}
