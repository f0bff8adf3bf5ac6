import Foundation

/// API tokens recently resolved to a principal, so a register posting many sales does not read its
/// token, user and organisation (three queries) for every request.
///
/// An entry lives `lifetime` (2 s) at most: a token revoked, or a user disabled, by another server
/// node on the same PostgreSQL database is refused within that. A change made through this
/// process's `AccessService` (revoking a token, changing or resetting a user, renaming an
/// organisation) empties the cache at once, and a lookup that started before such a change never
/// stores its (older) reading afterwards. Only successful lookups are kept; the secret itself is
/// never held, only the stored SHA-256 it is checked against, exactly as on the database path.
/// Expiry is checked on every use with the service's clock.
final class TokenCache: @unchecked Sendable {
    struct Entry {
        var token: APIToken
        let user: User
        let org: Organization
        /// Monotonic time of the reading (`DispatchTime` nanoseconds), for the lifetime.
        let readAt: UInt64
    }

    /// How long a reading is trusted.
    static let lifetime: UInt64 = 2_000_000_000
    /// Most entries kept; beyond it the cache starts afresh (one entry per token in use).
    static let capacity = 10_000

    // `@unchecked Sendable`: `entries` and `generation` are touched only under `lock`.
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var generation: UInt64 = 0

    /// The generation to hand back to `store` with a reading taken after this call.
    func begin() -> UInt64 { lock.withLock { generation } }

    /// The fresh entry for a token prefix, if any.
    func entry(prefix: String) -> Entry? {
        let now = DispatchTime.now().uptimeNanoseconds
        return lock.withLock {
            guard let entry = entries[prefix], now &- entry.readAt < Self.lifetime else { return nil }
            return entry
        }
    }

    /// Keeps a reading taken since `begin()` returned `generation`, unless the cache was emptied meanwhile.
    func store(_ token: APIToken, user: User, org: Organization, generation: UInt64) {
        let entry = Entry(token: token, user: user, org: org, readAt: DispatchTime.now().uptimeNanoseconds)
        lock.withLock {
            guard generation == self.generation else { return }
            if entries.count >= Self.capacity { entries = [:] }
            entries[token.prefix] = entry
        }
    }

    /// Records a new last-used time on a kept entry (so it is not written again within the minute).
    func touched(prefix: String, at time: Date) {
        lock.withLock { entries[prefix]?.token.lastUsedAt = time }
    }

    /// Forgets every entry (after a change to tokens, users or organisations).
    func removeAll() {
        lock.withLock {
            generation &+= 1
            entries = [:]
        }
    }
}
