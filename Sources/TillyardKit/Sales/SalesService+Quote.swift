import Foundation

/// A cart the register wants priced before the customer pays.
public struct CartQuoteInput: Sendable {
    /// The store; the cashier's own store when nil.
    public var storeId: OrgID?
    /// Product and quantity per line (prices and discounts in the lines are ignored: the server prices).
    public var lines: [SaleLineInput]
    public var isMember: Bool
    /// A member id: their tier prices the cart (member prices, the tier's percent off).
    public var memberId: String?
    /// The instant to price at; now when nil (the register may ask about the time of an offline sale).
    public var at: Date?

    public init(storeId: OrgID? = nil, lines: [SaleLineInput], isMember: Bool = false, memberId: String? = nil, at: Date? = nil) {
        self.storeId = storeId
        self.memberId = memberId
        self.lines = lines
        self.isMember = isMember
        self.at = at
    }
}

/// One priced line of a quote: the engine's line with the product it is.
public struct QuotedLine: Codable, Sendable, Equatable {
    public var productId: ProductID
    public var sku: String
    public var nameZh: String
    public var nameEn: String?
    /// Milli-units.
    public var quantity: Int64
    public var unitPrice: Int64
    public var gross: Int64
    public var discount: Int64
    public var promotionId: PromotionID?
    public var promotionName: String?
    public var net: Int64
}

/// The priced cart: what a sale of these lines costs now, before manual discounts and cash rounding.
/// A register that sends these lines back (with `unitPrice`, `discount`, `promotionId`) and the
/// total as `expectedTotal` has its sale accepted online and kept as priced when it arrives late.
public struct CartQuote: Codable, Sendable, Equatable {
    public var storeId: OrgID
    public var pricedAt: Date
    public var lines: [QuotedLine]
    public var gross: Int64
    public var discount: Int64
    public var total: Int64
}

extension SalesService {
    /// Prices a cart with the catalog and the promotions running in the store (lines of one product merged).
    public func quote(_ input: CartQuoteInput, by principal: Principal) async throws -> CartQuote {
        try principal.require(.salesSell)
        let at = input.at ?? clock.now()
        return try await store.read { repos in
            let (storeOrg, merchant) = try await Self.store(input.storeId, repos: repos, principal: principal)
            let settings = try await repos.registerSettings.find(store: storeOrg.id) ?? RegisterSettings(storeId: storeOrg.id)
            var catalog = try await CatalogSnapshot.load(input.lines, merchant: merchant, at: at, repos: repos)
            let member = try await MemberPosting.load(input.memberId, merchant: merchant, storeId: storeOrg.id, repos: repos)
            catalog.promotions += member?.promotions ?? []
            let (products, priced) = try Self.enginePrice(input.lines, storeId: storeOrg.id, settings: settings, at: at,
                                                          isMember: member?.memberPrice ?? input.isMember, catalog: catalog)
            let bySku = Dictionary(products.values.map { ($0.sku, $0) }, uniquingKeysWith: { first, _ in first })
            let lines = try priced.lines.map { line in
                guard let product = bySku[line.sku] else { throw DomainError.invalid("lines", "unknown SKU \(line.sku)") }
                return QuotedLine(productId: product.id, sku: product.sku, nameZh: product.nameZh, nameEn: product.nameEn, quantity: line.quantity,
                                  unitPrice: line.unitPrice, gross: line.gross, discount: line.discount, promotionId: line.promotionId,
                                  promotionName: line.promotionName, net: line.net)
            }
            return CartQuote(storeId: storeOrg.id, pricedAt: at, lines: lines, gross: priced.gross, discount: priced.discount, total: priced.net)
        }
    }
}
