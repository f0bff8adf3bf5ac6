import Foundation

/// Tag for product ids.
public enum ProductTag {}
/// Id of a catalog product.
public typealias ProductID = Identifier<ProductTag>

/// How a product is sold: by the piece, or weighed (priced per kilogram).
public enum SaleUnit: String, Codable, Sendable, CaseIterable {
    case piece
    case weight
}

/// A product of a merchant's catalog (shared by all its stores).
public struct Product: Codable, Sendable, Equatable {
    public var id: ProductID
    public var merchantId: OrgID
    /// The merchant's own code, unique in its catalog.
    public var sku: String
    /// EAN-13 / EAN-8 / UPC-A / custom codes, each unique in the catalog.
    public var barcodes: [String]
    public var nameZh: String
    public var nameEn: String?
    public var category: String?
    public var unit: SaleUnit
    /// Tax-included price per piece or per kilogram, fen.
    public var price: Int64
    public var memberPrice: Int64?
    /// VAT rate in basis points (1300 = 13%).
    public var taxRate: Int
    /// Purchase cost per unit, fen (for margins; finance and owners only).
    public var cost: Int64?
    /// The item code scales print on weighed-goods labels.
    public var scaleCode: String?
    public var active: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: ProductID, merchantId: OrgID, sku: String, barcodes: [String], nameZh: String, nameEn: String?, category: String?,
                unit: SaleUnit, price: Int64, memberPrice: Int64?, taxRate: Int, cost: Int64?, scaleCode: String?, active: Bool,
                createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.merchantId = merchantId
        self.sku = sku
        self.barcodes = barcodes
        self.nameZh = nameZh
        self.nameEn = nameEn
        self.category = category
        self.unit = unit
        self.price = price
        self.memberPrice = memberPrice
        self.taxRate = taxRate
        self.cost = cost
        self.scaleCode = scaleCode
        self.active = active
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// The product as the pricing engine sees one scanned line of it.
    public func cartLine(quantity: Int64) -> CartLine {
        CartLine(sku: sku, category: category, quantity: quantity, unitPrice: price, memberPrice: memberPrice)
    }
}

/// Validation of catalog input and the search terms of product names.
public enum CatalogRules {
    /// China's VAT rates (0, 1, 3, 6, 9, 13 %) in basis points.
    public static let taxRates: Set<Int> = [0, 100, 300, 600, 900, 1300]
    /// Highest price accepted, fen (¥10,000,000): a typo guard, not a business limit.
    public static let maxPrice: Int64 = 1_000_000_000

    /// A SKU: 1–40 letters, digits, '-' or '_' (upper-cased).
    public static func sku(_ raw: String, field: String = "sku") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard (1...40).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DomainError.invalid(field, "must be 1 to 40 letters, digits, '-' or '_'")
        }
        return value
    }

    /// Barcodes of a product: each valid for its apparent kind (8, 12 or 13 digits must carry a
    /// GS1 check digit; anything else is a custom code), no duplicates, at most 10.
    public static func barcodes(_ raw: [String]) throws -> [String] {
        guard raw.count <= 10 else { throw DomainError.invalid("barcodes", "a product has at most 10 barcodes") }
        var seen: Set<String> = []
        return try raw.enumerated().map { index, code in
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            let numeric = !trimmed.isEmpty && trimmed.allSatisfy { $0.isASCII && $0.isNumber }
            let kind: BarcodeKind
            switch trimmed.count {
            case 13 where numeric: kind = .ean13
            case 12 where numeric: kind = .upcA
            case 8 where numeric: kind = .ean8
            default: kind = .custom
            }
            let value = try Barcodes.normalise(trimmed, kind: kind, field: "barcodes.\(index)")
            guard seen.insert(value).inserted else { throw DomainError.invalid("barcodes.\(index)", "is listed twice") }
            return value
        }
    }

    /// A price in fen within the accepted range.
    public static func price(_ value: Int64, field: String) throws -> Int64 {
        guard (0...maxPrice).contains(value) else { throw DomainError.invalid(field, "must be from 0 to \(maxPrice) fen") }
        return value
    }

    /// A VAT rate in basis points.
    public static func taxRate(_ value: Int) throws -> Int {
        guard taxRates.contains(value) else {
            throw DomainError.invalid("taxRate", "must be one of \(taxRates.sorted().map(String.init).joined(separator: ", ")) (basis points)")
        }
        return value
    }

    /// Text folded for matching: lower case, full-width ASCII to half-width, spaces removed.
    public static func fold(_ text: String) -> String {
        String(String.UnicodeScalarView(folded(text).unicodeScalars.filter { !$0.properties.isWhitespace }))
    }

    /// Lower case and full-width ASCII to half-width (the ideographic space becomes a space), so
    /// "ＣＯＬＡ" is typed and found as "cola".
    private static func folded(_ text: String) -> String {
        String(String.UnicodeScalarView(text.lowercased().unicodeScalars.map { scalar -> Unicode.Scalar in
            if (0xFF01...0xFF5E).contains(scalar.value), let narrow = Unicode.Scalar(scalar.value - 0xFEE0) { return narrow }
            return scalar.value == 0x3000 ? " " : scalar
        }))
    }

    /// Longest word prefix indexed. A longer query word is looked up by its first `maxPrefix`
    /// characters (words that long are rare in product names; their remaining letters go unchecked).
    public static let maxPrefix = 20

    /// The search terms of a product: those of its Chinese and English names.
    public static func terms(of product: Product) -> Set<String> {
        terms([product.nameZh] + [product.nameEn].compactMap { $0 })
    }

    /// The terms a name is found by. Chinese (and Japanese kana) has no spaces to split words on, so
    /// each character and each pair of neighbouring characters is a term: any run of two or more
    /// characters shares all its pairs with the names containing it ("可乐" finds "可口可乐").
    /// Words of letters and digits (English, pinyin, sizes) are found by their beginnings, so each
    /// prefix of a word is a term and a typed word is one exact lookup ("bee" finds "Beef"); a word
    /// also begins where letters turn into digits or back ("ml" finds "330ml"). Letter pairs would
    /// make every English query a long walk: every pair of letters is common.
    public static func terms(_ names: [String]) -> Set<String> {
        var terms: Set<String> = []
        for name in names {
            for segment in segments(name) {
                switch segment {
                case .ideographs(let characters):
                    for (index, character) in characters.enumerated() {
                        terms.insert(String(character))
                        if index + 1 < characters.count { terms.insert(String(characters[index...index + 1])) }
                    }
                case .word(let characters):
                    for start in characters.indices where start == 0 || characters[start].isNumber != characters[start - 1].isNumber {
                        for end in start..<min(characters.count, start + maxPrefix) { terms.insert(String(characters[start...end])) }
                    }
                }
            }
        }
        return terms
    }

    /// The terms to look a query up by, all of which a matching name holds: the pairs of each run of
    /// Chinese characters (or the character of a one-character run) and each word, as a prefix.
    public static func queryTerms(_ query: String) -> Set<String> {
        var terms: Set<String> = []
        for segment in segments(query) {
            switch segment {
            case .ideographs(let characters) where characters.count == 1:
                terms.insert(String(characters[0]))
            case .ideographs(let characters):
                for index in 0..<(characters.count - 1) { terms.insert(String(characters[index...index + 1])) }
            case .word(let characters):
                terms.insert(String(characters.prefix(maxPrefix)))
            }
        }
        return terms
    }

    /// A stretch of folded text that is indexed one way.
    private enum Segment {
        /// Chinese characters or kana; spaces between them are ignored (as typed, "康师傅 牛肉面").
        case ideographs([Character])
        /// Letters and digits between spaces, punctuation and Chinese characters.
        case word([Character])
    }

    private static func segments(_ text: String) -> [Segment] {
        var segments: [Segment] = []
        var ideographs: [Character] = []
        var word: [Character] = []
        func endWord() {
            if !word.isEmpty { segments.append(.word(word)) }
            word = []
        }
        func endIdeographs() {
            if !ideographs.isEmpty { segments.append(.ideographs(ideographs)) }
            ideographs = []
        }
        for character in folded(text) {
            // Ideographs first: many are also numbers (五, 十).
            if let scalar = character.unicodeScalars.first, scalar.properties.isIdeographic || (0x3040...0x30FF).contains(scalar.value) {
                endWord()
                ideographs.append(character)
            } else if character.isLetter || character.isNumber {
                endIdeographs()
                word.append(character)
            } else if character.isWhitespace {
                endWord()
            } else {
                endWord()
                endIdeographs()
            }
        }
        endWord()
        endIdeographs()
        return segments
    }
}

/// What a product is created or changed with.
public struct ProductInput: Sendable {
    public var sku: String
    public var barcodes: [String]
    public var nameZh: String
    public var nameEn: String?
    public var category: String?
    public var unit: SaleUnit
    public var price: Int64
    public var memberPrice: Int64?
    public var taxRate: Int
    public var cost: Int64?
    public var scaleCode: String?
    public var active: Bool

    public init(sku: String, barcodes: [String] = [], nameZh: String, nameEn: String? = nil, category: String? = nil, unit: SaleUnit = .piece,
                price: Int64, memberPrice: Int64? = nil, taxRate: Int = 1300, cost: Int64? = nil, scaleCode: String? = nil,
                active: Bool = true) {
        self.sku = sku
        self.barcodes = barcodes
        self.nameZh = nameZh
        self.nameEn = nameEn
        self.category = category
        self.unit = unit
        self.price = price
        self.memberPrice = memberPrice
        self.taxRate = taxRate
        self.cost = cost
        self.scaleCode = scaleCode
        self.active = active
    }
}

/// Filter of a catalog search.
public struct ProductFilter: Sendable, Equatable {
    /// Matched against barcodes (exact), SKU (prefix) and names (the beginning of any word, any
    /// part of Chinese text; see `CatalogRules.terms`).
    public var query: String?
    public var category: String?
    public var activeOnly: Bool

    public init(query: String? = nil, category: String? = nil, activeOnly: Bool = false) {
        self.query = query
        self.category = category
        self.activeOnly = activeOnly
    }
}

/// Catalog storage. Barcodes and SKUs are unique within a merchant's catalog.
public protocol ProductRepository: Sendable {
    func insert(_ product: Product, orgPath: String, terms: Set<String>) async throws
    /// Optimistic update (version must be stored + 1); barcodes and terms are replaced.
    func update(_ product: Product, terms: Set<String>) async throws
    func find(_ id: ProductID) async throws -> Product?
    /// Several products in one query (a cart's lines); missing ids are left out.
    func find(ids: [ProductID]) async throws -> [Product]
    func find(merchant: OrgID, sku: String) async throws -> Product?
    func find(merchant: OrgID, barcode: String) async throws -> Product?
    func find(merchant: OrgID, scaleCode: String) async throws -> Product?
    /// Products of a merchant matching the filter, newest first.
    func search(merchant: OrgID, filter: ProductFilter, page: PageRequest) async throws -> Page<Product>

    // Bulk work of a CSV import: a few statements per thousand products, not a few per product.

    /// Products of a merchant by SKU; unknown SKUs are left out.
    func find(merchant: OrgID, skus: [String]) async throws -> [Product]
    /// The products holding any of these barcodes (codes nobody holds are left out).
    func barcodeOwners(merchant: OrgID, codes: [String]) async throws -> [ProductCode]
    /// The products holding any of these scale codes.
    func scaleCodeOwners(merchant: OrgID, codes: [String]) async throws -> [ProductCode]
    /// Inserts new products of one merchant with the search terms of each.
    func insert(batch: [(product: Product, terms: Set<String>)], orgPath: String) async throws
    /// Optimistic update of several products (each version stored + 1). Codes move freely among
    /// the products of the batch: all their codes are released before any is taken again. Terms
    /// nil: the names did not change and their search terms stay (a price list touches no terms).
    func update(batch: [(product: Product, terms: Set<String>?)]) async throws
}

/// A code of the catalog (a barcode or a scale code) and the product holding it.
public struct ProductCode: Sendable, Equatable {
    public var code: String
    public var productId: ProductID
    public var sku: String

    public init(code: String, productId: ProductID, sku: String) {
        self.code = code
        self.productId = productId
        self.sku = sku
    }
}
