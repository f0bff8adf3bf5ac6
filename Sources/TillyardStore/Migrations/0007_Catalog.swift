/// The merchant catalog: products, their barcodes (unique per merchant) and the search terms of
/// their names (characters and neighbouring pairs, so Chinese substrings are found by index).
enum Migration0007Catalog {
    static let migration = Migration(version: 7, name: "catalog", statements: [
        """
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            sku {PATH} NOT NULL,
            name_zh TEXT NOT NULL,
            name_en TEXT,
            category TEXT,
            unit TEXT NOT NULL,
            price BIGINT NOT NULL,
            member_price BIGINT,
            tax_rate BIGINT NOT NULL,
            cost BIGINT,
            scale_code TEXT,
            active BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX products_sku ON products(merchant_id, sku)",
        "CREATE UNIQUE INDEX products_scale_code ON products(merchant_id, scale_code)",
        "CREATE INDEX products_merchant ON products(merchant_id, id)",
        """
        CREATE TABLE product_barcodes (
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            code TEXT NOT NULL,
            product_id TEXT NOT NULL REFERENCES products(id),
            PRIMARY KEY (merchant_id, code)
        )
        """,
        "CREATE INDEX product_barcodes_product ON product_barcodes(product_id)",
        """
        CREATE TABLE product_terms (
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            term TEXT NOT NULL,
            product_id TEXT NOT NULL REFERENCES products(id),
            PRIMARY KEY (merchant_id, term, product_id)
        )
        """,
        "CREATE INDEX product_terms_product ON product_terms(product_id)",
    ])
}
