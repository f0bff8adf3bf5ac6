import Foundation

/// Reports and dashboards, read from the rollups the sales and the terminal uploads keep in their own
/// transactions (never from history): merchant statistics (permission `reports.sales`: money), the
/// acquirer's transaction figures (`reports.sales`) and the fleet dashboard (`reports.fleet`: no money).
/// Everything is scoped to the caller's subtree.
public struct ReportsService: Sendable {
    public let store: any Persistence
    public let clock: Clock
    /// A terminal heard from within this long is online (the fleet's threshold).
    public let onlineThreshold: TimeInterval

    public init(store: any Persistence, clock: Clock = .system, onlineThreshold: TimeInterval = 180) {
        self.store = store
        self.clock = clock
        self.onlineThreshold = onlineThreshold
    }

    /// Today as a business day.
    public var today: Int { RiskClock.day(of: clock.now()) }

    // MARK: Merchant statistics

    /// Sales of the caller's stores (or one store) over a range broken down by `by`, with the previous
    /// range of the same length, the total and the top 10 products.
    public func sales(by dimension: SalesReportDimension, range: ReportRange, storeId: OrgID?, principal: Principal) async throws -> SalesReport {
        try principal.require(.reportsSales)
        return try await store.read { repos in
            var path = principal.orgPath
            if let storeId {
                guard let org = try await repos.orgs.find(storeId), org.kind == .store, principal.sees(path: org.path) else {
                    throw DomainError.notFound(resource: "store", id: storeId.rawValue)
                }
                path = org.path
            }
            let (source, grouping) = dimension.source
            let current = try await repos.reports.sales(under: path, dimension: source, grouping: grouping, range: range)
            let earlier = try await repos.reports.sales(under: path, dimension: source, grouping: grouping, range: range.previous)
            var previous: [String: SalesFigures] = [:]
            for row in earlier {
                // Days compare with the day at the same offset in the previous range.
                let key = grouping == .day ? Int(row.key).map { String($0 + range.days) } ?? row.key : row.key
                previous[key] = row.figures
            }
            var labels: [String: String] = [:]
            if grouping == .store { labels = try await repos.reports.names(of: current.map(\.key)) }
            var rows = current.map { row in
                SalesReportRow(key: grouping == .day ? Int(row.key).map(ReportDay.text) ?? row.key : row.key,
                               label: grouping == .day ? Int(row.key).map(ReportDay.text) ?? row.label : labels[row.key] ?? row.label,
                               figures: row.figures, previous: previous[row.key])
            }
            if dimension != .day, dimension != .hour { rows.sort { ($0.net, $1.key) > ($1.net, $0.key) } }
            let totals = try await repos.reports.sales(under: path, dimension: .total, grouping: .key, range: range).first?.figures ?? SalesFigures()
            let before = try await repos.reports.sales(under: path, dimension: .total, grouping: .key, range: range.previous).first?.figures
            let products = dimension == .product ? current
                : try await repos.reports.sales(under: path, dimension: .product, grouping: .key, range: range)
            let top = products.sorted { ($0.figures.net, $1.key) > ($1.figures.net, $0.key) }.prefix(10).map {
                SalesReportRow(key: $0.key, label: $0.label, figures: $0.figures, previous: nil)
            }
            return SalesReport(by: dimension, from: ReportDay.text(range.from), to: ReportDay.text(range.to),
                               previousFrom: ReportDay.text(range.previous.from), previousTo: ReportDay.text(range.previous.to), storeId: storeId,
                               rows: rows, total: SalesReportRow(key: "total", label: "total", figures: totals, previous: before), topProducts: Array(top))
        }
    }

    // MARK: Acquirer dashboard

    /// Terminal transactions of the caller's subtree over a range by day, region (the organisations one
    /// level below the caller) or merchant (largest amount first, at most `limit`).
    public func transactions(by dimension: TransactionReportDimension, range: ReportRange, limit: Int = 100, principal: Principal) async throws
        -> TransactionReport {
        try principal.require(.reportsSales)
        guard (1...1000).contains(limit) else { throw DomainError.invalid("limit", "must be from 1 to 1000") }
        return try await store.read { try await Self.transactions(by: dimension, range: range, limit: limit, principal: principal, repos: $0) }
    }

    /// The dashboard's three transaction reports (by day, by region, the top `limit` merchants) in one read.
    public func transactionOverview(range: ReportRange, limit: Int = 10, principal: Principal) async throws
        -> (byDay: TransactionReport, byRegion: TransactionReport, byMerchant: TransactionReport) {
        try principal.require(.reportsSales)
        guard (1...1000).contains(limit) else { throw DomainError.invalid("limit", "must be from 1 to 1000") }
        // Three reads at once (each its own connection: SQLite's WAL readers, PostgreSQL's pool): the
        // dashboard waits for the slowest, not the sum.
        let store = self.store
        async let byDay = store.read { try await Self.transactions(by: .day, range: range, limit: limit, principal: principal, repos: $0) }
        async let byRegion = store.read { try await Self.transactions(by: .region, range: range, limit: limit, principal: principal, repos: $0) }
        async let byMerchant = store.read { try await Self.transactions(by: .merchant, range: range, limit: limit, principal: principal, repos: $0) }
        return (try await byDay, try await byRegion, try await byMerchant)
    }

    static func transactions(by dimension: TransactionReportDimension, range: ReportRange, limit: Int, principal: Principal,
                             repos: any Repositories) async throws -> TransactionReport {
        let path = principal.orgPath
        var rows: [TransactionReportRow] = []
        var total = TransactionFigures()
        switch dimension {
        case .day:
            for entry in try await repos.reports.transactionTotals(under: path, range: range, grouping: .day) {
                total += entry.figures
                let day = ReportDay.text(Int(entry.key) ?? 0)
                rows.append(TransactionReportRow(key: day, label: day, figures: entry.figures))
            }
        case .region:
            var grouped: [String: TransactionFigures] = [:]
            for entry in try await repos.reports.transactionTotals(under: path, range: range, grouping: .path) {
                total += entry.figures
                grouped[Self.child(of: entry.key, below: path), default: TransactionFigures()] += entry.figures
            }
            let names = try await repos.reports.names(of: Array(grouped.keys))
            rows = grouped.sorted { ($0.value.amount, $1.key) > ($1.value.amount, $0.key) }.map {
                TransactionReportRow(key: $0.key, label: names[$0.key] ?? $0.key, figures: $0.value)
            }
        case .merchant:
            total = try await repos.reports.transactionTotals(under: path, range: range, grouping: .all).first?.figures ?? TransactionFigures()
            let top = try await repos.reports.transactionMerchants(under: path, range: range, limit: limit)
            let names = try await repos.reports.names(of: top.map(\.merchantId).filter { !$0.isEmpty })
            rows = top.map { TransactionReportRow(key: $0.merchantId, label: names[$0.merchantId] ?? $0.merchantId, figures: $0.figures) }
        }
        return TransactionReport(by: dimension, from: ReportDay.text(range.from), to: ReportDay.text(range.to), rows: rows,
                                 total: TransactionReportRow(key: "total", label: "total", figures: total))
    }

    /// The organisation one level below `parent` on the way to `path` (the region a path rolls up to);
    /// `path`'s own last organisation when it is `parent` itself.
    static func child(of path: String, below parent: String) -> String {
        let rest = path.hasPrefix(parent) ? path.dropFirst(parent.count) : Substring(path)
        if let first = rest.split(separator: "/").first { return String(first) }
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The fleet dashboard of the caller's subtree: terminals by state / model / region / version, the
    /// online share, activations over `days` days, open alerts by severity, ticket SLA figures.
    public func estate(days: Int = 90, principal: Principal) async throws -> EstateDashboard {
        try principal.require(.reportsFleet)
        guard (1...ReportRange.maxDays).contains(days) else { throw DomainError.invalid("days", "must be from 1 to \(ReportRange.maxDays)") }
        let now = clock.now()
        let from = today - days + 1
        let store = self.store, path = principal.orgPath, threshold = onlineThreshold
        // Three reads at once, as in `transactionOverview`: the terminal groups, the presence, the rest.
        async let grouped = store.read { repos -> (EstateGroups, [String: Int], [String: String]) in
            let estate = try await repos.reports.estate(under: path)
            var regions: [String: Int] = [:]
            for owner in estate.owners { regions[Self.child(of: owner.path, below: path), default: 0] += owner.count }
            return (estate, regions, try await repos.reports.names(of: Array(regions.keys)))
        }
        async let presence = store.read { try await $0.fleetOps.presence(under: path, onlineSince: now.addingTimeInterval(-threshold)) }
        async let rest = store.read { repos in
            (try await repos.reports.activations(under: path, since: RiskClock.start(ofDay: from)), try await repos.reports.openAlerts(under: path),
             try await repos.reports.tickets(under: path, at: now))
        }
        let (estate, regions, names) = try await grouped
        let (activated, alerts, tickets) = try await rest
        let present = try await presence
        var states: [String: Int] = [:], models: [String: (String, Int)] = [:], versions: [String: Int] = [:]
        for group in estate.groups {
            states[group.state, default: 0] += group.count
            models[group.modelId, default: (group.modelName, 0)].1 += group.count
            versions[group.appVersion ?? "", default: 0] += group.count
        }
        func counts(_ values: [String: Int], label: (String) -> String) -> [ReportCount] {
            values.map { ReportCount(key: $0.key, label: label($0.key), count: $0.value) }.sorted { ($0.count, $1.key) > ($1.count, $0.key) }
        }
        let deployed = present.reduce(0) { $0 + $1.deployed }, online = present.reduce(0) { $0 + $1.online }
        return EstateDashboard(
            terminals: estate.groups.reduce(0) { $0 + $1.count }, byState: counts(states) { $0 },
            byModel: models.map { ReportCount(key: $0.key, label: $0.value.0, count: $0.value.1) }.sorted { ($0.count, $1.key) > ($1.count, $0.key) },
            byRegion: counts(regions) { names[$0] ?? $0 }, byVersion: counts(versions) { $0 },
            deployed: deployed, online: online,
            onlineRatio: deployed == 0 ? nil : (Double(online) * 1000 / Double(deployed)).rounded() / 10,
            activationsFrom: ReportDay.text(from),
            activations: (from...today).map { ReportCount(key: ReportDay.text($0), label: ReportDay.text($0), count: activated[$0] ?? 0) },
            openAlerts: RiskSeverity.allCases.reversed().map { ReportCount(key: $0.rawValue, label: $0.rawValue, count: alerts[$0.rawValue] ?? 0) },
            tickets: tickets)
    }

    // MARK: Rebuild

    /// Rebuilds the rollups of the whole installation (`tillyard reports rebuild`), audited. Only for
    /// people at the top of a tree holding both report permissions (administrators): the rollups are shared.
    public func rebuild(by principal: Principal) async throws -> Int {
        try principal.require(.reportsSales)
        try principal.require(.reportsFleet)
        guard principal.orgPath.split(separator: "/").count == 1 else {
            throw DomainError.forbidden("the report rollups are rebuilt from the top of the organisation tree")
        }
        let now = clock.now()
        return try await store.write { repos in
            let replayed = try await Self.rebuild(repos)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.rootId, actor: principal.actor, action: "reports.rebuild", resourceType: "reports", resourceId: "rollups",
                           origin: principal.origin, summary: ["replayed": String(replayed)]),
                orgPath: principal.orgPath, at: now)
            return replayed
        }
    }

    /// Rebuilds every rollup from stored history in the caller's transaction: the transaction rollups
    /// in SQL, the sales rollup by replaying each completed sale and refund through `SalesRollup`
    /// (costs and categories as the catalog has them now). Returns the documents replayed.
    @discardableResult
    public static func rebuild(_ repos: any Repositories) async throws -> Int {
        try await repos.reports.rebuildTransactions()
        try await repos.reports.clearSales()
        var merged: [String: SalesRollupDelta] = [:]
        var order: [String] = []
        var paths: [OrgID: String] = [:]
        var products: [ProductID: Product] = [:]
        var cursor: String?
        var replayed = 0
        repeat {
            let page = try await repos.sales.list(under: "/", filter: SaleFilter(status: .completed), page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor))
            let missing = Set(page.items.flatMap { $0.lines.map(\.productId) }).filter { products[$0] == nil }
            for product in try await repos.products.find(ids: Array(missing)) { products[product.id] = product }
            for sale in page.items {
                if paths[sale.storeId] == nil { paths[sale.storeId] = try await repos.orgs.find(sale.storeId)?.path ?? "" }
                // Newest first: the first label seen for a key is the latest, as the write path leaves it.
                for delta in SalesRollup.deltas(of: sale, storePath: paths[sale.storeId] ?? "", products: products) {
                    let key = "\(delta.day)\u{1F}\(delta.storeId.rawValue)\u{1F}\(delta.dimension.rawValue)\u{1F}\(delta.key)"
                    if var known = merged[key] {
                        known.figures += delta.figures
                        merged[key] = known
                    } else {
                        merged[key] = delta
                        order.append(key)
                    }
                }
                replayed += 1
            }
            cursor = page.nextCursor
        } while cursor != nil
        let deltas = order.compactMap { merged[$0] }
        for start in stride(from: 0, to: deltas.count, by: 100) {
            try await repos.reports.addSales(Array(deltas[start..<min(deltas.count, start + 100)]))
        }
        return replayed
    }
}
