import Foundation

/// A promotion as the merchant keeps it: the engine's `Promotion` plus whose it is, who made it and
/// its version. A promotion that has started is never edited (past sales were priced by it); it is
/// ended, which sets its window's end, and a new one is made.
public struct PromotionRecord: Codable, Sendable, Equatable {
    public var promotion: Promotion
    public var merchantId: OrgID
    /// Username of the person who made it (through the console, the API or a token).
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
    /// When someone ended it before its planned end.
    public var endedAt: Date?
    public var version: Int

    public init(promotion: Promotion, merchantId: OrgID, createdBy: String, createdAt: Date, updatedAt: Date, endedAt: Date? = nil, version: Int = 1) {
        self.promotion = promotion
        self.merchantId = merchantId
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.endedAt = endedAt
        self.version = version
    }

    /// Where the promotion stands at an instant (weekday and hour limits aside).
    public func status(at now: Date) -> PromotionStatus {
        if let endsAt = promotion.window.endsAt, endsAt <= now { return .ended }
        if let startsAt = promotion.window.startsAt, startsAt > now { return .scheduled }
        return .running
    }
}

/// Scheduled (not started), running (inside its dates), or ended.
public enum PromotionStatus: String, Codable, Sendable, CaseIterable {
    case scheduled, running, ended
}

/// What a merchant fills in for a promotion; checked by `PromotionService`.
public struct PromotionInput: Sendable, Equatable {
    public var name: String
    public var rule: PromotionRule
    /// SKUs of the merchant's catalog; with `categories` empty too, the promotion covers everything.
    public var skus: [String]
    public var categories: [String]
    public var startsAt: Date?
    public var endsAt: Date?
    /// ISO weekdays 1 (Monday) … 7 (Sunday); nil for every day.
    public var weekdays: [Int]?
    /// Daily hours in the store's time zone, "18:00-22:00" (may pass midnight); nil for all day.
    public var hours: String?
    /// Stores of the merchant where it runs; nil or empty for all of them.
    public var storeIds: [OrgID]?
    public var membersOnly: Bool

    public init(name: String, rule: PromotionRule, skus: [String] = [], categories: [String] = [], startsAt: Date? = nil, endsAt: Date? = nil,
                weekdays: [Int]? = nil, hours: String? = nil, storeIds: [OrgID]? = nil, membersOnly: Bool = false) {
        self.name = name
        self.rule = rule
        self.skus = skus
        self.categories = categories
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.weekdays = weekdays
        self.hours = hours
        self.storeIds = storeIds
        self.membersOnly = membersOnly
    }
}

/// Storage of promotions: one JSON document per promotion, its dates as columns so the register's
/// lookup of what runs at an instant is one indexed query.
public protocol PromotionRepository: Sendable {
    func insert(_ record: PromotionRecord, orgPath: String) async throws
    /// Optimistic: `record.version` must be the stored version + 1; else `conflict`.
    func update(_ record: PromotionRecord) async throws
    func find(_ id: PromotionID) async throws -> PromotionRecord?
    /// A merchant's promotions, newest first; `status` filters by where they stand at `now`.
    func list(merchant: OrgID, status: PromotionStatus?, at now: Date, page: PageRequest) async throws -> Page<PromotionRecord>
    /// Promotions whose dates contain the instant (weekday, hour, store and member limits are the engine's).
    func running(merchant: OrgID, at: Date) async throws -> [Promotion]
    /// A merchant's promotions that have not ended at the instant (running or scheduled), ordered by id.
    func live(merchant: OrgID, at: Date) async throws -> [Promotion]
    /// How many of a merchant's promotions have not ended at the instant (running or scheduled).
    func liveCount(merchant: OrgID, at: Date) async throws -> Int
}

/// A merchant's promotions: made, changed before they start, ended; every change audited. Pricing
/// itself is `PricingEngine`'s; `SalesService` feeds it the promotions running when a sale was made.
public struct PromotionService: Sendable {
    public let store: any Persistence
    public let clock: Clock

    /// Emptied after every change to promotions, so the next sale reads them afresh (nil: none kept).
    let saleContext: SaleContextCache?

    public init(store: any Persistence, clock: Clock = .system, saleContext: SaleContextCache? = nil) {
        self.store = store
        self.clock = clock
        self.saleContext = saleContext
    }

    /// Most promotions a merchant may have running or scheduled at once (each sale prices against all of them).
    public static let maxLive = 500

    /// Makes a promotion in a merchant's catalog (the caller's own merchant when `merchantId` is nil).
    public func create(_ input: PromotionInput, merchantId: OrgID?, by principal: Principal) async throws -> PromotionRecord {
        try principal.require(.catalogManage)
        let now = clock.now()
        // Sales read promotions through a short-lived cache: forget it once this commits.
        defer { saleContext?.removeAll() }
        return try await store.write { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            if try await repos.promotions.liveCount(merchant: merchant.id, at: now) >= Self.maxLive {
                throw DomainError.conflict("the merchant already has \(Self.maxLive) running or scheduled promotions; end some first")
            }
            let promotion = try await Self.checked(input, id: .generate(now: now), merchant: merchant, repos: repos, now: now)
            let record = PromotionRecord(promotion: promotion, merchantId: merchant.id, createdBy: principal.user.username, createdAt: now, updatedAt: now)
            try await repos.promotions.insert(record, orgPath: merchant.path)
            try await Self.audit("promotion.create", record, merchant, principal, repos, now)
            return record
        }
    }

    /// Changes a promotion that has not started yet (optimistic: `expectedVersion` is the version read).
    public func update(_ id: PromotionID, _ input: PromotionInput, expectedVersion: Int, by principal: Principal) async throws -> PromotionRecord {
        try principal.require(.catalogManage)
        let now = clock.now()
        // Sales read promotions through a short-lived cache: forget it once this commits.
        defer { saleContext?.removeAll() }
        return try await store.write { repos in
            var (record, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            try Self.checkVersion(record, expectedVersion)
            guard record.status(at: now) == .scheduled else {
                throw DomainError.conflict("promotion \(record.promotion.name) has started, and sales were priced by it; end it and make a new one")
            }
            record.promotion = try await Self.checked(input, id: id, merchant: merchant, repos: repos, now: now)
            record.updatedAt = now
            record.version += 1
            try await repos.promotions.update(record)
            try await Self.audit("promotion.update", record, merchant, principal, repos, now)
            return record
        }
    }

    /// Ends a promotion now (a scheduled one never runs). Its record stays: past sales name it.
    public func end(_ id: PromotionID, expectedVersion: Int, by principal: Principal) async throws -> PromotionRecord {
        try principal.require(.catalogManage)
        let now = clock.now()
        // Sales read promotions through a short-lived cache: forget it once this commits.
        defer { saleContext?.removeAll() }
        return try await store.write { repos in
            var (record, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            try Self.checkVersion(record, expectedVersion)
            guard record.status(at: now) != .ended else { throw DomainError.conflict("promotion \(record.promotion.name) has already ended") }
            if let startsAt = record.promotion.window.startsAt, startsAt > now { record.promotion.window.startsAt = now }
            record.promotion.window.endsAt = now
            record.endedAt = now
            record.updatedAt = now
            record.version += 1
            try await repos.promotions.update(record)
            try await Self.audit("promotion.end", record, merchant, principal, repos, now)
            return record
        }
    }

    /// One promotion the caller can see.
    public func promotion(_ id: PromotionID, by principal: Principal) async throws -> PromotionRecord {
        try principal.require(.catalogRead)
        return try await store.read { try await Self.visible(id, repos: $0, principal: principal).0 }
    }

    /// A merchant's promotions, newest first, optionally only those scheduled, running or ended now.
    public func list(merchantId: OrgID?, status: PromotionStatus?, page: PageRequest, by principal: Principal) async throws -> Page<PromotionRecord> {
        try principal.require(.catalogRead)
        let now = clock.now()
        return try await store.read { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            return try await repos.promotions.list(merchant: merchant.id, status: status, at: now, page: page)
        }
    }

    // MARK: - Helpers

    /// The input made into an engine promotion: names, SKUs of this catalog, stores of this merchant, a sane window.
    static func checked(_ input: PromotionInput, id: PromotionID, merchant: Organization, repos: any Repositories, now: Date) async throws -> Promotion {
        let name = try AccessRules.text(input.name, field: "name", max: 60)
        guard input.skus.count <= 1000, input.categories.count <= 100 else {
            throw DomainError.invalid("skus", "a promotion names at most 1,000 SKUs and 100 categories")
        }
        var skus: Set<String> = []
        for (index, raw) in input.skus.enumerated() {
            let sku = try CatalogRules.sku(raw, field: "skus.\(index)")
            guard try await repos.products.find(merchant: merchant.id, sku: sku) != nil else {
                throw DomainError.invalid("skus.\(index)", "\(sku) is not in this merchant's catalog")
            }
            skus.insert(sku)
        }
        let categories = Set(try input.categories.enumerated().map { index, raw in
            try AccessRules.text(raw, field: "categories.\(index)", max: 60)
        })
        var stores: Set<OrgID>?
        if let ids = input.storeIds, !ids.isEmpty {
            for (index, storeId) in ids.enumerated() {
                guard let org = try await repos.orgs.find(storeId), org.kind == .store, org.parentId == merchant.id else {
                    throw DomainError.invalid("storeIds.\(index)", "\(storeId) is not a store of this merchant")
                }
            }
            stores = Set(ids)
        }
        let hours = try input.hours.flatMap { raw -> BusinessHours? in
            raw.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try BusinessHours.parse(raw, field: "hours")
        }
        if let endsAt = input.endsAt, endsAt <= now { throw DomainError.invalid("endsAt", "is in the past") }
        let promotion = Promotion(id: id, name: name, rule: input.rule, scope: PromotionScope(skus: skus, categories: categories),
                                  window: TimeWindow(startsAt: input.startsAt, endsAt: input.endsAt, weekdays: input.weekdays.map(Set.init),
                                                     hours: hours == .allDay ? nil : hours),
                                  stores: stores, membersOnly: input.membersOnly || input.rule == .memberPrice)
        try promotion.validate()
        return promotion
    }

    private static func checkVersion(_ record: PromotionRecord, _ expected: Int) throws {
        guard record.version == expected else {
            throw DomainError.conflict("the promotion was changed by someone else (version \(record.version)); reload it")
        }
    }

    /// A promotion and its merchant, if the caller may see that catalog.
    static func visible(_ id: PromotionID, repos: any Repositories, principal: Principal) async throws -> (PromotionRecord, Organization) {
        guard let record = try await repos.promotions.find(id), let merchant = try await repos.orgs.find(record.merchantId),
              principal.worksWith(path: merchant.path) else {
            throw DomainError.notFound(resource: "promotion", id: id.rawValue)
        }
        return (record, merchant)
    }

    private static func audit(_ action: String, _ record: PromotionRecord, _ merchant: Organization, _ principal: Principal,
                              _ repos: any Repositories, _ now: Date) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: merchant.id, actor: principal.actor, action: action, resourceType: "promotion",
                       resourceId: record.promotion.id.rawValue, origin: principal.origin,
                       summary: ["name": record.promotion.name, "rule": PromotionRules.describe(record.promotion.rule),
                                 "window": PromotionRules.describe(record.promotion.window)]),
            orgPath: merchant.path, at: now)
    }
}

/// Plain-language descriptions of promotions, for the audit trail and the console, and the rule
/// from its flat form (API body and console form alike).
public enum PromotionRules {
    /// The kinds of rule, as the API and the console name them.
    public static let kinds = ["percentOff", "amountOff", "fixedPrice", "buyXGetY", "memberPrice"]

    /// A rule from its kind and the number that kind needs: `basisPoints` for percentOff, `amount`
    /// (fen) for amountOff and fixedPrice, `buy` and `free` for buyXGetY.
    public static func rule(kind: String, basisPoints: Int?, amount: Int64?, buy: Int?, free: Int?) throws -> PromotionRule {
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw DomainError.invalid("rule.\(field)", "is required for a \(kind) promotion") }
            return value
        }
        switch kind {
        case "percentOff": return .percentOff(basisPoints: try need(basisPoints, "basisPoints"))
        case "amountOff": return .amountOff(fenPerUnit: try need(amount, "amount"))
        case "fixedPrice": return .fixedPrice(fenPerUnit: try need(amount, "amount"))
        case "buyXGetY": return .buyXGetY(buy: try need(buy, "buy"), free: try need(free, "free"))
        case "memberPrice": return .memberPrice
        default: throw DomainError.invalid("rule.kind", "must be one of \(kinds.joined(separator: ", "))")
        }
    }

    /// The rule's kind and numbers, the inverse of `rule(kind:…)`.
    public static func parts(_ rule: PromotionRule) -> (kind: String, basisPoints: Int?, amount: Int64?, buy: Int?, free: Int?) {
        switch rule {
        case .percentOff(let points): return ("percentOff", points, nil, nil, nil)
        case .amountOff(let fen): return ("amountOff", nil, fen, nil, nil)
        case .fixedPrice(let fen): return ("fixedPrice", nil, fen, nil, nil)
        case .buyXGetY(let buy, let free): return ("buyXGetY", nil, nil, buy, free)
        case .memberPrice: return ("memberPrice", nil, nil, nil, nil)
        }
    }

    /// "15% off", "¥1.00 off each", "at ¥9.90", "buy 2 get 1 free", "member price".
    public static func describe(_ rule: PromotionRule) -> String {
        switch rule {
        case .percentOff(let points):
            let whole = points / 100, part = points % 100
            return part == 0 ? "\(whole)% off" : "\(whole).\(part < 10 ? "0" : "")\(part)% off"
        case .amountOff(let fen): return "\(Money(minorUnits: fen)) off each"
        case .fixedPrice(let fen): return "at \(Money(minorUnits: fen))"
        case .buyXGetY(let buy, let free): return "buy \(buy) get \(free) free"
        case .memberPrice: return "member price"
        }
    }

    /// "always", or the dates, weekdays and hours it runs.
    public static func describe(_ window: TimeWindow) -> String {
        var parts: [String] = []
        let formatter = ISO8601DateFormatter()
        if let startsAt = window.startsAt { parts.append("from \(formatter.string(from: startsAt))") }
        if let endsAt = window.endsAt { parts.append("until \(formatter.string(from: endsAt))") }
        if let weekdays = window.weekdays { parts.append("weekdays \(weekdays.sorted().map(String.init).joined(separator: ","))") }
        if let hours = window.hours { parts.append("hours \(hours)") }
        return parts.isEmpty ? "always" : parts.joined(separator: " ")
    }
}
