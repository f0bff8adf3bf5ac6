import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// `Idempotency-Key` on creates, and optimistic concurrency (`version`) on updates.
@Suite struct IdempotencyConcurrencyTests {
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    static func key(_ value: String) -> HTTPFields { [Idempotency.header: value] }

    /// One response of a concurrent batch.
    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
    }

    static func newUser(_ org: OrgID, _ username: String) -> String {
        #"{"orgId": "\#(org.rawValue)", "username": "\#(username)", "displayName": "Idem", "role": "cashier", "password": "Idempotent-pass-1"}"#
    }

    @Test(arguments: TestBackend.allCases)
    func sameKeySameBodyReplaysUserCreation(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let body = Self.newUser(h.fixtures.storeA, "idem.user")
            let before = try await h.snapshot()
            let first = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: body, headers: Self.key("create-idem-user"))
            #expect(first.status == .created, "\(first.text)")
            #expect(first.headers[Self.replayed] == nil, "the first answer is not a replay")
            #expect(first.object["username"] as? String == "idem.user")

            // The client retries (say, after a timeout), twice, even after the clock moved on.
            h.env.clock.advance(60)
            for _ in 0..<2 {
                let again = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: body, headers: Self.key("create-idem-user"))
                #expect(again.status == first.status)
                #expect(again.bytes == first.bytes, "byte-identical body")
                #expect(again.headers[Self.replayed] == "true")
                #expect(again.headers[.contentType] == first.headers[.contentType])
            }
            let after = try await h.snapshot()
            #expect(after.users.count == before.users.count + 1, "only one user was created")
            let list = try await h.send(.get, "/api/v1/users?limit=200", as: "admin")
            #expect(list.items.filter { $0["username"] as? String == "idem.user" }.count == 1)

            // The same key with another body is refused, and writes nothing.
            let other = Self.newUser(h.fixtures.storeA, "idem.other")
            let clash = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: other, headers: Self.key("create-idem-user"))
            let problem = expectProblem(clash, 422, "same key, different body")
            #expect(problem?.type == "urn:tillyard:problem:unprocessable")
            #expect(clash.headers[Self.replayed] == nil)
            // ...as is the same key and body sent to another route.
            let elsewhere = try await h.send(.post, "/api/v1/orgs", as: "merchantA.owner", json: body, headers: Self.key("create-idem-user"))
            expectProblem(elsewhere, 422, "same key, other route")
            #expect(try await h.snapshot() == after)

            // Without a key, the same body is simply a second request (here: a duplicate username).
            let duplicate = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: body)
            expectProblem(duplicate, 409, "duplicate username without a key")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func clientErrorsAreReplayedToo(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let before = try await h.snapshot()
            // A refused create (foreign org) is an answer: the retry gets the very same answer, marked replayed.
            let foreign = Self.newUser(h.fixtures.storeB, "idem.foreign")
            let first = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: foreign, headers: Self.key("refused-1"))
            expectProblem(first, 422, "foreign org")
            let again = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: foreign, headers: Self.key("refused-1"))
            #expect(again.status == first.status)
            #expect(again.bytes == first.bytes)
            #expect(again.headers[Self.replayed] == "true")
            #expect(again.headers[.contentType] == "application/problem+json")

            // Malformed JSON under a key: 400, replayed as 400.
            let broken = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: "{nope", headers: Self.key("refused-2"))
            expectProblem(broken, 400, "malformed under a key")
            let brokenAgain = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: "{nope", headers: Self.key("refused-2"))
            #expect(brokenAgain.status == .badRequest)
            #expect(brokenAgain.bytes == broken.bytes)
            #expect(brokenAgain.headers[Self.replayed] == "true")

            // The key is spent on the refused request: a corrected body needs a new key.
            let fixed = Self.newUser(h.fixtures.storeA, "idem.fixed")
            expectProblem(try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: fixed, headers: Self.key("refused-1")), 422,
                          "same key after a refusal, different body")
            #expect(try await h.snapshot() == before)

            // Keys must be 1 to 255 characters.
            let long = String(repeating: "k", count: 256)
            let tooLong = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: fixed, headers: Self.key(long))
            #expect(expectProblem(tooLong, 422, "key too long")?.errors?.first?.field == "Idempotency-Key")
            #expect(try await h.snapshot() == before)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tokenCreationIsIdempotentAndKeysAreScopedToTheCaller(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let before = try await h.snapshot()
            let body = #"{"name": "deploy bot", "scopes": ["orgs.read"], "expiresInDays": 30}"#
            let first = try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: body, headers: Self.key("token-1"))
            #expect(first.status == .created, "\(first.text)")
            let secret = try #require(first.object["token"] as? String)
            let again = try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: body, headers: Self.key("token-1"))
            #expect(again.status == .created)
            // The replay is the same token, but its secret was shown once and is not kept for replays.
            #expect(again.object["id"] as? String == first.object["id"] as? String)
            #expect(again.object["token"] == nil)
            #expect(!again.text.contains(secret))
            #expect(again.headers[Self.replayed] == "true")
            #expect(try await h.snapshot().tokens.count == before.tokens.count + 1, "only one token was issued")
            // The one token works with the scope it was given and no more.
            #expect(try await h.send(.get, "/api/v1/orgs", token: secret).status == .ok)
            expectProblem(try await h.send(.get, "/api/v1/users", token: secret), 403, "scope-limited token")
            expectProblem(try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: #"{"name": "other"}"#,
                                           headers: Self.key("token-1")), 422, "same key, different token body")

            // Another caller using the same key gets their own answer, never merchant A's.
            let theirs = try await h.send(.post, "/api/v1/tokens", as: "merchantB.owner", json: body, headers: Self.key("token-1"))
            #expect(theirs.status == .created)
            #expect(theirs.headers[Self.replayed] == nil)
            #expect(theirs.object["token"] as? String != secret)
            #expect(theirs.object["userId"] as? String == h.user("merchantB.owner").id.rawValue)
            let userB = try await h.send(.post, "/api/v1/users", as: "merchantB.owner", json: Self.newUser(h.fixtures.storeB, "idem.b"),
                                         headers: Self.key("shared-key"))
            let userA = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: Self.newUser(h.fixtures.storeA, "idem.a"),
                                         headers: Self.key("shared-key"))
            #expect(userB.status == .created)
            #expect(userA.status == .created)
            #expect(userA.object["orgId"] as? String == h.fixtures.storeA.rawValue)
            #expect(userA.headers[Self.replayed] == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentRetriesWithOneKeyCreateOnce(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let body = Self.newUser(h.fixtures.storeA, "idem.race")
            let before = try await h.snapshot()
            let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        let response = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: body, headers: Self.key("race"))
                        return Answer(status: Int(response.status.code), body: response.bytes)
                    }
                }
                var all: [Answer] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            // Each retry either sees the stored answer or is told the first is still running; never a second create.
            let statuses = answers.map(\.status)
            #expect(Set(statuses).isSubset(of: [201, 409]), "\(statuses)")
            #expect(statuses.contains(201))
            let createdBodies = Set(answers.filter { $0.status == 201 }.map(\.body))
            #expect(createdBodies.count == 1, "every 201 carries the same body")
            #expect(try await h.snapshot().users.count == before.users.count + 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func staleVersionIsAConflict(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let cashier = h.user("storeA.cashier").id.rawValue
            let read = try await h.send(.get, "/api/v1/users/\(cashier)", as: "merchantA.owner")
            let version = try #require(read.object["version"] as? Int)

            let first = try await h.send(.patch, "/api/v1/users/\(cashier)", as: "merchantA.owner",
                                         json: #"{"displayName": "Till One", "version": \#(version)}"#)
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.object["version"] as? Int == version + 1)
            #expect(first.object["displayName"] as? String == "Till One")

            // A second writer who read the same version loses, and changes nothing.
            let before = try await h.snapshot()
            let stale = try await h.send(.patch, "/api/v1/users/\(cashier)", as: "merchantA.owner",
                                         json: #"{"displayName": "Till Two", "version": \#(version)}"#)
            let problem = expectProblem(stale, 409, "stale user version")
            #expect(problem?.type == "urn:tillyard:problem:conflict")
            #expect(try await h.snapshot() == before)
            let now = try await h.send(.get, "/api/v1/users/\(cashier)", as: "merchantA.owner")
            #expect(now.object["displayName"] as? String == "Till One")
            // A version from the future is stale too.
            expectProblem(try await h.send(.patch, "/api/v1/users/\(cashier)", as: "merchantA.owner",
                                           json: #"{"displayName": "Till Three", "version": \#(version + 5)}"#), 409, "future version")

            // Organisations follow the same rule.
            let store = h.fixtures.storeA.rawValue
            let org = try await h.send(.get, "/api/v1/orgs/\(store)", as: "merchantA.owner")
            let orgVersion = try #require(org.object["version"] as? Int)
            #expect(try await h.send(.patch, "/api/v1/orgs/\(store)", as: "merchantA.owner",
                                     json: #"{"name": "store-a renamed", "version": \#(orgVersion)}"#).status == .ok)
            expectProblem(try await h.send(.patch, "/api/v1/orgs/\(store)", as: "merchantA.owner",
                                           json: #"{"name": "store-a again", "version": \#(orgVersion)}"#), 409, "stale org version")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentUpdatesWithTheSameVersionHaveOneWinner(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let cashier = h.user("storeA.cashier").id.rawValue
            let version = h.user("storeA.cashier").version
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let response = try await h.send(.patch, "/api/v1/users/\(cashier)", as: "merchantA.owner",
                                                        json: #"{"displayName": "Writer \#(index)", "version": \#(version)}"#)
                        return Int(response.status.code)
                    }
                }
                var all: [Int] = []
                for try await status in group { all.append(status) }
                return all.sorted()
            }
            #expect(statuses == [200, 409, 409, 409, 409, 409], "exactly one writer wins: \(statuses)")
            let after = try await h.send(.get, "/api/v1/users/\(cashier)", as: "merchantA.owner")
            #expect(after.object["version"] as? Int == version + 1)
        }
    }
}
