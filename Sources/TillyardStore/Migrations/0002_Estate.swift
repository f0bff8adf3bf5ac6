/// Terminal models, terminal dossiers with their history, and PBOC-259 bindings.
enum Migration0002Estate {
    static let migration = Migration(version: 2, name: "estate", statements: [
        """
        CREATE TABLE terminal_models (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            manufacturer TEXT NOT NULL,
            name TEXT NOT NULL,
            terminal_class TEXT NOT NULL,
            connectivity TEXT NOT NULL,
            pts_approval TEXT NOT NULL,
            pts_expiry BIGINT NOT NULL,
            unionpay_certified BIGINT NOT NULL,
            unionpay_certificate TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX terminal_models_org ON terminal_models(org_id, id)",
        """
        CREATE TABLE terminals (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            tenant_id TEXT NOT NULL REFERENCES organizations(id),
            owner_path {PATH} NOT NULL,
            merchant_path {PATH},
            sn {PATH} NOT NULL UNIQUE,
            tid TEXT NOT NULL,
            model_id TEXT NOT NULL REFERENCES terminal_models(id),
            state TEXT NOT NULL,
            transit_to_org_id TEXT REFERENCES organizations(id),
            merchant_id TEXT REFERENCES organizations(id),
            store_id TEXT REFERENCES organizations(id),
            placement_address TEXT,
            latitude DOUBLE PRECISION,
            longitude DOUBLE PRECISION,
            installer TEXT,
            installed_at BIGINT,
            responsible_person TEXT,
            app_version TEXT,
            firmware_version TEXT,
            key_check_value TEXT,
            purchase_cost BIGINT,
            warranty_end BIGINT,
            notes TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            UNIQUE (tenant_id, tid)
        )
        """,
        "CREATE INDEX terminals_owner_path ON terminals(owner_path, id)",
        "CREATE INDEX terminals_merchant_path ON terminals(merchant_path, id)",
        "CREATE INDEX terminals_state ON terminals(state, id)",
        "CREATE INDEX terminals_model ON terminals(model_id, id)",
        "CREATE INDEX terminals_responsible ON terminals(responsible_person, id)",
        """
        CREATE TABLE terminal_events (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            version BIGINT NOT NULL,
            org_id TEXT NOT NULL,
            at BIGINT NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT,
            actor_name TEXT NOT NULL,
            reason TEXT,
            details TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX terminal_events_terminal ON terminal_events(terminal_id, version)",
        """
        CREATE TABLE bindings (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            org_id TEXT NOT NULL REFERENCES organizations(id),
            store_id TEXT REFERENCES organizations(id),
            sn TEXT NOT NULL,
            acquirer_code TEXT NOT NULL,
            mid TEXT NOT NULL,
            credit_code TEXT NOT NULL,
            settlement_account_masked TEXT NOT NULL,
            settlement_account_fingerprint TEXT NOT NULL,
            placement_address TEXT NOT NULL,
            latitude DOUBLE PRECISION NOT NULL,
            longitude DOUBLE PRECISION NOT NULL,
            bound_at BIGINT NOT NULL,
            bound_by TEXT NOT NULL,
            unbound_at BIGINT,
            unbound_by TEXT,
            unbind_reason TEXT,
            open_terminal_id TEXT UNIQUE
        )
        """,
        "CREATE INDEX bindings_terminal ON bindings(terminal_id, id)",
        "CREATE INDEX bindings_mid ON bindings(mid)",
    ])
}
