import Foundation
import SQLKit
import TillyardKit

/// The condition "owned inside a subtree or by one of its ancestors" on an `org_path` column: what
/// a person may use of packages and campaigns (their own branch's and those published above them).
private func visibleTo(_ path: String, column: String) -> SQLQueryString {
    let subtree = Subtree(path)
    var ancestors: [String] = []
    var prefix = "/"
    for part in path.split(separator: "/").dropLast() {
        prefix += part + "/"
        ancestors.append(prefix)
    }
    var condition: SQLQueryString = "((\(ident: column) >= \(bind: subtree.lower) AND \(ident: column) < \(bind: subtree.upper))"
    if !ancestors.isEmpty { condition += " OR \(ident: column) IN (\(binds: ancestors))" }
    condition += ")"
    return condition
}

/// A page of JSON documents (`body`) of a table holding `org_path`, visible to `path`, optionally
/// with one column equal to a value, newest id first.
private func visiblePage<T: Sendable>(_ db: any SQLDatabase, table: String, path: String, equal: (column: String, value: String)?, page: PageRequest,
                                      decode: (any SQLRow) throws -> T, key: (T) -> String) async throws -> Page<T> {
    var query: SQLQueryString = "SELECT body FROM \(ident: table) WHERE \(visibleTo(path, column: "org_path"))"
    if let equal { query += " AND \(ident: equal.column) = \(bind: equal.value)" }
    if let after = page.afterKey { query += " AND id < \(bind: after)" }
    query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
    return Page.from(rows: try await db.raw(query).all().map(decode), limit: page.limit, key: key)
}

/// SQL storage of software packages (one JSON document each, immutable).
struct SQLPackageRepository: PackageRepository {
    let db: any SQLDatabase

    func insert(_ package: SoftwarePackage, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO software_packages (id, org_id, org_path, kind, version, sha256, size, body, created_at)
            VALUES (\(bind: package.id.rawValue), \(bind: package.orgId.rawValue), \(bind: orgPath), \(bind: package.kind.rawValue),
                    \(bind: package.version), \(bind: package.sha256), \(bind: package.size), \(bind: try JSONColumn.encode(package)),
                    \(bind: package.createdAt.millis))
            """).run()
    }

    func find(_ id: PackageID) async throws -> SoftwarePackage? {
        try await db.raw("SELECT body FROM software_packages WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(org: OrgID, kind: PackageKind, version: String) async throws -> SoftwarePackage? {
        try await db.raw("""
            SELECT body FROM software_packages WHERE org_id = \(bind: org.rawValue) AND kind = \(bind: kind.rawValue) AND version = \(bind: version)
            """).first().map(Self.decode)
    }

    func list(visibleTo path: String, kind: PackageKind?, page: PageRequest) async throws -> Page<SoftwarePackage> {
        try await visiblePage(db, table: "software_packages", path: path, equal: kind.map { ("kind", $0.rawValue) }, page: page,
                              decode: Self.decode) { $0.id.rawValue }
    }

    static func decode(_ row: any SQLRow) throws -> SoftwarePackage {
        try JSONColumn.decode(SoftwarePackage.self, from: try row.decode(column: "body", as: String.self))
    }
}

/// SQL storage of update campaigns (JSON documents with state and version columns), their offers and reports.
struct SQLCampaignRepository: CampaignRepository {
    let db: any SQLDatabase
    static let batch = 500

    func insert(_ campaign: Campaign, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO update_campaigns (id, org_id, org_path, package_id, state, body, updated_at, version)
            VALUES (\(bind: campaign.id.rawValue), \(bind: campaign.orgId.rawValue), \(bind: orgPath), \(bind: campaign.packageId.rawValue),
                    \(bind: campaign.state.rawValue), \(bind: try JSONColumn.encode(campaign)), \(bind: campaign.updatedAt.millis), \(bind: campaign.version))
            """).run()
    }

    func update(_ campaign: Campaign) async throws {
        let changed = try await db.raw("""
            UPDATE update_campaigns SET state = \(bind: campaign.state.rawValue), body = \(bind: try JSONColumn.encode(campaign)),
                updated_at = \(bind: campaign.updatedAt.millis), version = \(bind: campaign.version)
            WHERE id = \(bind: campaign.id.rawValue) AND version = \(bind: campaign.version - 1) RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("the campaign was changed by someone else; reload it") }
    }

    func find(_ id: CampaignID) async throws -> Campaign? {
        try await db.raw("SELECT body FROM update_campaigns WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func list(visibleTo path: String, state: CampaignState?, page: PageRequest) async throws -> Page<Campaign> {
        try await visiblePage(db, table: "update_campaigns", path: path, equal: state.map { ("state", $0.rawValue) }, page: page,
                              decode: Self.decode) { $0.id.rawValue }
    }

    func live() async throws -> [(campaign: Campaign, orgPath: String)] {
        let states = [CampaignState.running, .completed, .rolledBack].map(\.rawValue)
        return try await db.raw("SELECT body, org_path FROM update_campaigns WHERE state IN (\(binds: states)) ORDER BY id").all().map {
            (try Self.decode($0), try $0.decode(column: "org_path", as: String.self))
        }
    }

    func record(_ result: InstallResult) async throws -> Bool {
        // ON CONFLICT rather than catching the duplicate: on PostgreSQL a failed statement aborts the transaction.
        let stored = try await db.raw("""
            INSERT INTO campaign_results (campaign_id, terminal_id, package_id, stage, outcome, detail, reported_at)
            VALUES (\(bind: result.campaignId.rawValue), \(bind: result.terminalId.rawValue), \(bind: result.packageId.rawValue), \(bind: result.stage),
                    \(bind: result.outcome.rawValue), \(bind: result.detail), \(bind: result.reportedAt.millis))
            ON CONFLICT (campaign_id, package_id, terminal_id) DO NOTHING RETURNING terminal_id
            """).all()
        return !stored.isEmpty
    }

    func results(of campaign: CampaignID, since: Date) async throws -> [InstallResult] {
        try await db.raw("""
            SELECT * FROM campaign_results WHERE campaign_id = \(bind: campaign.rawValue) AND reported_at >= \(bind: max(0, since.millis))
            ORDER BY reported_at
            """).all().map { row in
            InstallResult(campaignId: CampaignID(rawValue: try row.decode(column: "campaign_id", as: String.self)),
                          terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
                          packageId: PackageID(rawValue: try row.decode(column: "package_id", as: String.self)),
                          stage: try row.decode(column: "stage", as: Int.self), outcome: try row.enumValue("outcome", as: InstallOutcome.self),
                          detail: try row.decode(column: "detail", as: String?.self), reportedAt: try row.requiredDate("reported_at"))
        }
    }

    func recordOffers(_ offers: [OfferRecord]) async throws {
        for start in stride(from: 0, to: offers.count, by: Self.batch) {
            var query: SQLQueryString = "INSERT INTO campaign_offers (campaign_id, terminal_id, package_id, stage, offered_at) VALUES "
            for (index, offer) in offers[start..<min(start + Self.batch, offers.count)].enumerated() {
                if index > 0 { query += ", " }
                query += """
                    (\(bind: offer.campaignId.rawValue), \(bind: offer.terminalId.rawValue), \(bind: offer.packageId.rawValue), \(bind: offer.stage),
                    \(bind: offer.offeredAt.millis))
                    """
            }
            query += " ON CONFLICT (campaign_id, package_id, terminal_id) DO NOTHING"
            try await db.raw(query).run()
        }
    }

    func offerCounts(of campaign: CampaignID, package: PackageID) async throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for row in try await db.raw("""
            SELECT stage, COUNT(*) AS n FROM campaign_offers WHERE campaign_id = \(bind: campaign.rawValue) AND package_id = \(bind: package.rawValue)
            GROUP BY stage
            """).all() {
            counts[try row.decode(column: "stage", as: Int.self)] = try row.decode(column: "n", as: Int.self)
        }
        return counts
    }

    func stageMetrics(of campaign: CampaignID, package: PackageID, observation: TimeInterval, now: Date) async throws -> [Int: StageMetrics] {
        var metrics: [Int: StageMetrics] = [:]
        for row in try await db.raw("""
            SELECT stage, SUM(CASE WHEN outcome = 'installed' THEN 1 ELSE 0 END) AS installed,
                SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed
            FROM campaign_results WHERE campaign_id = \(bind: campaign.rawValue) AND package_id = \(bind: package.rawValue) GROUP BY stage
            """).all() {
            metrics[try row.decode(column: "stage", as: Int.self)] = StageMetrics(installed: try row.decode(column: "installed", as: Int.self),
                                                                                 failed: try row.decode(column: "failed", as: Int.self))
        }
        // Each installed terminal's transactions in the time since installing (at most the observation
        // period) against the same length just before: equal periods, so the rates compare fairly.
        let period = Int64(observation * 1000), nowMillis = now.millis
        let span: SQLQueryString = """
            (CASE WHEN r.reported_at + \(bind: period) <= \(bind: nowMillis) THEN \(bind: period) ELSE \(bind: nowMillis) - r.reported_at END)
            """
        var query: SQLQueryString = """
            SELECT r.stage AS stage,
                SUM(CASE WHEN x.at < r.reported_at THEN 1 ELSE 0 END) AS attempted_before,
                SUM(CASE WHEN x.at < r.reported_at AND x.approved = 1 THEN 1 ELSE 0 END) AS approved_before,
                SUM(CASE WHEN x.at >= r.reported_at THEN 1 ELSE 0 END) AS attempted_after,
                SUM(CASE WHEN x.at >= r.reported_at AND x.approved = 1 THEN 1 ELSE 0 END) AS approved_after
            FROM campaign_results r JOIN terminal_transactions x ON x.terminal_id = r.terminal_id
            """
        query += " AND x.at >= r.reported_at - \(span) AND x.at < r.reported_at + \(span)"
        query += """
             WHERE r.campaign_id = \(bind: campaign.rawValue) AND r.package_id = \(bind: package.rawValue) AND r.outcome = 'installed'
            GROUP BY r.stage
            """
        for row in try await db.raw(query).all() {
            let stage = try row.decode(column: "stage", as: Int.self)
            var entry = metrics[stage] ?? StageMetrics()
            entry.attemptedBefore = try row.decode(column: "attempted_before", as: Int.self)
            entry.approvedBefore = try row.decode(column: "approved_before", as: Int.self)
            entry.attemptedAfter = try row.decode(column: "attempted_after", as: Int.self)
            entry.approvedAfter = try row.decode(column: "approved_after", as: Int.self)
            metrics[stage] = entry
        }
        return metrics
    }

    func candidates(under path: String, target: CampaignTarget, after: TerminalID?, limit: Int) async throws -> [Terminal] {
        let subtree = Subtree(path)
        var query: SQLQueryString = """
            SELECT * FROM terminals WHERE owner_path >= \(bind: subtree.lower) AND owner_path < \(bind: subtree.upper)
            AND state IN (\(binds: target.states.map(\.rawValue)))
            """
        if !target.modelIds.isEmpty { query += " AND model_id IN (\(binds: target.modelIds.map(\.rawValue)))" }
        if let merchant = target.merchantId { query += " AND merchant_id = \(bind: merchant.rawValue)" }
        if let after { query += " AND id > \(bind: after.rawValue)" }
        query += " ORDER BY id LIMIT \(bind: limit)"
        return try await db.raw(query).all().map(SQLTerminalRepository.decode)
    }

    static func decode(_ row: any SQLRow) throws -> Campaign {
        try JSONColumn.decode(Campaign.self, from: try row.decode(column: "body", as: String.self))
    }
}

/// Terminals with model and latest status for the compliance report.
struct SQLComplianceRepository: ComplianceRepository {
    let db: any SQLDatabase

    func rows(visibleUnder path: String, states: [TerminalState], after: String?, limit: Int) async throws -> [ComplianceRow] {
        let subtree = Subtree(path)
        var query: SQLQueryString = """
            SELECT t.*, s.last_seen_at AS status_seen_at, s.body AS status_body FROM terminals t
            LEFT JOIN terminal_status s ON s.terminal_id = t.id
            WHERE ((t.owner_path >= \(bind: subtree.lower) AND t.owner_path < \(bind: subtree.upper))
                OR (t.merchant_path >= \(bind: subtree.lower) AND t.merchant_path < \(bind: subtree.upper)))
            AND t.state IN (\(binds: states.map(\.rawValue)))
            """
        if let after { query += " AND t.id > \(bind: after)" }
        query += " ORDER BY t.id LIMIT \(bind: limit)"
        let rows = try await db.raw(query).all()
        let models = SQLTerminalModelRepository(db: db)
        var known: [ModelID: TerminalModel] = [:]
        var result: [ComplianceRow] = []
        for row in rows {
            let terminal = try SQLTerminalRepository.decode(row)
            if known[terminal.modelId] == nil { known[terminal.modelId] = try await models.find(terminal.modelId) }
            guard let model = known[terminal.modelId] else { continue }
            let status = try row.decode(column: "status_body", as: String?.self).flatMap { try? JSONColumn.decode(TerminalStatus.self, from: $0) }
            result.append(ComplianceRow(terminal: terminal, model: model, lastSeenAt: try row.date("status_seen_at"),
                                        appVersion: status?.heartbeat.appVersion ?? terminal.appVersion,
                                        firmwareVersion: status?.heartbeat.firmwareVersion ?? terminal.firmwareVersion))
        }
        return result
    }
}
