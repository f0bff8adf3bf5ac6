/// Fleet operations: parameter templates by level, commands waiting for terminals, locks (by an
/// operator or by the relocation guard), relocation alerts with their evidence and each acquirer's
/// relocation policy, and the card/QR transactions terminals upload from their offline queues.
enum Migration0011FleetOperations {
    static let migration = Migration(version: 11, name: "fleet_operations", statements: [
        // One template per level and target (ids are unique across kinds, so the pair is the key);
        // org_path is the owner's, for who may see and change it.
        """
        CREATE TABLE parameter_templates (
            level TEXT NOT NULL,
            target TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            version BIGINT NOT NULL,
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (level, target)
        )
        """,
        "CREATE INDEX parameter_templates_path ON parameter_templates(org_path)",
        """
        CREATE TABLE terminal_commands (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            kind TEXT NOT NULL,
            reason TEXT,
            issued_by TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            done_at BIGINT,
            outcome TEXT,
            detail TEXT
        )
        """,
        "CREATE INDEX terminal_commands_terminal ON terminal_commands(terminal_id, id)",
        """
        CREATE TABLE terminal_locks (
            terminal_id TEXT PRIMARY KEY REFERENCES terminals(id),
            cause TEXT NOT NULL,
            reason TEXT,
            alert_id TEXT,
            locked_by TEXT NOT NULL,
            locked_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE relocation_policies (
            org_id TEXT PRIMARY KEY REFERENCES organizations(id),
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE relocation_alerts (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            org_path {PATH} NOT NULL,
            state TEXT NOT NULL,
            action TEXT NOT NULL,
            distance_m BIGINT NOT NULL,
            body TEXT NOT NULL,
            raised_at BIGINT NOT NULL,
            cleared_at BIGINT,
            cleared_by TEXT,
            clear_note TEXT
        )
        """,
        // One open alert per terminal at most, whatever races.
        "CREATE UNIQUE INDEX relocation_alerts_open ON relocation_alerts(terminal_id) WHERE state = 'open'",
        "CREATE INDEX relocation_alerts_path ON relocation_alerts(org_path, id)",
        """
        CREATE TABLE terminal_transactions (
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            id TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            merchant_id TEXT,
            at BIGINT NOT NULL,
            kind TEXT NOT NULL,
            amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            tender TEXT NOT NULL,
            approved INTEGER NOT NULL,
            response_code TEXT NOT NULL,
            masked_pan TEXT,
            auth_code TEXT,
            rrn TEXT,
            received_at BIGINT NOT NULL,
            PRIMARY KEY (terminal_id, id)
        )
        """,
        "CREATE INDEX terminal_transactions_at ON terminal_transactions(terminal_id, at)",
        "CREATE INDEX terminal_transactions_path ON terminal_transactions(org_path, at)",
    ])
}
