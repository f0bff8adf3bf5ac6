/// The service desk's second step: the SLA clock that stands still while a ticket waits
/// (`paused_at`, queried by the breach scans), each acquirer's SLA table, and the console inbox
/// (escalations tell the responsible person there).
enum Migration0018ServiceDesk2 {
    static let migration = Migration(version: 18, name: "service_desk_2", statements: [
        "ALTER TABLE service_tickets ADD COLUMN paused_at BIGINT",
        """
        CREATE TABLE service_levels (
            org_id TEXT PRIMARY KEY REFERENCES organizations(id),
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE notifications (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            org_id TEXT NOT NULL REFERENCES organizations(id),
            created_at BIGINT NOT NULL,
            read_at BIGINT,
            body TEXT NOT NULL
        )
        """,
        // A person's inbox newest first, and the header's unread count, each from one index.
        "CREATE INDEX notifications_user ON notifications(user_id, id)",
        "CREATE INDEX notifications_unread ON notifications(user_id, read_at)",
    ])
}
