/// The terminal protocol's credentials: one-time activation codes (hashes only), each terminal's
/// sealed secret with its generations (one unrevoked at most), and refused requests for the
/// security team.
enum Migration0010Fleet {
    static let migration = Migration(version: 10, name: "fleet", statements: [
        """
        CREATE TABLE activation_codes (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            code_hash TEXT NOT NULL UNIQUE,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
        )
        """,
        "CREATE INDEX activation_codes_terminal ON activation_codes(terminal_id)",
        """
        CREATE TABLE terminal_credentials (
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            key_id TEXT NOT NULL,
            sealed_secret TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT,
            PRIMARY KEY (terminal_id, key_id)
        )
        """,
        // At most one live credential per terminal, whatever races.
        "CREATE UNIQUE INDEX terminal_credentials_live ON terminal_credentials(terminal_id) WHERE revoked_at IS NULL",
        """
        CREATE TABLE security_events (
            id TEXT PRIMARY KEY,
            terminal_ref TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            reason TEXT NOT NULL,
            origin TEXT NOT NULL,
            path TEXT NOT NULL,
            at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX security_events_terminal ON security_events(terminal_ref, id)",
        "CREATE INDEX security_events_path ON security_events(org_path, id)",
        // The latest heartbeat per terminal, written in batches from memory (HeartbeatHub), and a sampled history.
        """
        CREATE TABLE terminal_status (
            terminal_id TEXT PRIMARY KEY REFERENCES terminals(id),
            last_seen_at BIGINT NOT NULL,
            body TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE heartbeat_samples (
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            at BIGINT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (terminal_id, at)
        )
        """,
    ])
}
