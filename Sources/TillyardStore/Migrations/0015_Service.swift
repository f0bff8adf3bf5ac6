/// The service desk: tickets (a JSON document with the columns lists, SLA scans and figures query),
/// their history, knowledge articles, inspection tasks (one open per terminal) and each acquirer's
/// inspection plan.
enum Migration0015Service {
    static let migration = Migration(version: 15, name: "service", statements: [
        // Scoped twice, like terminals: by the answering organisation and by the merchant.
        """
        CREATE TABLE service_tickets (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            merchant_path {PATH} NOT NULL,
            terminal_id TEXT REFERENCES terminals(id),
            kind TEXT NOT NULL,
            priority TEXT NOT NULL,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            assignee_id TEXT,
            response_due_at BIGINT NOT NULL,
            fix_due_at BIGINT NOT NULL,
            responded_at BIGINT,
            resolved_at BIGINT,
            escalated_at BIGINT,
            rating BIGINT,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            body TEXT NOT NULL
        )
        """,
        "CREATE INDEX service_tickets_org ON service_tickets(org_path, id)",
        "CREATE INDEX service_tickets_merchant ON service_tickets(merchant_path, id)",
        "CREATE INDEX service_tickets_terminal ON service_tickets(terminal_id, id)",
        "CREATE INDEX service_tickets_assignee ON service_tickets(assignee_id, state)",
        "CREATE INDEX service_tickets_due ON service_tickets(state, fix_due_at)",
        "CREATE INDEX service_tickets_resolved ON service_tickets(state, resolved_at)",
        """
        CREATE TABLE service_ticket_events (
            id TEXT PRIMARY KEY,
            ticket_id TEXT NOT NULL REFERENCES service_tickets(id),
            version BIGINT NOT NULL,
            at BIGINT NOT NULL,
            body TEXT NOT NULL
        )
        """,
        // The ticket's version orders its history; one event per version, whatever races.
        "CREATE UNIQUE INDEX service_ticket_events_ticket ON service_ticket_events(ticket_id, version)",
        """
        CREATE TABLE knowledge_articles (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            body TEXT NOT NULL
        )
        """,
        "CREATE INDEX knowledge_articles_org ON knowledge_articles(org_id, id)",
        """
        CREATE TABLE inspection_tasks (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            inspector_id TEXT,
            state TEXT NOT NULL,
            reason TEXT NOT NULL,
            due_at BIGINT NOT NULL,
            done_at BIGINT,
            version BIGINT NOT NULL,
            body TEXT NOT NULL
        )
        """,
        // One open task per terminal, whatever races (the planner and the relocation guard).
        "CREATE UNIQUE INDEX inspection_tasks_open ON inspection_tasks(terminal_id) WHERE state = 'open'",
        "CREATE INDEX inspection_tasks_terminal ON inspection_tasks(terminal_id, id)",
        "CREATE INDEX inspection_tasks_due ON inspection_tasks(org_path, due_at)",
        """
        CREATE TABLE inspection_plans (
            org_id TEXT PRIMARY KEY REFERENCES organizations(id),
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ])
}
