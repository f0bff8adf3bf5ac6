import Foundation

/// What a register upload is priced and checked with, recently read: stores and merchants, register
/// settings, products, and each merchant's promotions that have not ended. A till posting sale
/// after sale then reads only what changes with every sale (the id check, the shift). The register's
/// catalog lookups (scan, search) find the caller's store and merchant here too.
///
/// Like `TokenCache`: an entry lives `lifetime` (2 s) at most, so a change made by another server
/// node on the same PostgreSQL database, or by the command line on the same SQLite file, is used
/// within that. A change made through this process's services (a product or price edit or import,
/// a promotion created or changed, register settings saved, an organisation changed) empties the
/// cache at once (`removeAll`), and a reading that started before such a change is never stored
/// after it. Only what was found is kept (an unknown id is read again every time).
///
/// Promotions are kept per merchant as the list not yet ended at the reading's instant (running
/// and scheduled); a sale picks those running at its own instant, so a window opening or closing
/// within the lifetime is honoured exactly. A sale dated outside that span (an offline upload) reads
/// the database.
public final class SaleContextCache: @unchecked Sendable {
    /// How long a reading is trusted.
    static let lifetime: UInt64 = 2_000_000_000
    /// Most entries of one kind; beyond it that kind starts afresh.
    static let capacity = 50_000

    private struct Entry<Value> {
        let value: Value
        /// Monotonic time of the reading (`DispatchTime` nanoseconds).
        let readAt: UInt64
    }

    private struct Promotions {
        /// Not ended at `from` (service clock), ordered by id as `running` orders them.
        let live: [Promotion]
        let from: Date
    }

    // `@unchecked Sendable`: every dictionary and `generation` are touched only under `lock`.
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var orgs: [OrgID: Entry<Organization>] = [:]
    private var settings: [OrgID: Entry<RegisterSettings?>] = [:]
    private var products: [ProductID: Entry<Product>] = [:]
    private var promotions: [OrgID: Entry<Promotions>] = [:]

    public init() {}

    /// Forgets everything (after a change to what a sale is priced with).
    public func removeAll() {
        lock.withLock {
            generation &+= 1
            orgs = [:]
            settings = [:]
            products = [:]
            promotions = [:]
        }
    }

    /// An organisation by id.
    func org(_ id: OrgID, repos: any Repositories) async throws -> Organization? {
        let (cached, generation) = lookup { $0.orgs[id] }
        if let cached { return cached }
        guard let org = try await repos.orgs.find(id) else { return nil }
        keep(generation) { $0.orgs[id] = Entry(value: org, readAt: $1) }
        return org
    }

    /// A store's register settings (nil: the store has none saved, so the defaults apply).
    func settings(store: OrgID, repos: any Repositories) async throws -> RegisterSettings? {
        let (cached, generation) = lookup { $0.settings[store] }
        if let cached { return cached }
        let found = try await repos.registerSettings.find(store: store)
        keep(generation) { $0.settings[store] = Entry(value: found, readAt: $1) }
        return found
    }

    /// The products of `ids` that exist (in no particular order).
    func products(_ ids: [ProductID], repos: any Repositories) async throws -> [Product] {
        let now = DispatchTime.now().uptimeNanoseconds
        let (known, generation) = lock.withLock { () -> ([Product], UInt64) in
            (ids.compactMap { id in products[id].flatMap { now &- $0.readAt < Self.lifetime ? $0.value : nil } }, self.generation)
        }
        let missing = Array(Set(ids).subtracting(known.map(\.id)))
        guard !missing.isEmpty else { return known }
        let read = try await repos.products.find(ids: missing)
        keep(generation) { state, at in
            for product in read { state.products[product.id] = Entry(value: product, readAt: at) }
        }
        return known + read
    }

    /// A merchant's promotions running at `at` (by their start and end), ordered by id.
    func running(merchant: OrgID, at: Date, now: Date, repos: any Repositories) async throws -> [Promotion] {
        let span = Double(Self.lifetime) / 1e9
        // Only instants from the reading's on are answered from it: an older sale reads the database.
        guard at >= now.addingTimeInterval(-span) else { return try await repos.promotions.running(merchant: merchant, at: at) }
        let (cached, generation) = lookup { state -> Entry<Promotions>? in
            guard let entry = state.promotions[merchant], at >= entry.value.from, at < entry.value.from.addingTimeInterval(span) else { return nil }
            return entry
        }
        let list: Promotions
        if let cached {
            list = cached
        } else {
            let from = min(at, now)
            list = Promotions(live: try await repos.promotions.live(merchant: merchant, at: from), from: from)
            keep(generation) { $0.promotions[merchant] = Entry(value: list, readAt: $1) }
        }
        let instant = EpochMillis.from(at)
        return list.live.filter { promotion in
            (promotion.window.startsAt.map { EpochMillis.from($0) <= instant } ?? true)
                && (promotion.window.endsAt.map { EpochMillis.from($0) > instant } ?? true)
        }
    }

    /// A fresh entry picked by `pick`, and the generation a reading made now must be stored under.
    private func lookup<Value>(_ pick: (SaleContextCache) -> Entry<Value>?) -> (Value?, UInt64) {
        let now = DispatchTime.now().uptimeNanoseconds
        return lock.withLock {
            guard let entry = pick(self), now &- entry.readAt < Self.lifetime else { return (nil, generation) }
            return (entry.value, generation)
        }
    }

    /// Stores a reading taken under `generation`, unless the cache was emptied meanwhile. A dictionary
    /// that reached `capacity` is emptied first (entries live 2 s, so this only bounds a burst).
    private func keep(_ generation: UInt64, _ store: (SaleContextCache, UInt64) -> Void) {
        let at = DispatchTime.now().uptimeNanoseconds
        lock.withLock {
            guard generation == self.generation else { return }
            if orgs.count >= Self.capacity { orgs = [:] }
            if settings.count >= Self.capacity { settings = [:] }
            if products.count >= Self.capacity { products = [:] }
            if promotions.count >= Self.capacity { promotions = [:] }
            store(self, at)
        }
    }
}
