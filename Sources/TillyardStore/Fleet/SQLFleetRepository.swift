import Foundation
import SQLKit
import TillyardKit

/// SQL storage of activation codes, terminal credentials and security events.
struct SQLFleetRepository: FleetRepository {
    let db: any SQLDatabase

    func insert(_ code: ActivationCode) async throws {
        try await db.raw("""
            INSERT INTO activation_codes (id, terminal_id, code_hash, created_by, created_at, expires_at, used_at)
            VALUES (\(bind: code.id.rawValue), \(bind: code.terminalId.rawValue), \(bind: code.codeHash), \(bind: code.createdBy),
                    \(bind: code.createdAt.millis), \(bind: code.expiresAt.millis), \(bind: code.usedAt.millis))
            """).run()
    }

    func activationCode(hash: String) async throws -> ActivationCode? {
        guard let row = try await db.raw("SELECT * FROM activation_codes WHERE code_hash = \(bind: hash)").first() else { return nil }
        return ActivationCode(id: ActivationCodeID(rawValue: try row.decode(column: "id", as: String.self)),
                              terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
                              codeHash: try row.decode(column: "code_hash", as: String.self),
                              createdBy: try row.decode(column: "created_by", as: String.self),
                              createdAt: try row.requiredDate("created_at"), expiresAt: try row.requiredDate("expires_at"),
                              usedAt: try row.date("used_at"))
    }

    func useActivationCode(_ id: ActivationCodeID, at: Date) async throws -> Bool {
        !(try await db.raw("""
            UPDATE activation_codes SET used_at = \(bind: at.millis) WHERE id = \(bind: id.rawValue) AND used_at IS NULL RETURNING id
            """).all()).isEmpty
    }

    func credential(of terminal: TerminalID) async throws -> TerminalCredential? {
        guard let row = try await db.raw("""
            SELECT * FROM terminal_credentials WHERE terminal_id = \(bind: terminal.rawValue) AND revoked_at IS NULL
            """).first() else { return nil }
        return TerminalCredential(terminalId: terminal, keyId: try row.decode(column: "key_id", as: String.self),
                                  sealedSecret: Array(Data(base64Encoded: try row.decode(column: "sealed_secret", as: String.self)) ?? Data()),
                                  createdAt: try row.requiredDate("created_at"), revokedAt: try row.date("revoked_at"))
    }

    func replaceCredential(with credential: TerminalCredential) async throws {
        try await db.raw("""
            UPDATE terminal_credentials SET revoked_at = \(bind: credential.createdAt.millis)
            WHERE terminal_id = \(bind: credential.terminalId.rawValue) AND revoked_at IS NULL
            """).run()
        try await db.raw("""
            INSERT INTO terminal_credentials (terminal_id, key_id, sealed_secret, created_at, revoked_at)
            VALUES (\(bind: credential.terminalId.rawValue), \(bind: credential.keyId), \(bind: Data(credential.sealedSecret).base64EncodedString()),
                    \(bind: credential.createdAt.millis), NULL)
            """).run()
    }

    func record(_ event: SecurityEvent, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO security_events (id, terminal_ref, org_path, reason, origin, path, at, repeats)
            VALUES (\(bind: event.id), \(bind: event.terminalRef), \(bind: orgPath), \(bind: event.reason), \(bind: event.origin),
                    \(bind: event.path), \(bind: event.at.millis), \(bind: event.repeats))
            """).run()
    }

    func addRepeats(_ counts: [String: Int]) async throws {
        for (id, count) in counts.sorted(by: { $0.key < $1.key }) {
            try await db.raw("UPDATE security_events SET repeats = repeats + \(bind: count) WHERE id = \(bind: id)").run()
        }
    }

    func securityEvents(under path: String, unattributed: Bool, terminalRef: String?, limit: Int) async throws -> [SecurityEvent] {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM security_events WHERE ((org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper))"
        query += unattributed ? " OR org_path = '/')" : ")"
        if let terminalRef { query += " AND terminal_ref = \(bind: terminalRef)" }
        query += " ORDER BY id DESC LIMIT \(bind: limit)"
        return try await db.raw(query).all().map { row in
            SecurityEvent(id: try row.decode(column: "id", as: String.self), terminalRef: try row.decode(column: "terminal_ref", as: String.self),
                          reason: try row.decode(column: "reason", as: String.self), origin: try row.decode(column: "origin", as: String.self),
                          path: try row.decode(column: "path", as: String.self), at: try row.requiredDate("at"),
                          repeats: try row.decode(column: "repeats", as: Int.self))
        }
    }
}

extension SQLFleetRepository {
    /// Rows per multi-row statement: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
    static let batch = 500

    func saveStatuses(_ statuses: [TerminalStatus]) async throws {
        for chunk in stride(from: 0, to: statuses.count, by: Self.batch).map({ statuses[$0..<min($0 + Self.batch, statuses.count)] }) {
            var query: SQLQueryString = "INSERT INTO terminal_status (terminal_id, last_seen_at, body) VALUES "
            for (index, status) in chunk.enumerated() {
                if index > 0 { query += ", " }
                query += "(\(bind: status.terminalId.rawValue), \(bind: status.lastSeenAt.millis), \(bind: try JSONColumn.encode(status)))"
            }
            // Only ever forward: a delayed batch cannot overwrite a newer heartbeat written by another node.
            query += """
                 ON CONFLICT (terminal_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, body = excluded.body
                 WHERE excluded.last_seen_at >= terminal_status.last_seen_at
                """
            try await db.raw(query).run()
        }
    }

    func appendSamples(_ samples: [TerminalStatus]) async throws {
        for chunk in stride(from: 0, to: samples.count, by: Self.batch).map({ samples[$0..<min($0 + Self.batch, samples.count)] }) {
            var query: SQLQueryString = "INSERT INTO heartbeat_samples (terminal_id, at, body) VALUES "
            for (index, sample) in chunk.enumerated() {
                if index > 0 { query += ", " }
                query += "(\(bind: sample.terminalId.rawValue), \(bind: sample.lastSeenAt.millis), \(bind: try JSONColumn.encode(sample)))"
            }
            query += " ON CONFLICT (terminal_id, at) DO NOTHING"
            try await db.raw(query).run()
        }
    }

    func status(of terminal: TerminalID) async throws -> TerminalStatus? {
        try await db.raw("SELECT body FROM terminal_status WHERE terminal_id = \(bind: terminal.rawValue)").first().map {
            try JSONColumn.decode(TerminalStatus.self, from: try $0.decode(column: "body", as: String.self))
        }
    }

    func samples(of terminal: TerminalID, limit: Int) async throws -> [TerminalStatus] {
        try await db.raw("""
            SELECT body FROM heartbeat_samples WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY at DESC LIMIT \(bind: limit)
            """).all().map { try JSONColumn.decode(TerminalStatus.self, from: try $0.decode(column: "body", as: String.self)) }
    }
}
