import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the audit chain.
struct SQLAuditRepository: AuditRepository {
    let db: any SQLDatabase
    let backend: SQLBackend

    /// Advisory lock key that serialises audit appenders on PostgreSQL ("AUDT").
    static let chainLockKey: Int64 = 0x4155_4454

    func append(_ draft: AuditDraft, orgPath: String, at: Date) async throws -> AuditEvent {
        try await Dialect.lockChain(db, backend: backend, key: Self.chainLockKey)
        let last = try await db.raw("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").first().map {
            (seq: try $0.decode(column: "seq", as: Int64.self), hash: try $0.decode(column: "hash", as: String.self))
        }
        let event = AuditChain.link(draft, orgPath: orgPath, at: at, after: last)
        try await db.raw("""
            INSERT INTO audit_events (seq, org_id, org_path, at, actor_kind, actor_id, actor_name, action, resource_type,
                                      resource_id, outcome, origin, summary, prev_hash, hash)
            VALUES (\(bind: event.seq), \(bind: event.orgId.rawValue), \(bind: event.orgPath), \(bind: event.at.millis),
                    \(bind: event.actor.kind.rawValue), \(bind: event.actor.id), \(bind: event.actor.name), \(bind: event.action),
                    \(bind: event.resourceType), \(bind: event.resourceId), \(bind: event.outcome.rawValue), \(bind: event.origin),
                    \(bind: event.summary), \(bind: event.prevHash), \(bind: event.hash))
            """).run()
        return event
    }

    func list(under path: String, filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEvent> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM audit_events WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let action = filter.action { query += " AND action = \(bind: action)" }
        if let actor = filter.actorName { query += " AND actor_name = \(bind: actor)" }
        if let type = filter.resourceType { query += " AND resource_type = \(bind: type)" }
        if let id = filter.resourceId { query += " AND resource_id = \(bind: id)" }
        if let outcome = filter.outcome { query += " AND outcome = \(bind: outcome.rawValue)" }
        if let from = filter.from { query += " AND at >= \(bind: from.millis)" }
        if let to = filter.to { query += " AND at < \(bind: to.millis)" }
        if let after = page.afterKey.flatMap(Int64.init) { query += " AND seq < \(bind: after)" }
        query += " ORDER BY seq DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map(Self.decode)
        return Page.from(rows: rows, limit: page.limit) { String($0.seq) }
    }

    func scan(after seq: Int64, limit: Int) async throws -> [AuditEvent] {
        try await db.raw("SELECT * FROM audit_events WHERE seq > \(bind: seq) ORDER BY seq LIMIT \(bind: limit)").all().map(Self.decode)
    }

    func count(under path: String) async throws -> Int {
        let range = Subtree(path)
        return try await db.raw("""
            SELECT COUNT(*) AS n FROM audit_events WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func decode(_ row: any SQLRow) throws -> AuditEvent {
        AuditEvent(
            seq: try row.decode(column: "seq", as: Int64.self),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            orgPath: try row.decode(column: "org_path", as: String.self),
            at: try row.requiredDate("at"),
            actor: AuditActor(kind: try row.enumValue("actor_kind", as: AuditActorKind.self),
                              id: try row.decode(column: "actor_id", as: String.self),
                              name: try row.decode(column: "actor_name", as: String.self)),
            action: try row.decode(column: "action", as: String.self),
            resourceType: try row.decode(column: "resource_type", as: String.self),
            resourceId: try row.decode(column: "resource_id", as: String.self),
            outcome: try row.enumValue("outcome", as: AuditOutcome.self),
            origin: try row.decode(column: "origin", as: String.self),
            summary: try row.decode(column: "summary", as: String.self),
            prevHash: try row.decode(column: "prev_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self))
    }
}

/// SQL storage of idempotency keys.
struct SQLIdempotencyRepository: IdempotencyRepository {
    let db: any SQLDatabase

    func claim(_ record: IdempotencyRecord) async throws -> IdempotencyRecord? {
        if let existing = try await find(scope: record.scope, key: record.key) { return existing }
        // ON CONFLICT rather than catching the duplicate: on PostgreSQL a failed statement aborts the
        // transaction, so the look-up of a racing winner's record would fail too.
        let inserted = try await db.raw("""
            INSERT INTO idempotency_keys (scope, key, org_id, request_hash, status, body, created_at)
            VALUES (\(bind: record.scope), \(bind: record.key), \(bind: record.orgId.rawValue), \(bind: record.requestHash),
                    NULL, NULL, \(bind: record.createdAt.millis))
            ON CONFLICT (scope, key) DO NOTHING
            RETURNING key
            """).all()
        return inserted.isEmpty ? try await find(scope: record.scope, key: record.key) : nil
    }

    func complete(scope: String, key: String, status: Int, body: Data) async throws {
        try await db.raw("""
            UPDATE idempotency_keys SET status = \(bind: status), body = \(bind: String(decoding: body, as: UTF8.self))
            WHERE scope = \(bind: scope) AND key = \(bind: key)
            """).run()
    }

    func release(scope: String, key: String) async throws {
        try await db.raw("DELETE FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key) AND status IS NULL").run()
    }

    func purge(before: Date) async throws {
        try await db.raw("DELETE FROM idempotency_keys WHERE created_at < \(bind: before.millis)").run()
    }

    private func find(scope: String, key: String) async throws -> IdempotencyRecord? {
        try await db.raw("SELECT * FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)").first().map { row in
            IdempotencyRecord(scope: try row.decode(column: "scope", as: String.self),
                              orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                              key: try row.decode(column: "key", as: String.self),
                              requestHash: try row.decode(column: "request_hash", as: String.self),
                              status: try row.decode(column: "status", as: Int?.self),
                              body: try row.decode(column: "body", as: String?.self).map { Data($0.utf8) },
                              createdAt: try row.requiredDate("created_at"))
        }
    }
}
