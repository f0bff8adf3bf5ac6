/// Merchant onboarding: the file of each merchant, its qualification documents (metadata; the
/// bytes live encrypted in the data folder) and its review history.
enum Migration0005Merchants {
    static let migration = Migration(version: 5, name: "merchants", statements: [
        """
        CREATE TABLE merchant_profiles (
            merchant_id TEXT PRIMARY KEY REFERENCES organizations(id),
            tenant_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            legal_name TEXT NOT NULL,
            credit_code TEXT NOT NULL,
            mcc TEXT NOT NULL,
            area_code TEXT NOT NULL,
            business_type TEXT NOT NULL,
            business_hours TEXT NOT NULL,
            address TEXT NOT NULL,
            latitude DOUBLE PRECISION NOT NULL,
            longitude DOUBLE PRECISION NOT NULL,
            account_name TEXT NOT NULL,
            account_bank TEXT NOT NULL,
            account_masked TEXT NOT NULL,
            account_fingerprint TEXT NOT NULL,
            contacts TEXT NOT NULL,
            status TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            mid TEXT,
            submitted_by TEXT,
            submitted_at BIGINT,
            reviewed_by TEXT,
            reviewed_at BIGINT,
            review_note TEXT,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX merchant_profiles_path ON merchant_profiles(org_path, merchant_id)",
        "CREATE INDEX merchant_profiles_status ON merchant_profiles(status, merchant_id)",
        "CREATE UNIQUE INDEX merchant_profiles_mid ON merchant_profiles(tenant_id, mid)",
        "CREATE INDEX merchant_profiles_account ON merchant_profiles(tenant_id, account_fingerprint)",
        """
        CREATE TABLE merchant_documents (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            kind TEXT NOT NULL,
            filename TEXT NOT NULL,
            format TEXT NOT NULL,
            size BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX merchant_documents_merchant ON merchant_documents(merchant_id, id)",
        """
        CREATE TABLE merchant_reviews (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            at BIGINT NOT NULL,
            note TEXT
        )
        """,
        "CREATE INDEX merchant_reviews_merchant ON merchant_reviews(merchant_id, id)",
    ])
}
