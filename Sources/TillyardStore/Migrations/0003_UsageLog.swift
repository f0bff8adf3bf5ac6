/// The per-terminal usage log.
enum Migration0003UsageLog {
    static let migration = Migration(version: 3, name: "usage_log", statements: [
        """
        CREATE TABLE terminal_usage (
            id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            org_id TEXT NOT NULL REFERENCES organizations(id),
            at BIGINT NOT NULL,
            responsible TEXT NOT NULL,
            operation TEXT NOT NULL,
            amount BIGINT,
            recorded_by TEXT NOT NULL
        )
        """,
        "CREATE INDEX terminal_usage_terminal ON terminal_usage(terminal_id, id)",
    ])
}
