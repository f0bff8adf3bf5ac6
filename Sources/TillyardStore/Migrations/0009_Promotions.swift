/// Promotions: the whole promotion as JSON, with its merchant and dates as columns so the register's
/// "what runs at this instant" is one indexed query per sale.
enum Migration0009Promotions {
    static let migration = Migration(version: 9, name: "promotions", statements: [
        """
        CREATE TABLE promotions (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            name TEXT NOT NULL,
            starts_at BIGINT,
            ends_at BIGINT,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX promotions_merchant ON promotions(merchant_id, id)",
        "CREATE INDEX promotions_merchant_ends ON promotions(merchant_id, ends_at)",
    ])
}
