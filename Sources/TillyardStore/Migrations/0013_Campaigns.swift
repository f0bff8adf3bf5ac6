/// Software packages (records; the files live in `<data dir>/packages`), update campaigns, the
/// offers made to terminals (written in batches from memory) and the terminals' install reports
/// (one per terminal, campaign and package: a repeated report is not stored twice).
enum Migration0013Campaigns {
    static let migration = Migration(version: 13, name: "campaigns", statements: [
        """
        CREATE TABLE software_packages (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            kind TEXT NOT NULL,
            version TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size BIGINT NOT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX software_packages_path ON software_packages(org_path, id)",
        // A version is published once per organisation and kind: a retried upload cannot make a twin.
        "CREATE UNIQUE INDEX software_packages_version ON software_packages(org_id, kind, version)",
        """
        CREATE TABLE update_campaigns (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            package_id TEXT NOT NULL REFERENCES software_packages(id),
            state TEXT NOT NULL,
            body TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX update_campaigns_path ON update_campaigns(org_path, id)",
        "CREATE INDEX update_campaigns_state ON update_campaigns(state, id)",
        """
        CREATE TABLE campaign_offers (
            campaign_id TEXT NOT NULL REFERENCES update_campaigns(id),
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            package_id TEXT NOT NULL REFERENCES software_packages(id),
            stage INTEGER NOT NULL,
            offered_at BIGINT NOT NULL,
            PRIMARY KEY (campaign_id, package_id, terminal_id)
        )
        """,
        """
        CREATE TABLE campaign_results (
            campaign_id TEXT NOT NULL REFERENCES update_campaigns(id),
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            package_id TEXT NOT NULL REFERENCES software_packages(id),
            stage INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT,
            reported_at BIGINT NOT NULL,
            PRIMARY KEY (campaign_id, package_id, terminal_id)
        )
        """,
        // The snapshot reloads a campaign's reports by time.
        "CREATE INDEX campaign_results_time ON campaign_results(campaign_id, reported_at)",
    ])
}
