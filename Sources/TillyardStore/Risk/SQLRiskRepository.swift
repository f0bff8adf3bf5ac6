import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the risk area (migration 0016). Counters are read by primary key and moved by
/// upserts that add, so the upload's transaction never reads history.
struct SQLRiskRepository: RiskRepository {
    let db: any SQLDatabase

    // MARK: Rules

    private func rule(from row: any SQLRow) throws -> RiskRule {
        try JSONColumn.decode(RiskRule.self, from: try row.decode(column: "body", as: String.self))
    }

    func rules(of acquirer: OrgID) async throws -> [RiskRule] {
        try await db.raw("SELECT body FROM risk_rules WHERE org_id = \(bind: acquirer.rawValue)").all().map(rule(from:))
    }

    func saveRule(_ rule: RiskRule, of acquirer: OrgID) async throws -> Bool {
        let newest = try await db.raw("""
            SELECT MAX(version) AS version FROM risk_rules WHERE org_id = \(bind: acquirer.rawValue) AND kind = \(bind: rule.kind.rawValue)
            """).first()?.decode(column: "version", as: Int?.self) ?? 0
        guard newest == rule.version - 1 else { return false }
        // The primary key settles a race between two saves of the same version.
        return !(try await db.raw("""
            INSERT INTO risk_rules (org_id, kind, version, body, updated_by, updated_at)
            VALUES (\(bind: acquirer.rawValue), \(bind: rule.kind.rawValue), \(bind: rule.version), \(bind: try JSONColumn.encode(rule)),
                    \(bind: rule.updatedBy ?? ""), \(bind: (rule.updatedAt ?? Date()).millis))
            ON CONFLICT DO NOTHING RETURNING version
            """).all()).isEmpty
    }

    func ruleHistory(_ kind: RiskRuleKind, of acquirer: OrgID) async throws -> [RiskRule] {
        try await db.raw("""
            SELECT body FROM risk_rules WHERE org_id = \(bind: acquirer.rawValue) AND kind = \(bind: kind.rawValue) ORDER BY version DESC LIMIT 100
            """).all().map(rule(from:))
    }

    // MARK: Counters

    func snapshot(_ reads: RiskReads) async throws -> RiskSnapshot {
        var snapshot = RiskSnapshot()
        if let day = reads.counters.first?.day {
            var query: SQLQueryString = "SELECT key, day, count, amount FROM risk_counters WHERE day = \(bind: Int64(day)) AND key IN ("
            for (index, key) in reads.counters.enumerated() {
                query += index == 0 ? "\(bind: key.key)" : ", \(bind: key.key)"
            }
            query += ")"
            for row in try await db.raw(query).all() {
                let key = RiskCounterKey(key: try row.decode(column: "key", as: String.self), day: Int(try row.decode(column: "day", as: Int64.self)))
                snapshot.counters[key] = RiskCount(count: try row.decode(column: "count", as: Int64.self),
                                                   amount: try row.decode(column: "amount", as: Int64.self))
            }
        }
        if let history = reads.history {
            let row = try await db.raw("""
                SELECT CAST(SUM(amount) AS BIGINT) AS total, COUNT(*) AS days FROM risk_counters
                WHERE key = \(bind: history.key) AND day >= \(bind: Int64(history.from)) AND day < \(bind: Int64(history.to))
                """).first()
            snapshot.historyAmount = try row?.decode(column: "total", as: Int64?.self) ?? 0
            snapshot.historyDays = try row?.decode(column: "days", as: Int64.self) ?? 0
        }
        if !reads.lastSeen.isEmpty {
            var query: SQLQueryString = "SELECT key, terminal_id, at FROM risk_last_seen WHERE key IN ("
            for (index, key) in reads.lastSeen.enumerated() { query += index == 0 ? "\(bind: key)" : ", \(bind: key)" }
            query += ")"
            for row in try await db.raw(query).all() {
                snapshot.lastSeen[try row.decode(column: "key", as: String.self)] =
                    RiskLastSeen(terminalId: try row.decode(column: "terminal_id", as: String.self), at: try row.requiredDate("at"))
            }
        }
        return snapshot
    }

    func count(_ increments: [(RiskCounterKey, RiskCount)], lastSeen: [(String, RiskLastSeen)], acquirer: OrgID) async throws {
        if !increments.isEmpty {
            var query: SQLQueryString = "INSERT INTO risk_counters (key, day, org_id, count, amount) VALUES "
            for (index, (key, delta)) in increments.enumerated() {
                if index > 0 { query += ", " }
                query += "(\(bind: key.key), \(bind: Int64(key.day)), \(bind: acquirer.rawValue), \(bind: delta.count), \(bind: delta.amount))"
            }
            query += """
                 ON CONFLICT (key, day) DO UPDATE SET count = risk_counters.count + excluded.count,
                    amount = risk_counters.amount + excluded.amount
                """
            try await db.raw(query).run()
        }
        if !lastSeen.isEmpty {
            var query: SQLQueryString = "INSERT INTO risk_last_seen (key, org_id, terminal_id, at) VALUES "
            for (index, (key, seen)) in lastSeen.enumerated() {
                if index > 0 { query += ", " }
                query += "(\(bind: key), \(bind: acquirer.rawValue), \(bind: seen.terminalId), \(bind: seen.at.millis))"
            }
            // An old transaction uploaded late does not move a newer sighting back.
            query += """
                 ON CONFLICT (key) DO UPDATE SET terminal_id = excluded.terminal_id, at = excluded.at
                    WHERE excluded.at >= risk_last_seen.at
                """
            try await db.raw(query).run()
        }
    }

    // MARK: Alerts

    private func alert(from row: any SQLRow) throws -> RiskAlert {
        try JSONColumn.decode(RiskAlert.self, from: try row.decode(column: "body", as: String.self))
    }

    func raise(_ alert: RiskAlert, orgPath: String, transactions: [RiskTransactionRef]) async throws -> (id: String, new: Bool) {
        let inserted = try await db.raw("""
            INSERT INTO risk_alerts (id, org_id, org_path, rule, mode, severity, status, dedupe_key, terminal_id, merchant_id, assignee, hold,
                body, raised_at, updated_at, version)
            VALUES (\(bind: alert.id), \(bind: alert.orgId.rawValue), \(bind: orgPath), \(bind: alert.rule.rawValue), \(bind: alert.mode.rawValue),
                    \(bind: alert.severity.rawValue), \(bind: alert.status.rawValue), \(bind: alert.dedupeKey), \(bind: alert.terminalId?.rawValue),
                    \(bind: alert.merchantId?.rawValue), \(bind: alert.assignee), \(bind: alert.holdsSettlement ? 1 : 0),
                    \(bind: try JSONColumn.encode(alert)), \(bind: alert.raisedAt.millis), \(bind: alert.updatedAt.millis), \(bind: alert.version))
            ON CONFLICT DO NOTHING RETURNING id
            """).first()
        var id = alert.id
        if inserted == nil {
            guard let existing = try await db.raw("""
                SELECT id FROM risk_alerts WHERE mode = \(bind: alert.mode.rawValue) AND dedupe_key = \(bind: alert.dedupeKey)
                """).first() else { return (alert.id, false) }
            id = try existing.decode(column: "id", as: String.self)
        }
        if !transactions.isEmpty {
            var query: SQLQueryString = "INSERT INTO risk_alert_transactions (alert_id, terminal_id, transaction_id) VALUES "
            for (index, ref) in transactions.enumerated() {
                if index > 0 { query += ", " }
                query += "(\(bind: id), \(bind: ref.terminalId.rawValue), \(bind: ref.transactionId))"
            }
            query += " ON CONFLICT DO NOTHING"
            try await db.raw(query).run()
        }
        return (id, inserted != nil)
    }

    func alert(_ id: String) async throws -> (alert: RiskAlert, orgPath: String)? {
        guard let row = try await db.raw("SELECT body, org_path FROM risk_alerts WHERE id = \(bind: id)").first() else { return nil }
        return (try alert(from: row), try row.decode(column: "org_path", as: String.self))
    }

    func alerts(under path: String, filter: RiskAlertFilter, page: PageRequest) async throws -> Page<RiskAlert> {
        let range = Subtree(path)
        var query: SQLQueryString = """
            SELECT body FROM risk_alerts WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND mode = \(bind: filter.mode.rawValue)
            """
        if let status = filter.status { query += " AND status = \(bind: status.rawValue)" }
        if let rule = filter.rule { query += " AND rule = \(bind: rule.rawValue)" }
        if let assignee = filter.assignee { query += " AND assignee = \(bind: assignee)" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(alert(from:)), limit: page.limit, key: \.id)
    }

    func update(_ alert: RiskAlert) async throws -> Bool {
        !(try await db.raw("""
            UPDATE risk_alerts SET status = \(bind: alert.status.rawValue), assignee = \(bind: alert.assignee), hold = \(bind: alert.holdsSettlement ? 1 : 0),
                body = \(bind: try JSONColumn.encode(alert)), updated_at = \(bind: alert.updatedAt.millis), version = \(bind: alert.version)
            WHERE id = \(bind: alert.id) AND version = \(bind: alert.version - 1) RETURNING id
            """).all()).isEmpty
    }

    func evidence(of alert: String) async throws -> [StoredTerminalTransaction] {
        try await db.raw("""
            SELECT t.* FROM risk_alert_transactions l
            JOIN terminal_transactions t ON t.terminal_id = l.terminal_id AND t.id = l.transaction_id
            WHERE l.alert_id = \(bind: alert) ORDER BY t.at, t.id LIMIT 200
            """).all().map(SQLFleetOperationsRepository.storedTransaction(from:))
    }

    func addComment(_ comment: RiskComment) async throws {
        try await db.raw("""
            INSERT INTO risk_alert_comments (id, alert_id, author, text, at)
            VALUES (\(bind: comment.id), \(bind: comment.alertId), \(bind: comment.author), \(bind: comment.text), \(bind: comment.at.millis))
            """).run()
    }

    func comments(of alert: String) async throws -> [RiskComment] {
        try await db.raw("SELECT * FROM risk_alert_comments WHERE alert_id = \(bind: alert) ORDER BY id LIMIT 500").all().map { row in
            RiskComment(id: try row.decode(column: "id", as: String.self), alertId: alert, author: try row.decode(column: "author", as: String.self),
                        text: try row.decode(column: "text", as: String.self), at: try row.requiredDate("at"))
        }
    }

    func precision(under path: String) async throws -> [RiskRulePrecision] {
        let range = Subtree(path)
        var figures: [RiskRuleKind: RiskRulePrecision] = [:]
        for row in try await db.raw("""
            SELECT rule, mode, status, COUNT(*) AS n FROM risk_alerts WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)
            GROUP BY rule, mode, status
            """).all() {
            guard let rule = RiskRuleKind(rawValue: try row.decode(column: "rule", as: String.self)),
                  let status = RiskAlertStatus(rawValue: try row.decode(column: "status", as: String.self)) else { continue }
            let count = try row.decode(column: "n", as: Int.self)
            var figure = figures[rule] ?? RiskRulePrecision(rule: rule)
            if try row.decode(column: "mode", as: String.self) == RiskMode.shadow.rawValue {
                figure.shadow += count
            } else if status.isClosed {
                figure.closed += count
                if status == .closedFalsePositive { figure.falsePositives += count }
            } else {
                figure.open += count
            }
            figures[rule] = figure
        }
        return RiskRuleKind.allCases.compactMap { figures[$0] }
    }

    func settlementHeld(merchant: OrgID) async throws -> Bool {
        try await db.raw("""
            SELECT id FROM risk_alerts WHERE merchant_id = \(bind: merchant.rawValue) AND status IN ('open', 'investigating') AND hold = 1 LIMIT 1
            """).first() != nil
    }

    func merchantsCounted(day: Int, acquirer: OrgID) async throws -> [OrgID] {
        // The key ranges of the merchant volume counters ("mr:…", "ms:…"; ';' follows ':') walk the primary key.
        try await db.raw("""
            SELECT DISTINCT SUBSTR(key, 4) AS merchant FROM risk_counters
            WHERE ((key >= 'mr:' AND key < 'mr;') OR (key >= 'ms:' AND key < 'ms;')) AND day = \(bind: Int64(day))
              AND org_id = \(bind: acquirer.rawValue)
            ORDER BY merchant LIMIT 100000
            """).all().map { OrgID(rawValue: try $0.decode(column: "merchant", as: String.self)) }
    }

    // MARK: History

    func history(under path: String, from: Date, to: Date, limit: Int) async throws -> [RiskFacts] {
        let range = Subtree(path)
        return try await db.raw("""
            SELECT terminal_id, id, merchant_id, card_hash, card_prefix, kind, amount, approved, at FROM terminal_transactions
            WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND at >= \(bind: from.millis) AND at < \(bind: to.millis)
            ORDER BY at, id LIMIT \(bind: limit)
            """).all().map { row in
            RiskFacts(terminalId: try row.decode(column: "terminal_id", as: String.self), transactionId: try row.decode(column: "id", as: String.self),
                      merchantId: try row.decode(column: "merchant_id", as: String?.self), cardHash: try row.decode(column: "card_hash", as: String?.self),
                      cardPrefix: try row.decode(column: "card_prefix", as: String?.self),
                      kind: TerminalTransactionKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .sale,
                      amount: try row.decode(column: "amount", as: Int64.self), approved: try row.decode(column: "approved", as: Int.self) == 1,
                      at: try row.requiredDate("at"), businessHours: nil)
        }
    }

    // MARK: Settlement

    func transactions(of terminal: TerminalID, after from: Date?, upTo to: Date) async throws -> [TerminalTransaction] {
        try await db.raw("""
            SELECT * FROM terminal_transactions WHERE terminal_id = \(bind: terminal.rawValue) AND at > \(bind: from.millis ?? Int64.min)
              AND at <= \(bind: to.millis) ORDER BY at, id LIMIT 20000
            """).all().map { try SQLFleetOperationsRepository.storedTransaction(from: $0).transaction }
    }

    private func batch(from row: any SQLRow) throws -> SettlementBatch {
        try JSONColumn.decode(SettlementBatch.self, from: try row.decode(column: "body", as: String.self))
    }

    func lastBatch(of terminal: TerminalID) async throws -> SettlementBatch? {
        try await db.raw("""
            SELECT body FROM settlement_batches WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY closed_at DESC LIMIT 1
            """).first().map(batch(from:))
    }

    func insertBatch(_ batch: SettlementBatch, orgPath: String) async throws -> Bool {
        let owner = orgPath.split(separator: "/").last.map(String.init) ?? ""
        return !(try await db.raw("""
            INSERT INTO settlement_batches (id, terminal_id, org_id, org_path, batch_no, closed_at, matched, body)
            VALUES (\(bind: batch.id), \(bind: batch.terminalId.rawValue), \(bind: owner), \(bind: orgPath), \(bind: batch.batchNo),
                    \(bind: batch.closedAt.millis), \(bind: batch.matched ? 1 : 0), \(bind: try JSONColumn.encode(batch)))
            ON CONFLICT DO NOTHING RETURNING id
            """).all()).isEmpty
    }

    func batch(_ id: String) async throws -> (batch: SettlementBatch, orgPath: String)? {
        guard let row = try await db.raw("SELECT body, org_path FROM settlement_batches WHERE id = \(bind: id)").first() else { return nil }
        return (try batch(from: row), try row.decode(column: "org_path", as: String.self))
    }

    func batch(terminal: TerminalID, batchNo: String) async throws -> SettlementBatch? {
        try await db.raw("""
            SELECT body FROM settlement_batches WHERE terminal_id = \(bind: terminal.rawValue) AND batch_no = \(bind: batchNo)
            """).first().map(batch(from:))
    }

    func batches(under path: String, mismatchedOnly: Bool, page: PageRequest) async throws -> Page<SettlementBatch> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT body FROM settlement_batches WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if mismatchedOnly { query += " AND matched = 0" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(batch(from:)), limit: page.limit, key: \.id)
    }

    // MARK: Monitor

    func monitor(under path: String, from: Date, to: Date) async throws -> RiskMonitor {
        let range = Subtree(path)
        let span: SQLQueryString = """
            org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND at >= \(bind: from.millis) AND at < \(bind: to.millis)
            """
        func groups(_ column: SQLQueryString) async throws -> [RiskMonitor.Group] {
            // PostgreSQL sums BIGINT as NUMERIC: cast back.
            let query: SQLQueryString = """
                SELECT \(column) AS g, COUNT(*) AS n, SUM(approved) AS ok, CAST(SUM(CASE WHEN approved = 1 AND kind IN ('sale', 'completion') THEN amount ELSE 0 END) AS BIGINT) AS amount
                FROM terminal_transactions WHERE \(span) GROUP BY \(column) ORDER BY n DESC LIMIT 50
                """
            return try await db.raw(query).all().map { row in
                let key = try row.decode(column: "g", as: String?.self) ?? ""
                return RiskMonitor.Group(key: key, label: key, count: try row.decode(column: "n", as: Int.self),
                                         approved: try row.decode(column: "ok", as: Int?.self) ?? 0,
                                         amount: try row.decode(column: "amount", as: Int64?.self) ?? 0)
            }
        }
        let hourly = try await db.raw("""
            SELECT at / 3600000 AS h, COUNT(*) AS n, SUM(approved) AS ok FROM terminal_transactions WHERE \(span) GROUP BY at / 3600000 ORDER BY h
            """).all().map { row -> RiskMonitor.Group in
            let hour = Date(timeIntervalSince1970: TimeInterval(try row.decode(column: "h", as: Int64.self) * 3600))
            return RiskMonitor.Group(key: ISO8601DateFormatter().string(from: hour), label: "", count: try row.decode(column: "n", as: Int.self),
                                     approved: try row.decode(column: "ok", as: Int?.self) ?? 0, amount: 0)
        }
        let top = try await db.raw("""
            SELECT merchant_id AS g, COUNT(*) AS n FROM risk_alerts
            WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper) AND mode = 'enforced' AND merchant_id IS NOT NULL
              AND raised_at >= \(bind: from.millis) AND raised_at < \(bind: to.millis)
            GROUP BY merchant_id ORDER BY n DESC LIMIT 10
            """).all().map { row in
            let key = try row.decode(column: "g", as: String.self)
            return RiskMonitor.Group(key: key, label: key, count: try row.decode(column: "n", as: Int.self), approved: 0, amount: 0)
        }
        return RiskMonitor(from: from, to: to, byRegion: try await groups("org_path"), byMerchant: try await groups("merchant_id"),
                           byResponseCode: try await groups("response_code"), trend: hourly, topAlerting: top)
    }
}
