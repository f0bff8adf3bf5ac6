/// Terminal purchase requests and each acquirer's approval chain.
enum Migration0004Purchases {
    static let migration = Migration(version: 4, name: "purchases", statements: [
        """
        CREATE TABLE purchase_requests (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            model_id TEXT NOT NULL REFERENCES terminal_models(id),
            quantity BIGINT NOT NULL,
            reason TEXT NOT NULL,
            unit_cost BIGINT NOT NULL,
            status TEXT NOT NULL,
            steps TEXT NOT NULL,
            current_step BIGINT NOT NULL,
            stocked_in BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX purchase_requests_path ON purchase_requests(org_path, id)",
        """
        CREATE TABLE purchase_chains (
            org_id TEXT PRIMARY KEY REFERENCES organizations(id),
            steps TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ])
}
