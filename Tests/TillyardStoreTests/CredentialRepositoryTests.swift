import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// Console sessions and API tokens in SQL.
@Suite struct CredentialRepositoryTests {
    struct Setting {
        let root, regionA, regionB: Organization
        let alice, bob, carol: User

        init() {
            root = Rows.org(.generate(now: Rows.at(0)), under: nil, kind: .acquirer, name: "root")
            regionA = Rows.org(.generate(now: Rows.at(1)), under: root, kind: .region, name: "a")
            regionB = Rows.org(.generate(now: Rows.at(2)), under: root, kind: .region, name: "b")
            alice = Rows.user("alice", in: regionA, created: Rows.at(3))
            bob = Rows.user("bob", in: regionA, created: Rows.at(4))
            carol = Rows.user("carol", in: regionB, created: Rows.at(5))
        }

        func insert(into store: SQLPersistence) async throws {
            let orgs = [root, regionA, regionB], users = [alice, bob, carol]
            try await store.write { repos in
                for org in orgs { try await repos.orgs.insert(org) }
                for user in users { try await repos.users.insert(user) }
            }
        }

        func session(_ user: User, _ secret: String) -> Session {
            Session(idHash: Secrets.sha256(secret), userId: user.id, orgId: user.orgId, csrfToken: "csrf-\(secret)",
                    createdAt: Rows.at(10), expiresAt: Rows.at(10 + 12 * 3600), origin: "192.0.2.\(secret.count)")
        }

        func token(_ user: User, _ name: String, at seconds: Double, scopes: Set<Permission> = [.dashboardView],
                   expiresAt: Date? = nil) -> APIToken {
            APIToken(id: .generate(now: Rows.at(seconds)), orgId: user.orgId, userId: user.id, name: name,
                     prefix: Secrets.randomHex(bytes: 6), secretHash: Secrets.sha256(name), scopes: scopes,
                     createdAt: Rows.at(seconds), expiresAt: expiresAt)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func sessionsRoundTripAndEnd(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let a1 = setting.session(setting.alice, "a1"), a2 = setting.session(setting.alice, "a22"), b1 = setting.session(setting.bob, "b111")
            try await store.write { repos in for session in [a1, a2, b1] { try await repos.sessions.insert(session) } }
            #expect(try await store.read { try await $0.sessions.find(idHash: a1.idHash) } == a1)
            #expect(try await store.read { try await $0.sessions.find(idHash: Secrets.sha256("unknown")) } == nil)

            try await store.write { try await $0.sessions.delete(idHash: a1.idHash) }
            #expect(try await store.read { try await $0.sessions.find(idHash: a1.idHash) } == nil)
            #expect(try await store.read { try await $0.sessions.find(idHash: a2.idHash) } == a2)

            // Ending all of Alice's sessions leaves Bob's alone.
            let a3 = setting.session(setting.alice, "a333")
            try await store.write { try await $0.sessions.insert(a3) }
            try await store.write { try await $0.sessions.deleteAll(of: setting.alice.id) }
            let left = try await store.read { repos in
                [try await repos.sessions.find(idHash: a2.idHash), try await repos.sessions.find(idHash: a3.idHash),
                 try await repos.sessions.find(idHash: b1.idHash)]
            }
            #expect(left == [nil, nil, b1])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tokensRoundTripWithOptionalDates(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let plain = setting.token(setting.alice, "plain", at: 10)
            var full = setting.token(setting.alice, "full", at: 11, scopes: Set(Permission.allCases), expiresAt: Rows.at(86_400.5))
            full.lastUsedAt = Rows.at(12.25)
            full.revokedAt = Rows.at(13.75)
            let usedAndRevoked = full
            let empty = setting.token(setting.bob, "no scopes", at: 12, scopes: [])
            try await store.write { repos in for token in [plain, usedAndRevoked, empty] { try await repos.tokens.insert(token) } }
            let found = try await store.read { repos in
                [try await repos.tokens.find(plain.id), try await repos.tokens.find(prefix: plain.prefix),
                 try await repos.tokens.find(usedAndRevoked.id), try await repos.tokens.find(prefix: usedAndRevoked.prefix),
                 try await repos.tokens.find(empty.id), try await repos.tokens.find(prefix: "000000000000"),
                 try await repos.tokens.find(TokenID.generate())]
            }
            #expect(found == [plain, plain, full, full, empty, nil, nil])
            #expect(found[0]?.expiresAt == nil && found[0]?.lastUsedAt == nil && found[0]?.revokedAt == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func revokeKeepsTheFirstTimeAndTouchRecordsUse(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let token = setting.token(setting.alice, "t", at: 10)
            try await store.write { try await $0.tokens.insert(token) }
            try await store.write { try await $0.tokens.touch(token.id, at: Rows.at(20)) }
            try await store.write { try await $0.tokens.revoke(token.id, at: Rows.at(30)) }
            try await store.write { try await $0.tokens.revoke(token.id, at: Rows.at(40)) }
            let stored = try #require(try await store.read { try await $0.tokens.find(token.id) })
            #expect(stored.lastUsedAt == Rows.at(20))
            #expect(stored.revokedAt == Rows.at(30), "a second revoke does not move the revocation time")
            #expect(!stored.isUsable(at: Rows.at(31)))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tokenListingIsScopedToTheSubtreeOrOwner(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let tokens = [
                setting.token(setting.alice, "alice-1", at: 10), setting.token(setting.bob, "bob-1", at: 11),
                setting.token(setting.alice, "alice-2", at: 12), setting.token(setting.carol, "carol-1", at: 13),
                setting.token(setting.alice, "alice-3", at: 14),
            ]
            try await store.write { repos in for token in tokens { try await repos.tokens.insert(token) } }
            let result = try await store.read { repos in
                (a: try await repos.tokens.list(under: setting.regionA.path, user: nil, page: PageRequest()).items.map(\.name),
                 b: try await repos.tokens.list(under: setting.regionB.path, user: nil, page: PageRequest()).items.map(\.name),
                 alice: try await repos.tokens.list(under: setting.regionA.path, user: setting.alice.id, page: PageRequest()).items.map(\.name),
                 carolFromA: try await repos.tokens.list(under: setting.regionA.path, user: setting.carol.id, page: PageRequest()).items.map(\.name))
            }
            #expect(result.a == ["alice-3", "alice-2", "bob-1", "alice-1"])
            #expect(result.b == ["carol-1"])
            #expect(result.alice == ["alice-3", "alice-2", "alice-1"])
            #expect(result.carolFromA.isEmpty, "a user filter never widens the subtree")

            let pages = try await allPages(limit: 2) { page in
                try await store.read { try await $0.tokens.list(under: "/", user: nil, page: page) }
            }
            #expect(pages.map { $0.map(\.name) } == [["alice-3", "carol-1"], ["alice-2", "bob-1"], ["alice-1"]])
        }
    }
}
