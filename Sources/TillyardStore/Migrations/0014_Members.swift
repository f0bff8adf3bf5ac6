/// Members: one row per member of a merchant with the phone and name sealed (base64 of AES-GCM
/// blobs under `key_id`) and the phone's keyed hash for lookup; balances as columns moved only by
/// conditional increments next to their ledger lines; purchases (amounts only) per sale for the
/// till's history and refund reversals; ledger lines numbered per member (`line`, taken under the
/// member row's lock, so the order is exact even within a millisecond); spend per category for offers; the program per merchant.
enum Migration0014Members {
    static let migration = Migration(version: 14, name: "members", statements: [
        """
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            home_store_id TEXT REFERENCES organizations(id),
            card_number TEXT NOT NULL,
            key_id TEXT NOT NULL,
            phone_hash TEXT,
            phone_sealed TEXT,
            name_sealed TEXT,
            birthday TEXT,
            birth_month INTEGER,
            tier TEXT NOT NULL,
            points BIGINT NOT NULL CHECK (points >= 0),
            stored_value BIGINT NOT NULL CHECK (stored_value >= 0),
            lifetime_spend BIGINT NOT NULL,
            lifetime_points BIGINT NOT NULL,
            visits BIGINT NOT NULL,
            tags TEXT NOT NULL,
            consent_marketing BIGINT NOT NULL,
            consent_analytics BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            last_visit_at BIGINT,
            erased_at BIGINT,
            version BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX members_card ON members(merchant_id, card_number)",
        "CREATE UNIQUE INDEX members_phone ON members(merchant_id, phone_hash)",
        "CREATE INDEX members_merchant ON members(merchant_id, id)",
        "CREATE INDEX members_key ON members(key_id, id)",
        """
        CREATE TABLE member_ledger (
            id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES members(id),
            line BIGINT NOT NULL,
            merchant_id TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            balance TEXT NOT NULL,
            delta BIGINT NOT NULL,
            balance_after BIGINT NOT NULL,
            reason TEXT NOT NULL,
            sale_id TEXT,
            actor TEXT NOT NULL,
            note TEXT,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX member_ledger_line ON member_ledger(member_id, line)",
        """
        CREATE TABLE member_purchases (
            sale_id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES members(id),
            merchant_id TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            store_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            original_sale_id TEXT,
            sold_at BIGINT NOT NULL,
            total BIGINT NOT NULL,
            paid BIGINT NOT NULL,
            points_earned BIGINT NOT NULL,
            points_redeemed BIGINT NOT NULL,
            stored_value_spent BIGINT NOT NULL
        )
        """,
        "CREATE INDEX member_purchases_member ON member_purchases(member_id, sale_id)",
        "CREATE INDEX member_purchases_original ON member_purchases(original_sale_id)",
        """
        CREATE TABLE member_categories (
            member_id TEXT NOT NULL REFERENCES members(id),
            category TEXT NOT NULL,
            spend BIGINT NOT NULL,
            PRIMARY KEY (member_id, category)
        )
        """,
        """
        CREATE TABLE member_programs (
            merchant_id TEXT PRIMARY KEY REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            body TEXT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
    ])
}
