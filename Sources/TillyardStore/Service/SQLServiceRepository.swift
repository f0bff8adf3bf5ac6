import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the service desk (migration 0015): whole documents in `body`, with the columns
/// that lists, SLA scans and figures query kept beside them on every write.
struct SQLServiceRepository: ServiceRepository {
    let db: any SQLDatabase

    // MARK: Tickets

    private func ticket(from row: any SQLRow) throws -> ServiceTicket {
        try JSONColumn.decode(ServiceTicket.self, from: try row.decode(column: "body", as: String.self))
    }

    func insertTicket(_ ticket: ServiceTicket, orgPath: String, merchantPath: String) async throws {
        try await db.raw("""
            INSERT INTO service_tickets (id, org_id, org_path, merchant_id, merchant_path, terminal_id, kind, priority, source, state, assignee_id,
                response_due_at, fix_due_at, responded_at, resolved_at, escalated_at, paused_at, rating, updated_at, version, body)
            VALUES (\(bind: ticket.id.rawValue), \(bind: ticket.orgId.rawValue), \(bind: orgPath), \(bind: ticket.merchantId.rawValue),
                    \(bind: merchantPath), \(bind: ticket.terminalId?.rawValue), \(bind: ticket.kind.rawValue), \(bind: ticket.priority.rawValue),
                    \(bind: ticket.source.rawValue), \(bind: ticket.state.rawValue), \(bind: ticket.assigneeId?.rawValue),
                    \(bind: ticket.responseDueAt.millis), \(bind: ticket.fixDueAt.millis), \(bind: ticket.respondedAt.millis),
                    \(bind: ticket.resolvedAt.millis), \(bind: ticket.escalatedAt.millis), \(bind: ticket.pausedAt.millis), \(bind: ticket.rating),
                    \(bind: ticket.updatedAt.millis),
                    \(bind: ticket.version), \(bind: try JSONColumn.encode(ticket)))
            """).run()
    }

    func ticket(_ id: TicketID) async throws -> (ticket: ServiceTicket, orgPath: String, merchantPath: String)? {
        guard let row = try await db.raw("SELECT * FROM service_tickets WHERE id = \(bind: id.rawValue)").first() else { return nil }
        return (try ticket(from: row), try row.decode(column: "org_path", as: String.self), try row.decode(column: "merchant_path", as: String.self))
    }

    func updateTicket(_ ticket: ServiceTicket) async throws {
        let changed = try await db.raw("""
            UPDATE service_tickets SET state = \(bind: ticket.state.rawValue), priority = \(bind: ticket.priority.rawValue),
                assignee_id = \(bind: ticket.assigneeId?.rawValue), terminal_id = \(bind: ticket.terminalId?.rawValue),
                responded_at = \(bind: ticket.respondedAt.millis), resolved_at = \(bind: ticket.resolvedAt.millis),
                escalated_at = \(bind: ticket.escalatedAt.millis), rating = \(bind: ticket.rating), updated_at = \(bind: ticket.updatedAt.millis),
                response_due_at = \(bind: ticket.responseDueAt.millis), fix_due_at = \(bind: ticket.fixDueAt.millis),
                paused_at = \(bind: ticket.pausedAt.millis),
                version = \(bind: ticket.version), body = \(bind: try JSONColumn.encode(ticket))
            WHERE id = \(bind: ticket.id.rawValue) AND version = \(bind: ticket.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("ticket \(ticket.id) was changed by someone else; reload it") }
    }

    func tickets(visibleUnder path: String, filter: TicketFilter, page: PageRequest) async throws -> Page<ServiceTicket> {
        let range = Subtree(path)
        var query: SQLQueryString = """
            SELECT body FROM service_tickets
            WHERE ((org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper))
                OR (merchant_path >= \(bind: range.lower) AND merchant_path < \(bind: range.upper)))
            """
        if let state = filter.state { query += " AND state = \(bind: state.rawValue)" }
        if let kind = filter.kind { query += " AND kind = \(bind: kind.rawValue)" }
        if let assignee = filter.assigneeId { query += " AND assignee_id = \(bind: assignee.rawValue)" }
        if let terminal = filter.terminalId { query += " AND terminal_id = \(bind: terminal.rawValue)" }
        if filter.openOnly || filter.overdueAt != nil { query += " AND state NOT IN ('resolved', 'closed')" }
        if let now = filter.overdueAt {
            // A waiting ticket's clock stands at the start of its wait (`paused_at`).
            query += " AND (fix_due_at < COALESCE(paused_at, \(bind: now.millis)) OR (responded_at IS NULL AND response_due_at < COALESCE(paused_at, \(bind: now.millis))))"
        }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map(ticket(from:))
        return Page.from(rows: rows, limit: page.limit) { $0.id.rawValue }
    }

    func recordTicketEvent(_ event: TicketEvent) async throws {
        try await db.raw("""
            INSERT INTO service_ticket_events (id, ticket_id, version, at, body)
            VALUES (\(bind: event.id), \(bind: event.ticketId.rawValue), \(bind: event.version), \(bind: event.at.millis),
                    \(bind: try JSONColumn.encode(event)))
            """).run()
    }

    func ticketEvents(_ id: TicketID) async throws -> [TicketEvent] {
        try await db.raw("SELECT body FROM service_ticket_events WHERE ticket_id = \(bind: id.rawValue) ORDER BY version LIMIT 1000").all().map {
            try JSONColumn.decode(TicketEvent.self, from: try $0.decode(column: "body", as: String.self))
        }
    }

    func openLoad(of assignees: [UserID]) async throws -> [UserID: Int] {
        guard !assignees.isEmpty else { return [:] }
        var query: SQLQueryString = "SELECT assignee_id, COUNT(*) AS n FROM service_tickets WHERE state NOT IN ('resolved', 'closed') AND assignee_id IN ("
        for (index, id) in assignees.enumerated() {
            if index > 0 { query += ", " }
            query += "\(bind: id.rawValue)"
        }
        query += ") GROUP BY assignee_id"
        var load: [UserID: Int] = [:]
        for row in try await db.raw(query).all() {
            load[UserID(rawValue: try row.decode(column: "assignee_id", as: String.self))] = try row.decode(column: "n", as: Int.self)
        }
        return load
    }

    func breachedUnescalated(at now: Date, limit: Int) async throws -> [ServiceTicket] {
        try await db.raw("""
            SELECT body FROM service_tickets
            WHERE state NOT IN ('resolved', 'closed') AND escalated_at IS NULL
              AND (fix_due_at < COALESCE(paused_at, \(bind: now.millis))
                   OR (responded_at IS NULL AND response_due_at < COALESCE(paused_at, \(bind: now.millis))))
            ORDER BY id LIMIT \(bind: limit)
            """).all().map(ticket(from:))
    }

    func resolvedBefore(_ before: Date, limit: Int) async throws -> [ServiceTicket] {
        try await db.raw("""
            SELECT body FROM service_tickets WHERE state = 'resolved' AND resolved_at < \(bind: before.millis) ORDER BY id LIMIT \(bind: limit)
            """).all().map(ticket(from:))
    }

    func technicianFigures(visibleUnder path: String, at now: Date) async throws -> [TechnicianFigures] {
        let range = Subtree(path)
        // One pass over the subtree's assigned tickets; names come from the newest ticket's body.
        let rows = try await db.raw("""
            SELECT assignee_id,
                   SUM(CASE WHEN state NOT IN ('resolved', 'closed') THEN 1 ELSE 0 END) AS open,
                   SUM(CASE WHEN state IN ('resolved', 'closed') THEN 1 ELSE 0 END) AS resolved,
                   COUNT(rating) AS rated, AVG(CAST(rating AS DOUBLE PRECISION)) AS average,
                   SUM(CASE WHEN (resolved_at IS NULL AND fix_due_at < COALESCE(paused_at, \(bind: now.millis))) OR resolved_at > fix_due_at
                       THEN 1 ELSE 0 END) AS breaches,
                   MAX(id) AS newest
            FROM service_tickets
            WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND assignee_id IS NOT NULL
            GROUP BY assignee_id ORDER BY assignee_id
            """).all()
        var figures: [TechnicianFigures] = []
        for row in rows {
            let newest = try row.decode(column: "newest", as: String.self)
            let name = try await ticket(TicketID(rawValue: newest))?.ticket.assigneeName ?? ""
            figures.append(TechnicianFigures(assigneeId: UserID(rawValue: try row.decode(column: "assignee_id", as: String.self)), assigneeName: name,
                                             open: try row.decode(column: "open", as: Int?.self) ?? 0,
                                             resolved: try row.decode(column: "resolved", as: Int?.self) ?? 0,
                                             rated: try row.decode(column: "rated", as: Int.self),
                                             averageRating: try row.decode(column: "average", as: Double?.self),
                                             fixBreaches: try row.decode(column: "breaches", as: Int?.self) ?? 0))
        }
        return figures
    }

    // MARK: Knowledge

    func insertArticle(_ article: KnowledgeArticle, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO knowledge_articles (id, org_id, org_path, version, updated_at, body)
            VALUES (\(bind: article.id), \(bind: article.orgId.rawValue), \(bind: orgPath), \(bind: article.version), \(bind: article.updatedAt.millis),
                    \(bind: try JSONColumn.encode(article)))
            """).run()
    }

    func article(_ id: String) async throws -> (article: KnowledgeArticle, orgPath: String)? {
        guard let row = try await db.raw("SELECT * FROM knowledge_articles WHERE id = \(bind: id)").first() else { return nil }
        return (try JSONColumn.decode(KnowledgeArticle.self, from: try row.decode(column: "body", as: String.self)),
                try row.decode(column: "org_path", as: String.self))
    }

    func updateArticle(_ article: KnowledgeArticle) async throws {
        let changed = try await db.raw("""
            UPDATE knowledge_articles SET version = \(bind: article.version), updated_at = \(bind: article.updatedAt.millis),
                body = \(bind: try JSONColumn.encode(article))
            WHERE id = \(bind: article.id) AND version = \(bind: article.version - 1) RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("article \(article.id) was changed by someone else; reload it") }
    }

    func articles(root: OrgID, page: PageRequest) async throws -> Page<KnowledgeArticle> {
        var query: SQLQueryString = "SELECT body FROM knowledge_articles WHERE org_id = \(bind: root.rawValue)"
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map {
            try JSONColumn.decode(KnowledgeArticle.self, from: try $0.decode(column: "body", as: String.self))
        }
        return Page.from(rows: rows, limit: page.limit) { $0.id }
    }

    // MARK: Inspections

    private func inspection(from row: any SQLRow) throws -> InspectionTask {
        try JSONColumn.decode(InspectionTask.self, from: try row.decode(column: "body", as: String.self))
    }

    func insertInspection(_ task: InspectionTask, orgPath: String) async throws -> Bool {
        !(try await db.raw("""
            INSERT INTO inspection_tasks (id, org_id, org_path, terminal_id, inspector_id, state, reason, due_at, done_at, version, body)
            VALUES (\(bind: task.id), \(bind: task.orgId.rawValue), \(bind: orgPath), \(bind: task.terminalId.rawValue),
                    \(bind: task.inspectorId?.rawValue), \(bind: task.state.rawValue), \(bind: task.reason.rawValue), \(bind: task.dueAt.millis),
                    \(bind: task.doneAt.millis), \(bind: task.version), \(bind: try JSONColumn.encode(task)))
            ON CONFLICT DO NOTHING RETURNING id
            """).all()).isEmpty
    }

    func inspection(_ id: String) async throws -> (task: InspectionTask, orgPath: String)? {
        guard let row = try await db.raw("SELECT * FROM inspection_tasks WHERE id = \(bind: id)").first() else { return nil }
        return (try inspection(from: row), try row.decode(column: "org_path", as: String.self))
    }

    func updateInspection(_ task: InspectionTask) async throws {
        let changed = try await db.raw("""
            UPDATE inspection_tasks SET inspector_id = \(bind: task.inspectorId?.rawValue), state = \(bind: task.state.rawValue),
                reason = \(bind: task.reason.rawValue), due_at = \(bind: task.dueAt.millis), done_at = \(bind: task.doneAt.millis),
                version = \(bind: task.version), body = \(bind: try JSONColumn.encode(task))
            WHERE id = \(bind: task.id) AND version = \(bind: task.version - 1) RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("inspection \(task.id) was changed by someone else; reload it") }
    }

    func dueInspections(under path: String, inspector: UserID?, before: Date?, limit: Int) async throws -> [InspectionTask] {
        let range = Subtree(path)
        var query: SQLQueryString = """
            SELECT body FROM inspection_tasks WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND state = 'open'
            """
        if let inspector { query += " AND (inspector_id = \(bind: inspector.rawValue) OR inspector_id IS NULL)" }
        if let before { query += " AND due_at <= \(bind: before.millis)" }
        query += " ORDER BY due_at, id LIMIT \(bind: limit)"
        return try await db.raw(query).all().map(inspection(from:))
    }

    func inspections(of terminal: TerminalID, limit: Int) async throws -> [InspectionTask] {
        try await db.raw("SELECT body FROM inspection_tasks WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY id DESC LIMIT \(bind: limit)")
            .all().map(inspection(from:))
    }

    func inspectionCandidates(after: String?, limit: Int) async throws -> [InspectionCandidate] {
        var query: SQLQueryString = """
            SELECT t.id, t.sn, t.org_id, t.owner_path, t.merchant_id, p.business_type, b.bound_at,
                   (SELECT MAX(i.done_at) FROM inspection_tasks i WHERE i.terminal_id = t.id AND i.state = 'done') AS last_done
            FROM terminals t JOIN bindings b ON b.open_terminal_id = t.id
                 LEFT JOIN merchant_profiles p ON p.merchant_id = t.merchant_id
            WHERE t.state IN ('bound', 'installed', 'in_service')
              AND NOT EXISTS (SELECT 1 FROM inspection_tasks o WHERE o.terminal_id = t.id AND o.state = 'open')
            """
        if let after { query += " AND t.id > \(bind: after)" }
        query += " ORDER BY t.id LIMIT \(bind: limit)"
        return try await db.raw(query).all().map { row in
            let bound = try row.requiredDate("bound_at")
            let done = try row.date("last_done")
            return InspectionCandidate(terminalId: TerminalID(rawValue: try row.decode(column: "id", as: String.self)),
                                       sn: try row.decode(column: "sn", as: String.self),
                                       orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                                       ownerPath: try row.decode(column: "owner_path", as: String.self),
                                       merchantId: try row.decode(column: "merchant_id", as: String?.self).map(OrgID.init(rawValue:)),
                                       businessType: try row.decode(column: "business_type", as: String?.self).flatMap(BusinessType.init(rawValue:)) ?? .fixed,
                                       since: max(done ?? bound, bound))
        }
    }

    func inspectionPlan(of acquirer: OrgID) async throws -> InspectionPlan? {
        try await setting(InspectionPlan.self, in: "inspection_plans", of: acquirer)
    }

    func saveInspectionPlan(_ plan: InspectionPlan, of acquirer: OrgID, by: String, at: Date) async throws {
        try await saveSetting(plan, in: "inspection_plans", of: acquirer, by: by, at: at)
    }

    func serviceLevels(of acquirer: OrgID) async throws -> ServiceLevelTable? {
        try await setting(ServiceLevelTable.self, in: "service_levels", of: acquirer)
    }

    func saveServiceLevels(_ table: ServiceLevelTable, of acquirer: OrgID, by: String, at: Date) async throws {
        try await saveSetting(table, in: "service_levels", of: acquirer, by: by, at: at)
    }

    // MARK: Acquirer settings (one JSON document per acquirer: the inspection plan, the SLA table)

    private func setting<T: Decodable>(_ type: T.Type, in table: String, of acquirer: OrgID) async throws -> T? {
        try await db.raw("SELECT body FROM \(ident: table) WHERE org_id = \(bind: acquirer.rawValue)").first().map {
            try JSONColumn.decode(T.self, from: try $0.decode(column: "body", as: String.self))
        }
    }

    private func saveSetting(_ value: some Encodable, in table: String, of acquirer: OrgID, by: String, at: Date) async throws {
        try await db.raw("""
            INSERT INTO \(ident: table) (org_id, body, updated_by, updated_at)
            VALUES (\(bind: acquirer.rawValue), \(bind: try JSONColumn.encode(value)), \(bind: by), \(bind: at.millis))
            ON CONFLICT (org_id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at
            """).run()
    }
}
