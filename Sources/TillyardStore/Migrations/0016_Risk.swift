/// Transaction monitoring and risk: the fields the upload gained (MID, TID, card type, entry mode,
/// location, the card's keyed hash and leading digits), versioned rules per acquirer, incremental
/// counters per rule dimension and business day (the hot path reads them by key, never history),
/// last-seen entries of cards and terminals, the alert queue with its evidence and comments, and
/// reconciled settlement batches.
enum Migration0016Risk {
    static let migration = Migration(version: 16, name: "risk", statements: [
        "ALTER TABLE terminal_transactions ADD COLUMN mid TEXT",
        "ALTER TABLE terminal_transactions ADD COLUMN tid TEXT",
        "ALTER TABLE terminal_transactions ADD COLUMN card_type TEXT",
        "ALTER TABLE terminal_transactions ADD COLUMN entry_mode TEXT",
        "ALTER TABLE terminal_transactions ADD COLUMN latitude DOUBLE PRECISION",
        "ALTER TABLE terminal_transactions ADD COLUMN longitude DOUBLE PRECISION",
        // HMAC of the masked PAN under the installation key: a card's identity across terminals, never its number.
        "ALTER TABLE terminal_transactions ADD COLUMN card_hash TEXT",
        "ALTER TABLE terminal_transactions ADD COLUMN card_prefix TEXT",
        "CREATE INDEX terminal_transactions_merchant ON terminal_transactions(merchant_id, at)",
        """
        CREATE TABLE risk_rules (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL,
            version BIGINT NOT NULL,
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (org_id, kind, version)
        )
        """,
        // One row per dimension key (card hash, merchant, prefix…) and business day, moved by increments.
        """
        CREATE TABLE risk_counters (
            key TEXT NOT NULL,
            day BIGINT NOT NULL,
            org_id TEXT NOT NULL,
            count BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            PRIMARY KEY (key, day)
        )
        """,
        """
        CREATE TABLE risk_last_seen (
            key TEXT PRIMARY KEY,
            org_id TEXT NOT NULL,
            terminal_id TEXT NOT NULL,
            at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE risk_alerts (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            rule TEXT NOT NULL,
            mode TEXT NOT NULL,
            severity TEXT NOT NULL,
            status TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            terminal_id TEXT,
            merchant_id TEXT,
            assignee TEXT,
            hold INTEGER NOT NULL,
            body TEXT NOT NULL,
            raised_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        // One alert per rule dimension and day, per mode: repeats attach their transactions to it.
        "CREATE UNIQUE INDEX risk_alerts_dedupe ON risk_alerts(mode, dedupe_key)",
        "CREATE INDEX risk_alerts_path ON risk_alerts(org_path, id)",
        "CREATE INDEX risk_alerts_merchant ON risk_alerts(merchant_id, status)",
        """
        CREATE TABLE risk_alert_transactions (
            alert_id TEXT NOT NULL REFERENCES risk_alerts(id),
            terminal_id TEXT NOT NULL,
            transaction_id TEXT NOT NULL,
            PRIMARY KEY (alert_id, terminal_id, transaction_id)
        )
        """,
        """
        CREATE TABLE risk_alert_comments (
            id TEXT PRIMARY KEY,
            alert_id TEXT NOT NULL REFERENCES risk_alerts(id),
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX risk_alert_comments_alert ON risk_alert_comments(alert_id, id)",
        """
        CREATE TABLE settlement_batches (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            batch_no TEXT NOT NULL,
            closed_at BIGINT NOT NULL,
            matched INTEGER NOT NULL,
            body TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX settlement_batches_terminal ON settlement_batches(terminal_id, batch_no)",
        "CREATE INDEX settlement_batches_close ON settlement_batches(terminal_id, closed_at)",
        "CREATE INDEX settlement_batches_path ON settlement_batches(org_path, id)",
    ])
}
