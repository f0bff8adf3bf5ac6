import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the catalog: the product row, its barcodes and the search terms of its names
/// (both replaced whole on every change, in the caller's transaction).
struct SQLProductRepository: ProductRepository {
    let db: any SQLDatabase

    func insert(_ product: Product, orgPath: String, terms: Set<String>) async throws {
        try await db.raw("""
            INSERT INTO products (id, merchant_id, org_path, sku, name_zh, name_en, category, unit, price, member_price, tax_rate, cost,
                                  scale_code, active, created_at, updated_at, version)
            VALUES (\(bind: product.id.rawValue), \(bind: product.merchantId.rawValue), \(bind: orgPath), \(bind: product.sku),
                    \(bind: product.nameZh), \(bind: product.nameEn), \(bind: product.category), \(bind: product.unit.rawValue),
                    \(bind: product.price), \(bind: product.memberPrice), \(bind: product.taxRate), \(bind: product.cost),
                    \(bind: product.scaleCode), \(bind: product.active ? 1 : 0), \(bind: product.createdAt.millis),
                    \(bind: product.updatedAt.millis), \(bind: product.version))
            """).run()
        try await replaceIndexes(product, terms: terms)
    }

    func update(_ product: Product, terms: Set<String>) async throws {
        let changed = try await db.raw("""
            UPDATE products SET sku = \(bind: product.sku), name_zh = \(bind: product.nameZh), name_en = \(bind: product.nameEn),
                   category = \(bind: product.category), unit = \(bind: product.unit.rawValue), price = \(bind: product.price),
                   member_price = \(bind: product.memberPrice), tax_rate = \(bind: product.taxRate), cost = \(bind: product.cost),
                   scale_code = \(bind: product.scaleCode), active = \(bind: product.active ? 1 : 0),
                   updated_at = \(bind: product.updatedAt.millis), version = \(bind: product.version)
            WHERE id = \(bind: product.id.rawValue) AND version = \(bind: product.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("product \(product.sku) was changed by someone else; reload it") }
        try await replaceIndexes(product, terms: terms)
    }

    private func replaceIndexes(_ product: Product, terms: Set<String>) async throws {
        try await db.raw("DELETE FROM product_barcodes WHERE product_id = \(bind: product.id.rawValue)").run()
        try await db.raw("DELETE FROM product_terms WHERE product_id = \(bind: product.id.rawValue)").run()
        for code in product.barcodes {
            try await db.raw("""
                INSERT INTO product_barcodes (merchant_id, code, product_id)
                VALUES (\(bind: product.merchantId.rawValue), \(bind: code), \(bind: product.id.rawValue))
                """).run()
        }
        // One multi-row statement: a name has a few dozen terms.
        let sorted = terms.sorted()
        guard !sorted.isEmpty else { return }
        var insert: SQLQueryString = "INSERT INTO product_terms (merchant_id, term, product_id) VALUES "
        for (index, term) in sorted.enumerated() {
            if index > 0 { insert += ", " }
            insert += "(\(bind: product.merchantId.rawValue), \(bind: term), \(bind: product.id.rawValue))"
        }
        try await db.raw(insert).run()
    }

    func find(_ id: ProductID) async throws -> Product? {
        try await one("SELECT * FROM products WHERE id = \(bind: id.rawValue)")
    }

    func find(ids: [ProductID]) async throws -> [Product] {
        guard !ids.isEmpty else { return [] }
        let unique = Array(Set(ids.map(\.rawValue)))
        return try await products(db.raw("SELECT * FROM products WHERE id IN (\(binds: unique))").all())
    }

    func find(merchant: OrgID, sku: String) async throws -> Product? {
        try await one("SELECT * FROM products WHERE merchant_id = \(bind: merchant.rawValue) AND sku = \(bind: sku)")
    }

    func find(merchant: OrgID, barcode: String) async throws -> Product? {
        try await one("""
            SELECT p.* FROM product_barcodes b JOIN products p ON p.id = b.product_id
            WHERE b.merchant_id = \(bind: merchant.rawValue) AND b.code = \(bind: barcode)
            """)
    }

    func find(merchant: OrgID, scaleCode: String) async throws -> Product? {
        try await one("SELECT * FROM products WHERE merchant_id = \(bind: merchant.rawValue) AND scale_code = \(bind: scaleCode)")
    }

    func search(merchant: OrgID, filter: ProductFilter, page: PageRequest) async throws -> Page<Product> {
        var query: SQLQueryString = "SELECT * FROM products WHERE merchant_id = \(bind: merchant.rawValue)"
        if let text = filter.query?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            let terms = CatalogRules.queryTerms(text).sorted()
            let sku = text.uppercased()
            query += " AND (id IN (SELECT product_id FROM product_barcodes WHERE merchant_id = \(bind: merchant.rawValue) AND code = \(bind: sku))"
            // `sku` is byte-ordered on both engines ({PATH} type), so a prefix is an index range.
            let prefix = Subtree.prefixRange(sku)
            query += " OR (sku >= \(bind: prefix.lower) AND sku < \(bind: prefix.upper))"
            if !terms.isEmpty {
                query += " OR id IN (SELECT product_id FROM product_terms WHERE merchant_id = \(bind: merchant.rawValue) AND term IN ("
                for (index, term) in terms.enumerated() { query += index == 0 ? "\(bind: term)" : ", \(bind: term)" }
                query += ") GROUP BY product_id HAVING COUNT(*) = \(bind: terms.count))"
            }
            query += ")"
        }
        if let category = filter.category { query += " AND category = \(bind: category)" }
        if filter.activeOnly { query += " AND active = 1" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await products(db.raw(query).all()), limit: page.limit) { $0.id.rawValue }
    }

    private func one(_ query: SQLQueryString) async throws -> Product? {
        try await products(db.raw(query).all()).first
    }

    /// Products from their rows, with the barcodes of all of them read in one query (a search
    /// page is the register's hot path: not one barcode query per row).
    private func products(_ rows: [any SQLRow]) async throws -> [Product] {
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        guard !ids.isEmpty else { return [] }
        var list: SQLQueryString = "SELECT product_id, code FROM product_barcodes WHERE product_id IN ("
        for (index, id) in ids.enumerated() { list += index == 0 ? "\(bind: id)" : ", \(bind: id)" }
        list += ") ORDER BY code"
        var barcodes: [String: [String]] = [:]
        for row in try await db.raw(list).all() {
            barcodes[try row.decode(column: "product_id", as: String.self), default: []].append(try row.decode(column: "code", as: String.self))
        }
        return try zip(rows, ids).map { try Self.decode($0, id: $1, barcodes: barcodes[$1] ?? []) }
    }

    private static func decode(_ row: any SQLRow, id: String, barcodes: [String]) throws -> Product {
        Product(
            id: ProductID(rawValue: id),
            merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
            sku: try row.decode(column: "sku", as: String.self),
            barcodes: barcodes,
            nameZh: try row.decode(column: "name_zh", as: String.self),
            nameEn: try row.decode(column: "name_en", as: String?.self),
            category: try row.decode(column: "category", as: String?.self),
            unit: try row.enumValue("unit", as: SaleUnit.self),
            price: try row.decode(column: "price", as: Int64.self),
            memberPrice: try row.decode(column: "member_price", as: Int64?.self),
            taxRate: try row.decode(column: "tax_rate", as: Int.self),
            cost: try row.decode(column: "cost", as: Int64?.self),
            scaleCode: try row.decode(column: "scale_code", as: String?.self),
            active: try row.decode(column: "active", as: Int.self) != 0,
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}
