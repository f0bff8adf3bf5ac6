import Foundation
import SQLKit
import TillyardKit

/// SQL storage of fleet operations (migration 0011).
struct SQLFleetOperationsRepository: FleetOperationsRepository {
    let db: any SQLDatabase

    /// What a template row's body holds (level and target are columns).
    private struct TemplateBody: Codable {
        var values: [String: String?]
        var updatedBy: String
        var updatedAt: Date
    }

    private func template(from row: any SQLRow) throws -> ParameterTemplate {
        let body = try JSONColumn.decode(TemplateBody.self, from: try row.decode(column: "body", as: String.self))
        guard let level = ParameterLevel(rawValue: try row.decode(column: "level", as: String.self)) else {
            throw DomainError.conflict("stored parameter template has an unknown level")
        }
        return ParameterTemplate(level: level, target: try row.decode(column: "target", as: String.self),
                                 version: try row.decode(column: "version", as: Int.self), values: body.values,
                                 updatedBy: body.updatedBy, updatedAt: body.updatedAt)
    }

    func template(level: ParameterLevel, target: String) async throws -> ParameterTemplate? {
        try await db.raw("SELECT * FROM parameter_templates WHERE level = \(bind: level.rawValue) AND target = \(bind: target)")
            .first().map(template(from:))
    }

    func saveTemplate(_ template: ParameterTemplate, orgPath: String, replacing: Int) async throws -> Bool {
        let body = try JSONColumn.encode(TemplateBody(values: template.values, updatedBy: template.updatedBy, updatedAt: template.updatedAt))
        if replacing == 0 {
            return !(try await db.raw("""
                INSERT INTO parameter_templates (level, target, org_path, version, body, updated_by, updated_at)
                VALUES (\(bind: template.level.rawValue), \(bind: template.target), \(bind: orgPath), \(bind: template.version), \(bind: body),
                        \(bind: template.updatedBy), \(bind: template.updatedAt.millis))
                ON CONFLICT DO NOTHING RETURNING version
                """).all()).isEmpty
        }
        return !(try await db.raw("""
            UPDATE parameter_templates SET version = \(bind: template.version), body = \(bind: body), updated_by = \(bind: template.updatedBy),
                updated_at = \(bind: template.updatedAt.millis)
            WHERE level = \(bind: template.level.rawValue) AND target = \(bind: template.target) AND version = \(bind: replacing)
            RETURNING version
            """).all()).isEmpty
    }

    func deleteTemplate(level: ParameterLevel, target: String, version: Int) async throws -> Bool {
        !(try await db.raw("""
            DELETE FROM parameter_templates WHERE level = \(bind: level.rawValue) AND target = \(bind: target) AND version = \(bind: version)
            RETURNING version
            """).all()).isEmpty
    }

    func templates(under path: String, level: ParameterLevel?, limit: Int) async throws -> [ParameterTemplate] {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM parameter_templates WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let level { query += " AND level = \(bind: level.rawValue)" }
        query += " ORDER BY level, target LIMIT \(bind: limit)"
        return try await db.raw(query).all().map(template(from:))
    }

    func templates(for targets: [(ParameterLevel, String)]) async throws -> [ParameterTemplate] {
        guard !targets.isEmpty else { return [] }
        // A terminal has a handful of layers: one OR list keeps it to one indexed query.
        var query: SQLQueryString = "SELECT * FROM parameter_templates WHERE "
        for (index, (level, target)) in targets.enumerated() {
            if index > 0 { query += " OR " }
            query += "(level = \(bind: level.rawValue) AND target = \(bind: target))"
        }
        return try await db.raw(query).all().map(template(from:))
    }

    // MARK: Commands

    private func command(from row: any SQLRow) throws -> TerminalCommand {
        guard let kind = TerminalCommandKind(rawValue: try row.decode(column: "kind", as: String.self)) else {
            throw DomainError.conflict("stored command has an unknown kind")
        }
        return TerminalCommand(id: try row.decode(column: "id", as: String.self),
                               terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)), kind: kind,
                               reason: try row.decode(column: "reason", as: String?.self),
                               issuedBy: try row.decode(column: "issued_by", as: String.self), issuedAt: try row.requiredDate("issued_at"),
                               doneAt: try row.date("done_at"),
                               outcome: try row.decode(column: "outcome", as: String?.self).flatMap(CommandOutcome.init(rawValue:)),
                               detail: try row.decode(column: "detail", as: String?.self))
    }

    func insertCommand(_ command: TerminalCommand) async throws {
        try await db.raw("""
            INSERT INTO terminal_commands (id, terminal_id, kind, reason, issued_by, issued_at, done_at, outcome, detail)
            VALUES (\(bind: command.id), \(bind: command.terminalId.rawValue), \(bind: command.kind.rawValue), \(bind: command.reason),
                    \(bind: command.issuedBy), \(bind: command.issuedAt.millis), NULL, NULL, NULL)
            """).run()
    }

    func pendingCommands(of terminal: TerminalID) async throws -> [TerminalCommand] {
        try await db.raw("""
            SELECT * FROM terminal_commands WHERE terminal_id = \(bind: terminal.rawValue) AND done_at IS NULL ORDER BY id LIMIT 50
            """).all().map(command(from:))
    }

    func commands(of terminal: TerminalID, limit: Int) async throws -> [TerminalCommand] {
        try await db.raw("""
            SELECT * FROM terminal_commands WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY id DESC LIMIT \(bind: limit)
            """).all().map(command(from:))
    }

    func completeCommand(_ id: String, terminal: TerminalID, at: Date, outcome: CommandOutcome, detail: String?) async throws -> Bool {
        !(try await db.raw("""
            UPDATE terminal_commands SET done_at = \(bind: at.millis), outcome = \(bind: outcome.rawValue), detail = \(bind: detail)
            WHERE id = \(bind: id) AND terminal_id = \(bind: terminal.rawValue) AND done_at IS NULL RETURNING id
            """).all()).isEmpty
    }

    // MARK: Locks and relocation

    func lock(of terminal: TerminalID) async throws -> TerminalLock? {
        guard let row = try await db.raw("SELECT * FROM terminal_locks WHERE terminal_id = \(bind: terminal.rawValue)").first() else { return nil }
        return TerminalLock(terminalId: terminal, cause: LockCause(rawValue: try row.decode(column: "cause", as: String.self)) ?? .operator,
                            reason: try row.decode(column: "reason", as: String?.self), alertId: try row.decode(column: "alert_id", as: String?.self),
                            lockedBy: try row.decode(column: "locked_by", as: String.self), lockedAt: try row.requiredDate("locked_at"))
    }

    func setLock(_ lock: TerminalLock) async throws {
        try await db.raw("""
            INSERT INTO terminal_locks (terminal_id, cause, reason, alert_id, locked_by, locked_at)
            VALUES (\(bind: lock.terminalId.rawValue), \(bind: lock.cause.rawValue), \(bind: lock.reason), \(bind: lock.alertId),
                    \(bind: lock.lockedBy), \(bind: lock.lockedAt.millis))
            ON CONFLICT (terminal_id) DO UPDATE SET cause = excluded.cause, reason = excluded.reason, alert_id = excluded.alert_id,
                locked_by = excluded.locked_by, locked_at = excluded.locked_at
            """).run()
    }

    func removeLock(of terminal: TerminalID) async throws {
        try await db.raw("DELETE FROM terminal_locks WHERE terminal_id = \(bind: terminal.rawValue)").run()
    }

    func relocationPolicy(of acquirer: OrgID) async throws -> RelocationPolicy? {
        try await db.raw("SELECT body FROM relocation_policies WHERE org_id = \(bind: acquirer.rawValue)").first().map {
            try JSONColumn.decode(RelocationPolicy.self, from: try $0.decode(column: "body", as: String.self))
        }
    }

    func saveRelocationPolicy(_ policy: RelocationPolicy, of acquirer: OrgID, by: String, at: Date) async throws {
        try await db.raw("""
            INSERT INTO relocation_policies (org_id, body, updated_by, updated_at)
            VALUES (\(bind: acquirer.rawValue), \(bind: try JSONColumn.encode(policy)), \(bind: by), \(bind: at.millis))
            ON CONFLICT (org_id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at
            """).run()
    }

    /// What an alert row's body holds beyond its columns.
    private struct AlertBody: Codable {
        var sn: String
        var finding: RelocationFinding
    }

    private func alert(from row: any SQLRow) throws -> RelocationAlert {
        let body = try JSONColumn.decode(AlertBody.self, from: try row.decode(column: "body", as: String.self))
        return RelocationAlert(id: try row.decode(column: "id", as: String.self),
                               terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)), sn: body.sn,
                               state: AlertState(rawValue: try row.decode(column: "state", as: String.self)) ?? .open, finding: body.finding,
                               raisedAt: try row.requiredDate("raised_at"), clearedAt: try row.date("cleared_at"),
                               clearedBy: try row.decode(column: "cleared_by", as: String?.self),
                               clearNote: try row.decode(column: "clear_note", as: String?.self))
    }

    func insertAlert(_ alert: RelocationAlert, orgPath: String) async throws -> Bool {
        !(try await db.raw("""
            INSERT INTO relocation_alerts (id, terminal_id, org_path, state, action, distance_m, body, raised_at)
            VALUES (\(bind: alert.id), \(bind: alert.terminalId.rawValue), \(bind: orgPath), \(bind: alert.state.rawValue),
                    \(bind: alert.finding.action.rawValue), \(bind: Int64(alert.finding.certainDistanceMeters.rounded())),
                    \(bind: try JSONColumn.encode(AlertBody(sn: alert.sn, finding: alert.finding))), \(bind: alert.raisedAt.millis))
            ON CONFLICT DO NOTHING RETURNING id
            """).all()).isEmpty
    }

    func alert(_ id: String) async throws -> (alert: RelocationAlert, orgPath: String)? {
        guard let row = try await db.raw("SELECT * FROM relocation_alerts WHERE id = \(bind: id)").first() else { return nil }
        return (try alert(from: row), try row.decode(column: "org_path", as: String.self))
    }

    func openAlert(of terminal: TerminalID) async throws -> RelocationAlert? {
        try await db.raw("SELECT * FROM relocation_alerts WHERE terminal_id = \(bind: terminal.rawValue) AND state = 'open'").first()
            .map(alert(from:))
    }

    func alerts(under path: String, state: AlertState?, limit: Int) async throws -> [RelocationAlert] {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM relocation_alerts WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let state { query += " AND state = \(bind: state.rawValue)" }
        query += " ORDER BY id DESC LIMIT \(bind: limit)"
        return try await db.raw(query).all().map(alert(from:))
    }

    func clearAlert(_ id: String, by: String, at: Date, note: String) async throws -> Bool {
        !(try await db.raw("""
            UPDATE relocation_alerts SET state = 'cleared', cleared_at = \(bind: at.millis), cleared_by = \(bind: by), clear_note = \(bind: note)
            WHERE id = \(bind: id) AND state = 'open' RETURNING id
            """).all()).isEmpty
    }

    // MARK: Transactions

    func insertTransactions(_ transactions: [TerminalTransaction], cardHashes: [String: String], terminal: TerminalID, orgPath: String,
                            merchantId: OrgID?, receivedAt: Date) async throws -> Set<String> {
        var stored = Set<String>()
        for start in stride(from: 0, to: transactions.count, by: SQLFleetRepository.batch) {
            let chunk = transactions[start..<min(start + SQLFleetRepository.batch, transactions.count)]
            var query: SQLQueryString = """
                INSERT INTO terminal_transactions (terminal_id, id, org_path, merchant_id, at, kind, amount, currency, tender, approved,
                    response_code, masked_pan, auth_code, rrn, received_at, mid, tid, card_type, entry_mode, latitude, longitude,
                    card_hash, card_prefix) VALUES
                """
            for (index, item) in chunk.enumerated() {
                if index > 0 { query += ", " }
                query += """
                    (\(bind: terminal.rawValue), \(bind: item.id), \(bind: orgPath), \(bind: merchantId?.rawValue), \(bind: item.at.millis),
                     \(bind: item.kind.rawValue), \(bind: item.amount), \(bind: item.currency), \(bind: item.tender.rawValue),
                     \(bind: item.approved ? 1 : 0), \(bind: item.responseCode), \(bind: item.maskedPan), \(bind: item.authCode),
                     \(bind: item.rrn), \(bind: receivedAt.millis), \(bind: item.mid), \(bind: item.tid), \(bind: item.cardType?.rawValue),
                     \(bind: item.entryMode?.rawValue), \(bind: item.latitude), \(bind: item.longitude), \(bind: cardHashes[item.id]),
                     \(bind: CardIdentity.prefix(item.maskedPan)))
                    """
            }
            // A retried upload meets its own rows: they are skipped, and RETURNING names only the new ones.
            query += " ON CONFLICT (terminal_id, id) DO NOTHING RETURNING id"
            for row in try await db.raw(query).all() { stored.insert(try row.decode(column: "id", as: String.self)) }
        }
        return stored
    }

    /// A `terminal_transactions` row (shared with the risk repository).
    static func storedTransaction(from row: any SQLRow) throws -> StoredTerminalTransaction {
        let transaction = TerminalTransaction(
            id: try row.decode(column: "id", as: String.self), at: try row.requiredDate("at"),
            kind: TerminalTransactionKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .sale,
            amount: try row.decode(column: "amount", as: Int64.self), currency: try row.decode(column: "currency", as: String.self),
            tender: TenderKind(rawValue: try row.decode(column: "tender", as: String.self)) ?? .card,
            approved: try row.decode(column: "approved", as: Int.self) == 1, responseCode: try row.decode(column: "response_code", as: String.self),
            maskedPan: try row.decode(column: "masked_pan", as: String?.self), authCode: try row.decode(column: "auth_code", as: String?.self),
            rrn: try row.decode(column: "rrn", as: String?.self), mid: try row.decode(column: "mid", as: String?.self),
            tid: try row.decode(column: "tid", as: String?.self),
            cardType: try row.decode(column: "card_type", as: String?.self).flatMap(CardType.init(rawValue:)),
            entryMode: try row.decode(column: "entry_mode", as: String?.self).flatMap(EntryMode.init(rawValue:)),
            latitude: try row.decode(column: "latitude", as: Double?.self), longitude: try row.decode(column: "longitude", as: Double?.self))
        return StoredTerminalTransaction(terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
                                         transaction: transaction, receivedAt: try row.requiredDate("received_at"))
    }

    func transactions(of terminal: TerminalID, limit: Int) async throws -> [StoredTerminalTransaction] {
        try await db.raw("""
            SELECT * FROM terminal_transactions WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY at DESC, id DESC LIMIT \(bind: limit)
            """).all().map(Self.storedTransaction(from:))
    }

    func presence(under path: String, onlineSince: Date) async throws -> [FleetPresence] {
        let range = Subtree(path)
        return try await db.raw("""
            SELECT t.org_id AS org_id, COUNT(*) AS deployed,
                   SUM(CASE WHEN s.last_seen_at >= \(bind: onlineSince.millis) THEN 1 ELSE 0 END) AS online,
                   SUM(CASE WHEN s.terminal_id IS NULL THEN 1 ELSE 0 END) AS never_seen
            FROM terminals t LEFT JOIN terminal_status s ON s.terminal_id = t.id
            WHERE t.owner_path >= \(bind: range.lower) AND t.owner_path < \(bind: range.upper)
              AND t.state IN ('bound', 'installed', 'in_service')
            GROUP BY t.org_id ORDER BY t.org_id
            """).all().map { row in
            FleetPresence(orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                          deployed: try row.decode(column: "deployed", as: Int.self), online: try row.decode(column: "online", as: Int?.self) ?? 0,
                          neverSeen: try row.decode(column: "never_seen", as: Int?.self) ?? 0)
        }
    }
}
