import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// A write is one transaction on both engines: it commits as a whole or leaves nothing behind.
@Suite struct TransactionTests {
    @Test(arguments: TestBackend.allCases)
    func throwingMidwayRollsBackEverything(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "root")
            let user = Rows.user("alice", in: root)
            await #expect(throws: Boom.self) {
                try await store.write { repos in
                    try await repos.orgs.insert(root)
                    try await repos.users.insert(user)
                    _ = try await repos.audit.append(
                        AuditDraft(orgId: root.id, actor: .system, action: "test.write", resourceType: "user",
                                   resourceId: user.id.rawValue, origin: "test"),
                        orgPath: root.path, at: Rows.base)
                    throw Boom()
                }
            }
            let left = try await store.read { repos in
                (org: try await repos.orgs.find(root.id), user: try await repos.users.find(user.id),
                 orgs: try await repos.orgs.count(under: "/"), audit: try await repos.audit.scan(after: 0, limit: 10).count)
            }
            #expect(left.org == nil)
            #expect(left.user == nil)
            #expect(left.orgs == 0)
            #expect(left.audit == 0)
        }
    }

    /// Concurrent transactions share a COMMIT on SQLite (group commit): each one still answers its
    /// own result, one that throws (by itself or on a failed statement) leaves nothing behind while
    /// its batch neighbours are kept, and all of them are visible once their callers are answered.
    @Test(arguments: TestBackend.allCases)
    func concurrentTransactionsCommitOrFailEachOnTheirOwn(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            try await database.transaction { db in
                try await db.raw("CREATE TABLE group_rows (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
                try await db.raw("INSERT INTO group_rows (id, note) VALUES (-1, 'taken')").run()
            }
            enum Outcome: Equatable { case stored(Int), boom, duplicate }
            let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
                for index in 0..<120 {
                    group.addTask {
                        do {
                            let answer = try await database.transaction { db -> Int in
                                try await db.raw("INSERT INTO group_rows (id, note) VALUES (\(bind: index), 'first')").run()
                                if index % 7 == 3 { throw Boom() }
                                // A failing statement after a good one: the whole transaction must go.
                                if index % 11 == 5 { try await db.raw("INSERT INTO group_rows (id, note) VALUES (-1, 'again')").run() }
                                try await db.raw("UPDATE group_rows SET note = 'second' WHERE id = \(bind: index)").run()
                                return index * 10
                            }
                            return (index, .stored(answer))
                        } catch is Boom {
                            return (index, .boom)
                        } catch {
                            return (index, .duplicate)
                        }
                    }
                }
                var all: [Int: Outcome] = [:]
                for await (index, outcome) in group { all[index] = outcome }
                return all
            }
            let rows = try await database.session { db in
                try await db.raw("SELECT id, note FROM group_rows WHERE id >= 0 ORDER BY id").all().map {
                    (try $0.decode(column: "id", as: Int.self), try $0.decode(column: "note", as: String.self))
                }
            }
            let kept = (0..<120).filter { $0 % 7 != 3 && $0 % 11 != 5 }
            #expect(rows.map(\.0) == kept && rows.allSatisfy { $0.1 == "second" })
            for index in 0..<120 {
                let expected: Outcome = index % 7 == 3 ? .boom : index % 11 == 5 ? .duplicate : .stored(index * 10)
                #expect(outcomes[index] == expected, "transaction \(index)")
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func failedStatementRollsBackEarlierOnesAndTheConnectionStaysUsable(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "root")
            try await store.write { repos in
                try await repos.orgs.insert(root)
                try await repos.users.insert(Rows.user("taken", in: root))
            }
            for attempt in 0..<6 {
                let region = Rows.org(.generate(), under: root, kind: .region, name: "region-\(attempt)")
                let error = await #expect(throws: DomainError.self) {
                    try await store.write { repos in
                        try await repos.orgs.insert(region)
                        try await repos.users.insert(Rows.user("taken", in: region, created: Rows.at(1)))
                    }
                }
                #expect(error?.isConflict == true)
                #expect(try await store.read { try await $0.orgs.find(region.id) } == nil, "attempt \(attempt) left its org behind")
            }
            // Connections that saw a failed transaction work normally afterwards.
            for index in 0..<6 {
                try await store.write { try await $0.users.insert(Rows.user("fresh\(index)", in: root, created: Rows.at(Double(index + 2)))) }
            }
            #expect(try await store.read { try await $0.users.count(under: "/") } == 7)
            #expect(try await store.read { try await $0.orgs.count(under: "/") } == 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func committedWritesAreVisibleToLaterReads(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "root")
            let returned = try await store.write { repos -> Int in
                try await repos.orgs.insert(root)
                // Inside the transaction its own writes are visible.
                return try await repos.orgs.count(under: "/")
            }
            #expect(returned == 1)
            #expect(try await store.read { try await $0.orgs.find(root.id) } == root)
        }
    }

    /// Sales rollup additions made inside SQLite's group commit are summed per batch and written at
    /// its end (`DeferredSalesRollups`); on both engines the rollups must come out as if every
    /// transaction had written its own: a transaction that throws adds nothing, even after a clear
    /// of the table, and a clear drops what was added before it, in the same batch or earlier.
    @Test(arguments: TestBackend.allCases)
    func rollupAdditionsCountOnlyForCommittedTransactions(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let root = Rows.org(under: nil, kind: .acquirer, name: "root")
            let merchant = Rows.org(.generate(), under: root, kind: .merchant, name: "merchant")
            let shop = Rows.org(.generate(), under: merchant, kind: .store, name: "store")
            try await store.write { repos in
                for org in [root, merchant, shop] { try await repos.orgs.insert(org) }
            }
            @Sendable func delta(_ key: String, amount: Int64, label: String) -> SalesRollupDelta {
                SalesRollupDelta(day: 20_000, storeId: shop.id, merchantId: merchant.id, orgPath: shop.path, dimension: .product,
                                 key: key, label: label, figures: SalesFigures(sales: 1, amount: amount))
            }
            func rows() async throws -> [String: (sales: Int64, amount: Int64, label: String)] {
                try await database.session { db in
                    var all: [String: (sales: Int64, amount: Int64, label: String)] = [:]
                    for row in try await db.raw("SELECT key, sales, amount, label FROM report_sales_daily").all() {
                        all[try row.decode(column: "key", as: String.self)] = (try row.decode(column: "sales", as: Int64.self),
                                                                              try row.decode(column: "amount", as: Int64.self),
                                                                              try row.decode(column: "label", as: String.self))
                    }
                    return all
                }
            }
            try await store.write { try await $0.reports.addSales([delta("k0", amount: 1_000, label: "before")]) }
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<150 {
                    group.addTask {
                        _ = try? await store.write { repos in
                            // Keys are distinct within one call, as a sale's are (PostgreSQL updates a row once per statement).
                            try await repos.reports.addSales([delta("k\(index % 5)", amount: Int64(index), label: "L\(index)")])
                            if index % 13 == 6 { try await repos.reports.clearSales() }
                            if index % 7 == 3 || index % 13 == 6 { throw Boom() }
                        }
                    }
                }
            }
            let kept = (0..<150).filter { $0 % 7 != 3 && $0 % 13 != 6 }
            let after = try await rows()
            for key in 0..<5 {
                let mine = kept.filter { $0 % 5 == key }
                let expectedSales = Int64(mine.count) + (key == 0 ? 1 : 0)
                let expectedAmount = mine.reduce(Int64(0)) { $0 + Int64($1) } + (key == 0 ? 1_000 : 0)
                #expect(after["k\(key)"]?.sales == expectedSales && after["k\(key)"]?.amount == expectedAmount, "row k\(key): \(String(describing: after["k\(key)"]))")
                #expect(mine.map { "L\($0)" }.contains(after["k\(key)"]?.label ?? ""), "label of k\(key) is a committed transaction's")
            }
            // A clear drops what this transaction added before it; what it adds afterwards stays.
            try await store.write { repos in
                try await repos.reports.addSales([delta("k9", amount: 5, label: "gone")])
                try await repos.reports.clearSales()
                try await repos.reports.addSales([delta("k9", amount: 2, label: "kept")])
            }
            let cleared = try await rows()
            #expect(cleared.count == 1 && cleared["k9"]?.amount == 2 && cleared["k9"]?.label == "kept")
        }
    }
}
