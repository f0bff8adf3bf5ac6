import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardStore
import TillyardTestSupport

/// `Idempotency-Key` storage: first claim wins, later claims see the stored record, and
/// complete / release / purge do what the server relies on.
@Suite struct IdempotencyRepositoryTests {
    static let org = OrgID(rawValue: "0190f3a2-7b1c-7d2e-8f3a-0123456789ab")

    static func record(scope: String = "user:u1", key: String = "key-1", hash: String = "h1", at seconds: Double = 0) -> IdempotencyRecord {
        IdempotencyRecord(scope: scope, orgId: org, key: key, requestHash: hash, status: nil, body: nil, createdAt: Rows.at(seconds))
    }

    @Test(arguments: TestBackend.allCases)
    func firstClaimWinsAndLaterClaimsSeeIt(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let first = Self.record()
            let claimed = try await store.write { try await $0.idempotency.claim(first) }
            #expect(claimed == nil)
            // Same key again, even with another body: the stored (pending) record comes back unchanged.
            let again = try await store.write { try await $0.idempotency.claim(Self.record(hash: "h2", at: 5)) }
            #expect(again == first)
            // Keys are per scope: another caller's identical key is a separate claim.
            let otherScope = try await store.write { try await $0.idempotency.claim(Self.record(scope: "token:t1")) }
            #expect(otherScope == nil)
            let otherKey = try await store.write { try await $0.idempotency.claim(Self.record(key: "key-2")) }
            #expect(otherKey == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func completedResponseIsReplayedExactly(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let claimed = try await store.write { try await $0.idempotency.claim(Self.record()) }
            #expect(claimed == nil)
            let body = Data(#"{"id":"0190f3a2","name":"Zhōngguó 中国 ✓"}"#.utf8)
            try await store.write { try await $0.idempotency.complete(scope: "user:u1", key: "key-1", status: 201, body: body) }
            let replay = try #require(try await store.write { try await $0.idempotency.claim(Self.record(at: 9)) })
            #expect(replay.status == 201)
            #expect(replay.body == body)
            #expect(replay.requestHash == "h1")
            #expect(replay.createdAt == Rows.at(0))
            #expect(replay.orgId == Self.org)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func releaseDropsOnlyPendingClaims(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            _ = try await store.write { try await $0.idempotency.claim(Self.record(key: "pending")) }
            _ = try await store.write { try await $0.idempotency.claim(Self.record(key: "done")) }
            try await store.write { try await $0.idempotency.complete(scope: "user:u1", key: "done", status: 200, body: Data("{}".utf8)) }
            try await store.write { repos in
                try await repos.idempotency.release(scope: "user:u1", key: "pending")
                try await repos.idempotency.release(scope: "user:u1", key: "done")
            }
            // The released key can be claimed afresh; the completed one is still replayed.
            let reclaimed = try await store.write { try await $0.idempotency.claim(Self.record(key: "pending", hash: "new")) }
            #expect(reclaimed == nil)
            let done = try await store.write { try await $0.idempotency.claim(Self.record(key: "done")) }
            #expect(done?.status == 200)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func purgeDeletesOnlyOlderRecords(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            for (key, seconds) in [("old", 0.0), ("edge", 100.0), ("new", 200.0)] {
                _ = try await store.write { try await $0.idempotency.claim(Self.record(key: key, hash: key, at: seconds)) }
            }
            try await store.write { try await $0.idempotency.purge(before: Rows.at(100)) }
            let remaining = try await database.session { db in
                try await db.raw("SELECT key FROM idempotency_keys ORDER BY key").all().map { try $0.decode(column: "key", as: String.self) }
            }
            #expect(remaining == ["edge", "new"])
        }
    }

    /// Two requests with the same key racing: the second claim's insert collides with the first
    /// claim's row, and it must answer with the first record rather than fail.
    @Test(arguments: TestBackend.allCases)
    func racingClaimsReturnTheWinnersRecord(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let (claimed, signal) = AsyncStream<Void>.makeStream()
            async let winner: IdempotencyRecord? = store.write { repos in
                let result = try await repos.idempotency.claim(Self.record(hash: "winner"))
                signal.yield()
                // Hold the transaction open so the second claim runs while this row is uncommitted.
                try await Task.sleep(for: .milliseconds(500))
                return result
            }
            var iterator = claimed.makeAsyncIterator()
            _ = await iterator.next()
            let loser: IdempotencyRecord?
            do {
                loser = try await store.write { try await $0.idempotency.claim(Self.record(hash: "loser", at: 1)) }
            } catch {
                Issue.record("the racing claim failed instead of returning the winner's record: \(String(reflecting: error))")
                _ = try? await winner
                return
            }
            let winnerResult = try await winner
            #expect(winnerResult == nil)
            #expect(loser?.requestHash == "winner")
            #expect(loser?.status == nil)
        }
    }
}
