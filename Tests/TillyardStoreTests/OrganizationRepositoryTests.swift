import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// The organisation tree in SQL: exact round trips, subtree-only listing and counting,
/// cursor paging and optimistic updates, on SQLite and PostgreSQL.
@Suite struct OrganizationRepositoryTests {
    /// root ─┬─ regionA ── merchantA ── storeA
    ///       └─ regionB ── merchantB
    struct Tree {
        let root, regionA, regionB, merchantA, merchantB, storeA: Organization
        var all: [Organization] { [root, regionA, regionB, merchantA, merchantB, storeA] }

        init() {
            root = Rows.org(.generate(now: Rows.at(0)), under: nil, kind: .acquirer, name: "root", created: Rows.at(0))
            regionA = Rows.org(.generate(now: Rows.at(1)), under: root, kind: .region, name: "region-a", created: Rows.at(1))
            regionB = Rows.org(.generate(now: Rows.at(2)), under: root, kind: .region, name: "region-b", created: Rows.at(2))
            merchantA = Rows.org(.generate(now: Rows.at(3)), under: regionA, kind: .merchant, name: "merchant-a", created: Rows.at(3))
            merchantB = Rows.org(.generate(now: Rows.at(4)), under: regionB, kind: .merchant, name: "merchant-b", created: Rows.at(4))
            storeA = Rows.org(.generate(now: Rows.at(5)), under: merchantA, kind: .store, name: "store-a", created: Rows.at(5))
        }

        func insert(into store: SQLPersistence) async throws {
            let rows = all
            try await store.write { repos in for org in rows { try await repos.orgs.insert(org) } }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func insertAndFindPreserveEveryField(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "Bank of Tillyard 银行", version: 3)
            let child = Rows.org(under: root, kind: .region, name: "north / 北", created: Rows.at(0.456))
            try await store.write { repos in
                try await repos.orgs.insert(root)
                try await repos.orgs.insert(child)
            }
            let (foundRoot, foundChild, missing) = try await store.read { repos in
                (try await repos.orgs.find(root.id), try await repos.orgs.find(child.id), try await repos.orgs.find(.generate()))
            }
            #expect(foundRoot == root)
            #expect(foundRoot?.parentId == nil)
            #expect(foundChild == child)
            #expect(foundChild?.parentId == root.id)
            #expect(foundChild.map { EpochMillis.from($0.createdAt) } == EpochMillis.from(child.createdAt))
            #expect(missing == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func duplicateIdIsAConflict(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "root")
            try await store.write { try await $0.orgs.insert(root) }
            let error = await #expect(throws: DomainError.self) {
                try await store.write { try await $0.orgs.insert(root) }
            }
            #expect(error?.isConflict == true)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func listingAndCountingStayInsideTheSubtree(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let tree = Tree()
            try await tree.insert(into: store)
            let result = try await store.read { repos in
                (a: try await repos.orgs.list(under: tree.regionA.path, kind: nil, page: PageRequest()),
                 b: try await repos.orgs.list(under: tree.regionB.path, kind: nil, page: PageRequest()),
                 all: try await repos.orgs.list(under: tree.root.path, kind: nil, page: PageRequest()),
                 merchants: try await repos.orgs.list(under: "/", kind: .merchant, page: PageRequest()),
                 storesInB: try await repos.orgs.list(under: tree.regionB.path, kind: .store, page: PageRequest()),
                 counts: [try await repos.orgs.count(under: tree.regionA.path), try await repos.orgs.count(under: tree.regionB.path),
                          try await repos.orgs.count(under: tree.root.path), try await repos.orgs.count(under: "/"),
                          try await repos.orgs.count(under: tree.storeA.path)])
            }
            // Newest first = id descending (ids are time-ordered).
            #expect(result.a.items.map(\.id) == [tree.storeA.id, tree.merchantA.id, tree.regionA.id])
            #expect(result.b.items.map(\.id) == [tree.merchantB.id, tree.regionB.id])
            #expect(result.all.items.map(\.id) == tree.all.map(\.id).reversed())
            #expect(result.merchants.items.map(\.id) == [tree.merchantB.id, tree.merchantA.id])
            #expect(result.storesInB.items.isEmpty)
            #expect(result.counts == [3, 2, 6, 6, 1])
            #expect(result.a.nextCursor == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func subtreeRangeIsByteWiseAndNotFooledBySimilarIds(backend: TestBackend) async throws {
        // Hand-made ids whose paths share text prefixes and mix punctuation and case: only a
        // byte-wise (C collation) range keeps "/r/a/" apart from "/r/a-b/", "/r/a0/", "/r/ab/", "/r/A/".
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(OrgID(rawValue: "r"), under: nil, kind: .acquirer, name: "r")
            let a = Rows.org(OrgID(rawValue: "a"), under: root, kind: .region, name: "a")
            let siblings = ["a-b", "a0", "ab", "A", "a.", "a b", "a_"].map { Rows.org(OrgID(rawValue: $0), under: root, kind: .region, name: $0) }
            let child = Rows.org(OrgID(rawValue: "z"), under: a, kind: .merchant, name: "child")
            let grandchild = Rows.org(OrgID(rawValue: "zz"), under: child, kind: .store, name: "grandchild")
            let everything = [root, a] + siblings + [child, grandchild]
            try await store.write { repos in for org in everything { try await repos.orgs.insert(org) } }
            let (page, count) = try await store.read { repos in
                (try await repos.orgs.list(under: a.path, kind: nil, page: PageRequest()), try await repos.orgs.count(under: a.path))
            }
            #expect(Set(page.items.map(\.id.rawValue)) == ["a", "z", "zz"])
            #expect(count == 3)
            let total = try await store.read { try await $0.orgs.count(under: root.path) }
            #expect(total == everything.count)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func cursorPagingWalksEveryRowOnceNewestFirst(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let tree = Tree()
            try await tree.insert(into: store)
            let pages = try await allPages(limit: 2) { page in
                try await store.read { try await $0.orgs.list(under: "/", kind: nil, page: page) }
            }
            #expect(pages.map(\.count) == [2, 2, 2], "no empty trailing page")
            #expect(pages.flatMap { $0 }.map(\.id) == tree.all.map(\.id).reversed())
            // Paging within a subtree and a kind filter.
            let regionPages = try await allPages(limit: 2) { page in
                try await store.read { try await $0.orgs.list(under: tree.regionA.path, kind: nil, page: page) }
            }
            #expect(regionPages.map { $0.map(\.id) } == [[tree.storeA.id, tree.merchantA.id], [tree.regionA.id]])
            let merchantPages = try await allPages(limit: 1) { page in
                try await store.read { try await $0.orgs.list(under: "/", kind: .merchant, page: page) }
            }
            #expect(merchantPages.map { $0.map(\.id) } == [[tree.merchantB.id], [tree.merchantA.id]])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func optimisticUpdateRefusesAStaleVersion(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let org = Rows.org(under: nil, kind: .acquirer, name: "root")
            try await store.write { try await $0.orgs.insert(org) }

            var renamed = org
            renamed.name = "Renamed"
            renamed.code = "NEW"
            renamed.updatedAt = Rows.at(60)
            renamed.version = 2
            let saved = renamed
            try await store.write { try await $0.orgs.update(saved) }
            #expect(try await store.read { try await $0.orgs.find(org.id) } == saved)

            // A second writer who also read version 1 loses.
            var stale = org
            stale.name = "Lost update"
            stale.version = 2
            let staleCopy = stale
            let error = await #expect(throws: DomainError.self) { try await store.write { try await $0.orgs.update(staleCopy) } }
            #expect(error?.isConflict == true)
            var unknown = Rows.org(under: nil, kind: .acquirer, name: "ghost")
            unknown.version = 2
            let ghost = unknown
            await #expect(throws: DomainError.self) { try await store.write { try await $0.orgs.update(ghost) } }
            #expect(try await store.read { try await $0.orgs.find(org.id) }?.name == "Renamed")
        }
    }
}
