import Foundation

/// Why a terminal is on the compliance report.
public enum ComplianceIssue: String, Codable, Sendable, CaseIterable {
    case appBelowMinimum = "app_below_minimum"
    case firmwareBelowMinimum = "firmware_below_minimum"
    /// Its model has no UnionPay certification on record.
    case modelUncertified = "model_uncertified"
    /// Its model's PCI PTS approval has expired.
    case modelExpired = "model_expired"
    /// Not heard from for longer than the limit.
    case silent
    /// Never sent a heartbeat.
    case neverSeen = "never_seen"
}

/// One terminal as the compliance scan reads it.
public struct ComplianceRow: Sendable, Equatable {
    public var terminal: Terminal
    public var model: TerminalModel
    public var lastSeenAt: Date?
    /// Versions from the latest heartbeat (the dossier's when it said nothing).
    public var appVersion: String?
    public var firmwareVersion: String?

    public init(terminal: Terminal, model: TerminalModel, lastSeenAt: Date?, appVersion: String?, firmwareVersion: String?) {
        self.terminal = terminal
        self.model = model
        self.lastSeenAt = lastSeenAt
        self.appVersion = appVersion
        self.firmwareVersion = firmwareVersion
    }
}

/// The report's conditions.
public struct ComplianceCriteria: Sendable, Equatable {
    public var minimumApp: String?
    public var minimumFirmware: String?
    /// Silent for more than this many days.
    public var silentDays: Int

    public init(minimumApp: String? = nil, minimumFirmware: String? = nil, silentDays: Int = 7) {
        self.minimumApp = minimumApp
        self.minimumFirmware = minimumFirmware
        self.silentDays = silentDays
    }
}

/// A terminal that fails a condition, and which ones.
public struct ComplianceFinding: Sendable, Equatable {
    public var row: ComplianceRow
    public var issues: [ComplianceIssue]
}

/// One page of the report: what was found among the terminals scanned, and where to go on.
public struct ComplianceReport: Sendable, Equatable {
    public var findings: [ComplianceFinding]
    public var scanned: Int
    /// Counts per issue over the scanned terminals.
    public var counts: [ComplianceIssue: Int]
    /// Continue the scan after this terminal id (nil when it reached the end).
    public var nextCursor: String?
}

/// Terminals with their model and latest status, for the compliance scan.
public protocol ComplianceRepository: Sendable {
    /// Terminals visible under `path` (owner or merchant side) in the given states, by id after `after`.
    func rows(visibleUnder path: String, states: [TerminalState], after: String?, limit: Int) async throws -> [ComplianceRow]
}

/// The version compliance report. Pure rules plus a bounded scan.
public struct ComplianceService: Sendable {
    public let store: any Persistence
    public let clock: Clock

    public init(store: any Persistence, clock: Clock = .system) {
        self.store = store
        self.clock = clock
    }

    /// Terminals scanned per request at most: the report pages through the estate rather than holding it.
    public static let scanLimit = 5000

    /// The issues of one terminal at `now`.
    public static func issues(_ row: ComplianceRow, criteria: ComplianceCriteria, now: Date) -> [ComplianceIssue] {
        var found: [ComplianceIssue] = []
        if let minimum = criteria.minimumApp, row.appVersion.map({ SoftwareVersions.isBelow($0, minimum) }) ?? true { found.append(.appBelowMinimum) }
        if let minimum = criteria.minimumFirmware, row.firmwareVersion.map({ SoftwareVersions.isBelow($0, minimum) }) ?? true {
            found.append(.firmwareBelowMinimum)
        }
        switch row.model.certification(at: now) {
        case .ptsExpired: found.append(.modelExpired)
        case .notUnionPayCertified: found.append(.modelUncertified)
        case .valid: break
        }
        if !row.model.unionPayCertified, !found.contains(.modelUncertified) { found.append(.modelUncertified) }
        if let seen = row.lastSeenAt {
            if now.timeIntervalSince(seen) > TimeInterval(criteria.silentDays) * 86_400 { found.append(.silent) }
        } else {
            found.append(.neverSeen)
        }
        return found
    }

    /// Scans up to `scanLimit` terminals of the caller's subtree (bound, installed, in service) after
    /// `cursor` and returns at most `limit` findings; the cursor goes on from the last terminal read.
    public func report(_ criteria: ComplianceCriteria, limit: Int = 100, cursor: String? = nil, by principal: Principal) async throws -> ComplianceReport {
        try principal.require(.estateRead)
        var checked = criteria
        checked.minimumApp = try criteria.minimumApp.flatMap { EstateService.optionalText($0) }.map { try SoftwareVersions.validated($0, field: "minApp") }
        checked.minimumFirmware = try criteria.minimumFirmware.flatMap { EstateService.optionalText($0) }
            .map { try SoftwareVersions.validated($0, field: "minFirmware") }
        guard (1...3650).contains(criteria.silentDays) else { throw DomainError.invalid("silentDays", "must be from 1 to 3650") }
        guard (1...500).contains(limit) else { throw DomainError.invalid("limit", "must be from 1 to 500") }
        let now = clock.now()
        let path = principal.orgPath
        let criteria = checked
        return try await store.read { repos in
            var findings: [ComplianceFinding] = []
            var counts: [ComplianceIssue: Int] = [:]
            var scanned = 0
            var after = cursor
            while scanned < Self.scanLimit {
                let rows = try await repos.compliance.rows(visibleUnder: path, states: CampaignTarget.defaultStates, after: after, limit: 500)
                for row in rows {
                    scanned += 1
                    after = row.terminal.id.rawValue
                    let issues = Self.issues(row, criteria: criteria, now: now)
                    for issue in issues { counts[issue, default: 0] += 1 }
                    if !issues.isEmpty { findings.append(ComplianceFinding(row: row, issues: issues)) }
                    if findings.count == limit {
                        return ComplianceReport(findings: findings, scanned: scanned, counts: counts, nextCursor: after)
                    }
                }
                if rows.count < 500 { return ComplianceReport(findings: findings, scanned: scanned, counts: counts, nextCursor: nil) }
            }
            return ComplianceReport(findings: findings, scanned: scanned, counts: counts, nextCursor: after)
        }
    }
}
