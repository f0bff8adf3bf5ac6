import Foundation
import Testing
@testable import TillyardKit

/// The brief cache of API token readings: a reading taken before a change is never kept after it.
@Suite struct TokenCacheTests {
    static let now = Date(timeIntervalSince1970: 1_765_000_000)
    static let token = APIToken(id: .generate(), orgId: OrgID(rawValue: "o"), userId: UserID(rawValue: "u"), name: "register",
                                prefix: "abc123", secretHash: Secrets.sha256("secret"), scopes: [], createdAt: now, expiresAt: nil)
    static let user = User(id: UserID(rawValue: "u"), orgId: OrgID(rawValue: "o"), username: "owner", displayName: "Owner", email: nil,
                           role: .merchantOwner, passwordHash: "", createdAt: now, updatedAt: now)
    static let org = Organization(id: OrgID(rawValue: "o"), parentId: nil, kind: .merchant, name: "Shop", code: "SHOP", path: "/o/",
                                  createdAt: now, updatedAt: now)

    @Test func aReadingStoredAfterAChangeIsDropped() {
        let cache = TokenCache()
        let before = cache.begin()
        cache.removeAll()
        cache.store(Self.token, user: Self.user, org: Self.org, generation: before)
        #expect(cache.entry(prefix: "abc123") == nil)

        cache.store(Self.token, user: Self.user, org: Self.org, generation: cache.begin())
        #expect(cache.entry(prefix: "abc123")?.token.id == Self.token.id)
        cache.touched(prefix: "abc123", at: Self.now)
        #expect(cache.entry(prefix: "abc123")?.token.lastUsedAt == Self.now)
        cache.removeAll()
        #expect(cache.entry(prefix: "abc123") == nil)
    }
}
