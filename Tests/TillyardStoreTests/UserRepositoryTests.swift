import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// Users in SQL: round trips with every optional set and unset, unique usernames, subtree
/// listing, paging, optimistic updates and the lock-out counters.
@Suite struct UserRepositoryTests {
    struct Setting {
        let root, regionA, regionB: Organization
        init() {
            root = Rows.org(.generate(now: Rows.at(0)), under: nil, kind: .acquirer, name: "root")
            regionA = Rows.org(.generate(now: Rows.at(1)), under: root, kind: .region, name: "a")
            regionB = Rows.org(.generate(now: Rows.at(2)), under: root, kind: .region, name: "b")
        }

        func insert(into store: SQLPersistence) async throws {
            let orgs = [root, regionA, regionB]
            try await store.write { repos in for org in orgs { try await repos.orgs.insert(org) } }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func roundTripPreservesEveryField(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let full = User(id: .generate(now: Rows.at(10)), orgId: setting.regionA.id, username: "zhang.wei", displayName: "张伟 (Finance)",
                            email: "zhang.wei@example.cn", role: .finance, status: .disabled, locale: "zh-CN",
                            passwordHash: "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                            failedLogins: 3, lockedUntil: Rows.at(900.789), createdAt: Rows.at(10.001), updatedAt: Rows.at(20.999), version: 7)
            let sparse = Rows.user("plain", in: setting.regionB, role: .inspector, created: Rows.at(11))
            #expect(sparse.email == nil && sparse.locale == nil && sparse.lockedUntil == nil)
            try await store.write { repos in
                try await repos.users.insert(full)
                try await repos.users.insert(sparse)
            }
            let found = try await store.read { repos in
                [try await repos.users.find(full.id), try await repos.users.find(username: "zhang.wei"),
                 try await repos.users.find(sparse.id), try await repos.users.find(username: "plain"),
                 try await repos.users.find(username: "nobody"), try await repos.users.find(UserID.generate())]
            }
            #expect(found[0] == full)
            #expect(found[1] == full)
            #expect(found[2] == sparse)
            #expect(found[3] == sparse)
            #expect(found[4] == nil && found[5] == nil)
            #expect(found[0]?.lockedUntil.map(EpochMillis.from) == 1_790_000_900_912)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func duplicateUsernameIsAConflict(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            try await store.write { try await $0.users.insert(Rows.user("alice", in: setting.regionA)) }
            let twin = Rows.user("alice", in: setting.regionB, role: .finance, created: Rows.at(5))
            let error = await #expect(throws: DomainError.self) { try await store.write { try await $0.users.insert(twin) } }
            #expect(error == .conflict("username alice is taken"))
            #expect(try await store.read { try await $0.users.count(under: "/") } == 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func listingAndCountingStayInsideTheSubtree(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let inA = (0..<3).map { Rows.user("a\($0)", in: setting.regionA, created: Rows.at(Double(10 + $0))) }
            let inB = (0..<2).map { Rows.user("b\($0)", in: setting.regionB, created: Rows.at(Double(20 + $0))) }
            let atRoot = Rows.user("root.admin", in: setting.root, created: Rows.at(30))
            try await store.write { repos in for user in inA + inB + [atRoot] { try await repos.users.insert(user) } }
            let result = try await store.read { repos in
                (a: try await repos.users.list(under: setting.regionA.path, page: PageRequest()).items,
                 b: try await repos.users.list(under: setting.regionB.path, page: PageRequest()).items,
                 all: try await repos.users.list(under: setting.root.path, page: PageRequest()).items,
                 counts: [try await repos.users.count(under: setting.regionA.path), try await repos.users.count(under: setting.regionB.path),
                          try await repos.users.count(under: setting.root.path), try await repos.users.count(under: "/")])
            }
            #expect(result.a.map(\.username) == ["a2", "a1", "a0"], "region A never sees region B or the root")
            #expect(result.b.map(\.username) == ["b1", "b0"])
            #expect(result.all.count == 6)
            #expect(result.counts == [3, 2, 6, 6])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func cursorPagingWalksEveryUserOnceNewestFirst(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let users = (0..<5).map { Rows.user("user\($0)", in: $0 == 4 ? setting.regionB : setting.regionA, created: Rows.at(Double($0))) }
            try await store.write { repos in for user in users.shuffled() { try await repos.users.insert(user) } }
            let pages = try await allPages(limit: 2) { page in try await store.read { try await $0.users.list(under: "/", page: page) } }
            #expect(pages.map(\.count) == [2, 2, 1])
            #expect(pages.flatMap { $0 }.map(\.username) == ["user4", "user3", "user2", "user1", "user0"])
            let regionA = try await allPages(limit: 2) { page in
                try await store.read { try await $0.users.list(under: setting.regionA.path, page: page) }
            }
            #expect(regionA.map { $0.map(\.username) } == [["user3", "user2"], ["user1", "user0"]])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func optimisticUpdateRefusesAStaleVersion(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let original = Rows.user("carol", in: setting.regionA)
            try await store.write { try await $0.users.insert(original) }

            var changed = original
            changed.displayName = "Carol C."
            changed.email = "carol@example.com"
            changed.locale = "en"
            changed.role = .security
            changed.status = .disabled
            changed.passwordHash = "new-hash"
            changed.failedLogins = 2
            changed.lockedUntil = Rows.at(99)
            changed.updatedAt = Rows.at(50)
            changed.version = 2
            let saved = changed
            try await store.write { try await $0.users.update(saved) }
            #expect(try await store.read { try await $0.users.find(original.id) } == saved)

            // Clearing optionals is stored too.
            var cleared = saved
            cleared.email = nil
            cleared.locale = nil
            cleared.lockedUntil = nil
            cleared.version = 3
            let savedCleared = cleared
            try await store.write { try await $0.users.update(savedCleared) }
            #expect(try await store.read { try await $0.users.find(original.id) } == savedCleared)

            var stale = original
            stale.displayName = "Lost update"
            stale.version = 2
            let staleCopy = stale
            let error = await #expect(throws: DomainError.self) { try await store.write { try await $0.users.update(staleCopy) } }
            #expect(error?.isConflict == true)
            #expect(try await store.read { try await $0.users.find(original.id) } == savedCleared)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func loginAttemptsChangeOnlyTheCounters(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let setting = Setting()
            try await setting.insert(into: store)
            let user = Rows.user("dave", in: setting.regionA)
            try await store.write { try await $0.users.insert(user) }
            try await store.write { try await $0.users.recordLoginAttempt(user.id, failedLogins: 4, lockedUntil: Rows.at(900)) }
            var expected = user
            expected.failedLogins = 4
            expected.lockedUntil = Rows.at(900)
            #expect(try await store.read { try await $0.users.find(user.id) } == expected, "no version bump")
            try await store.write { try await $0.users.recordLoginAttempt(user.id, failedLogins: 0, lockedUntil: nil) }
            #expect(try await store.read { try await $0.users.find(user.id) } == user)
        }
    }
}
