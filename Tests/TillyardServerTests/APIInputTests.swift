import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Bad input of every class on the API: each is a 4xx RFC 9457 problem (never a 500) and
/// nothing is written.
@Suite struct APIInputTests {
    /// One bad request and what the API must answer.
    struct BadRequest: Sendable {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var status: Int
        /// The field `errors[0].field` must name, if any.
        var field: String?
    }

    /// A valid user creation body for merchantA.owner, with fields replaced or removed.
    static func userBody(_ storeA: OrgID, set: [String: String] = [:], remove: Set<String> = []) -> String {
        var fields: [String: String] = [
            "orgId": jsonString(storeA.rawValue), "username": jsonString("new.cashier"),
            "displayName": jsonString("New Cashier"), "role": jsonString("cashier"), "password": jsonString("Brand-new-pass-1"),
        ]
        for (key, value) in set { fields[key] = value }
        for key in remove { fields[key] = nil }
        return "{" + fields.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value)" }.joined(separator: ", ") + "}"
    }

    @Test(arguments: TestBackend.allCases)
    func malformedAndMistypedBodiesAreProblemsAndWriteNothing(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let storeA = h.fixtures.storeA
            let cashier = h.user("storeA.cashier")
            let cases: [BadRequest] = [
                BadRequest(name: "malformed JSON", method: .post, path: "/api/v1/users", body: #"{"orgId": "#, status: 400),
                BadRequest(name: "empty body", method: .post, path: "/api/v1/users", body: "", status: 400),
                BadRequest(name: "array instead of object", method: .post, path: "/api/v1/users",
                           body: "[\(Self.userBody(storeA))]", status: 400),
                BadRequest(name: "string instead of object", method: .post, path: "/api/v1/users", body: #""hello""#, status: 400),
                BadRequest(name: "unknown field", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["displayname": jsonString("typo")]), status: 422, field: "displayname"),
                BadRequest(name: "missing required field", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, remove: ["username"]), status: 422, field: "username"),
                BadRequest(name: "null required field", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["password": "null"]), status: 422, field: "password"),
                BadRequest(name: "wrong type", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["username": "42"]), status: 422, field: "username"),
                BadRequest(name: "invalid enum value", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["role": jsonString("emperor")]), status: 422, field: "role"),
                BadRequest(name: "invalid org id", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["orgId": jsonString("not-an-id")]), status: 422, field: "orgId"),
                BadRequest(name: "domain rule (short password)", method: .post, path: "/api/v1/users",
                           body: Self.userBody(storeA, set: ["password": jsonString("short")]), status: 422, field: "password"),
                BadRequest(name: "invalid enum in org kind", method: .post, path: "/api/v1/orgs",
                           body: #"{"parentId": "\#(h.fixtures.merchantA.rawValue)", "kind": "planet", "name": "x", "code": "X"}"#,
                           status: 422, field: "kind"),
                BadRequest(name: "invalid enum inside an array", method: .post, path: "/api/v1/tokens",
                           body: #"{"name": "t", "scopes": ["root.everything"]}"#, status: 422, field: "scopes.0"),
                BadRequest(name: "PATCH unknown field", method: .patch, path: "/api/v1/users/\(cashier.id.rawValue)",
                           body: #"{"version": 1, "nickname": "x"}"#, status: 422, field: "nickname"),
                BadRequest(name: "PATCH wrong type", method: .patch, path: "/api/v1/users/\(cashier.id.rawValue)",
                           body: #"{"version": "1", "displayName": "x"}"#, status: 422, field: "version"),
                BadRequest(name: "PATCH missing version", method: .patch, path: "/api/v1/users/\(cashier.id.rawValue)",
                           body: #"{"displayName": "x"}"#, status: 422, field: "version"),
                BadRequest(name: "PATCH invalid enum", method: .patch, path: "/api/v1/users/\(cashier.id.rawValue)",
                           body: #"{"version": 1, "status": "sleeping"}"#, status: 422, field: "status"),
                BadRequest(name: "PATCH malformed", method: .patch, path: "/api/v1/users/\(cashier.id.rawValue)",
                           body: "{version: 1}", status: 400),
                BadRequest(name: "password reset array", method: .post, path: "/api/v1/users/\(cashier.id.rawValue)/password",
                           body: "[]", status: 400),
                BadRequest(name: "query enum", method: .get, path: "/api/v1/orgs?kind=planet", status: 422, field: "kind"),
                BadRequest(name: "query limit", method: .get, path: "/api/v1/orgs?limit=0", status: 422, field: "limit"),
                BadRequest(name: "query cursor", method: .get, path: "/api/v1/users?cursor=%25%25%25", status: 422, field: "cursor"),
                BadRequest(name: "malformed id", method: .get, path: "/api/v1/users/not-a-uuid", status: 404),
                BadRequest(name: "unknown route", method: .get, path: "/api/v1/nothing-here", status: 404),
                BadRequest(name: "unsupported method", method: .put, path: "/api/v1/users", body: Self.userBody(storeA), status: 404),
            ]
            let before = try await h.snapshot()
            for bad in cases {
                let response = try await h.send(bad.method, bad.path, as: "merchantA.owner", json: bad.body)
                let problem = expectProblem(response, bad.status, bad.name)
                if let field = bad.field {
                    #expect(problem?.errors?.first?.field == field, "\(bad.name): \(response.text)")
                    #expect(problem?.type == "urn:tillyard:problem:validation", "\(bad.name)")
                }
                if bad.status == 400 { #expect(problem?.type == "urn:tillyard:problem:malformed", "\(bad.name)") }
                #expect(problem?.instance == bad.path.split(separator: "?").first.map(String.init), "\(bad.name): instance")
            }
            #expect(try await h.snapshot() == before)
            // The valid body the cases were derived from does work (so each case failed for its own reason).
            let ok = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: Self.userBody(storeA))
            #expect(ok.status == .created, "\(ok.text)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func oversizeBodyIs413(backend: TestBackend) async throws {
        try await Harness.run(backend, maxBodyBytes: 1024) { h in
            let before = try await h.snapshot()
            let huge = String(repeating: "x", count: 2000)
            let cashier = h.user("storeA.cashier")
            let requests: [(HTTPRequest.Method, String, String)] = [
                (.post, "/api/v1/users", Self.userBody(h.fixtures.storeA, set: ["displayName": jsonString(huge)])),
                (.post, "/api/v1/orgs", #"{"parentId": "\#(h.fixtures.merchantA.rawValue)", "kind": "store", "name": "\#(huge)", "code": "BIG"}"#),
                (.patch, "/api/v1/users/\(cashier.id.rawValue)", #"{"version": 1, "displayName": "\#(huge)"}"#),
                (.post, "/api/v1/users/\(cashier.id.rawValue)/password", #"{"newPassword": "\#(huge)"}"#),
            ]
            for (method, path, body) in requests {
                let response = try await h.send(method, path, as: "merchantA.owner", json: body)
                let problem = expectProblem(response, 413, "\(method) \(path)")
                #expect(problem?.type == "urn:tillyard:problem:too-large")
            }
            // Idempotent creates refuse it too, and a retry with the same key gets the same answer.
            let key: HTTPFields = [Idempotency.header: "big-1"]
            let first = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: requests[0].2, headers: key)
            expectProblem(first, 413, "idempotent oversize")
            #expect(try await h.snapshot() == before)
            // A body under the limit still goes through.
            let small = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: Self.userBody(h.fixtures.storeA))
            #expect(small.status == .created, "\(small.text)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func cardDataIsRefusedAndNeverEchoed(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let storeA = h.fixtures.storeA
            let cashier = h.user("storeA.cashier")
            let pan = "4111111111111111"
            let cases: [(String, HTTPRequest.Method, String, String, [String])] = [
                ("full PAN in a known field", .post, "/api/v1/users",
                 Self.userBody(storeA, set: ["displayName": jsonString("4111 1111 1111 1111")]), ["4111 1111 1111 1111", pan, "1111"]),
                ("PAN as a separate field", .post, "/api/v1/users", Self.userBody(storeA, set: ["pan": jsonString(pan)]), [pan]),
                ("cvv field", .post, "/api/v1/users", Self.userBody(storeA, set: ["cvv": jsonString("737")]), ["737"]),
                ("card_number field", .post, "/api/v1/orgs",
                 #"{"parentId": "\#(h.fixtures.merchantA.rawValue)", "kind": "store", "name": "s", "code": "S", "card_number": "\#(pan)"}"#,
                 [pan]),
                ("track data", .patch, "/api/v1/users/\(cashier.id.rawValue)",
                 #"{"version": 1, "displayName": ";\#(pan)=25121010000000000000?"}"#, [pan, "2512101"]),
                ("PAN nested in an array", .post, "/api/v1/tokens", #"{"name": "t", "scopes": ["\#(pan)"]}"#, [pan]),
            ]
            let before = try await h.snapshot()
            for (name, method, path, body, secrets) in cases {
                let response = try await h.send(method, path, as: "merchantA.owner", json: body)
                expectProblem(response, 422, name)
                for secret in secrets {
                    #expect(!response.text.contains(secret), "\(name): response echoes \(secret): \(response.text)")
                }
            }
            #expect(try await h.snapshot() == before)

            // A duplicated key must not smuggle a PAN past the guard: whichever copy the server
            // uses, the number is never stored or echoed.
            let first = #"{"orgId": "\#(storeA.rawValue)", "username": "dup.one", "displayName": "\#(pan)", "displayName": "Innocent", "role": "cashier", "password": "Duplicate-pass-1"}"#
            let last = #"{"orgId": "\#(storeA.rawValue)", "username": "dup.two", "displayName": "Innocent", "displayName": "\#(pan)", "role": "cashier", "password": "Duplicate-pass-1"}"#
            for body in [first, last] {
                let response = try await h.send(.post, "/api/v1/users", as: "merchantA.owner", json: body)
                #expect(!response.text.contains(pan), "duplicate key: \(response.status.code) \(response.text)")
                #expect(response.status.code < 500)
            }
            let stored = try await h.env.services.access.users(page: PageRequest(limit: PageRequest.maxLimit), by: try await h.principal("admin"))
            #expect(!stored.items.contains { $0.displayName.contains(pan) }, "a PAN was stored through a duplicated key")

            // Nor is anything about the attempts stored in the audit trail.
            let audit = try await h.send(.get, "/api/v1/audit-events?limit=200", as: "admin")
            #expect(audit.status == .ok)
            #expect(!audit.text.contains(pan))
            #expect(!audit.text.contains("\"cvv\""))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func missingBadRevokedAndExpiredCredentialsAre401(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let before = try await h.snapshot()
            // No credentials at all.
            for (method, path) in [(HTTPRequest.Method.get, "/api/v1/me"), (.get, "/api/v1/users"), (.post, "/api/v1/users")] {
                let response = try await h.send(method, path, json: method == .post ? Self.userBody(h.fixtures.storeA) : nil)
                expectProblem(response, 401, "no auth \(path)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "WWW-Authenticate on \(path)")
            }
            // Garbage, foreign schemes and a right prefix with a wrong secret.
            let real = h.token("merchantA.owner")
            let wrongSecret = String(real.dropLast(4)) + (real.hasSuffix("0000") ? "1111" : "0000")
            for authorization in ["Bearer nope", "Bearer ", "Basic YWRtaW46eA==", "bearer \(real)", "Bearer \(wrongSecret)", "Bearer tyd__"] {
                let response = try await h.send(.get, "/api/v1/me", headers: [.authorization: authorization])
                expectProblem(response, 401, authorization)
                #expect(response.headers[.wwwAuthenticate] != nil)
            }
            #expect(try await h.snapshot() == before)

            // A token works, is revoked, then is refused.
            let created = try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: #"{"name": "short-lived"}"#)
            #expect(created.status == .created)
            let secret = try #require(created.object["token"] as? String)
            let id = try #require(created.object["id"] as? String)
            #expect(try await h.send(.get, "/api/v1/me", token: secret).status == .ok)
            let revoked = try await h.send(.delete, "/api/v1/tokens/\(id)", as: "merchantA.owner")
            #expect(revoked.status == .ok)
            #expect(revoked.object["revokedAt"] is String)
            #expect(revoked.object["token"] == nil, "the secret is shown only on creation")
            expectProblem(try await h.send(.get, "/api/v1/me", token: secret), 401, "revoked token")
            expectProblem(try await h.send(.post, "/api/v1/users", token: secret, json: Self.userBody(h.fixtures.storeA)), 401,
                          "revoked token POST")

            // A token past its expiry is refused.
            let expiring = try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: #"{"name": "one day", "expiresInDays": 1}"#)
            let expiringSecret = try #require(expiring.object["token"] as? String)
            #expect(try await h.send(.get, "/api/v1/me", token: expiringSecret).status == .ok)
            h.env.clock.advance(2 * 86400)
            expectProblem(try await h.send(.get, "/api/v1/me", token: expiringSecret), 401, "expired token")
            #expect(try await h.send(.get, "/api/v1/me", as: "merchantA.owner").status == .ok, "tokens without expiry still work")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func otherTenantsResourcesAreNotFound(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let merchantB = h.fixtures.merchantB.rawValue
            let ownerB = h.user("merchantB.owner")
            let before = try await h.snapshot()
            let reads: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/api/v1/orgs/\(merchantB)", nil),
                (.patch, "/api/v1/orgs/\(merchantB)", #"{"name": "hijacked", "version": 1}"#),
                (.get, "/api/v1/users/\(ownerB.id.rawValue)", nil),
                (.patch, "/api/v1/users/\(ownerB.id.rawValue)", #"{"displayName": "hijacked", "version": 1}"#),
                (.post, "/api/v1/users/\(ownerB.id.rawValue)/password", #"{"newPassword": "Hijacked-pass-1"}"#),
            ]
            for (method, path, body) in reads {
                let response = try await h.send(method, path, as: "merchantA.owner", json: body)
                let problem = expectProblem(response, 404, "\(method) \(path)")
                #expect(problem?.type == "urn:tillyard:problem:not-found")
            }
            // A foreign org is indistinguishable from one that does not exist.
            let missing = try await h.send(.get, "/api/v1/orgs/\(OrgID.generate().rawValue)", as: "merchantA.owner")
            let foreign = try await h.send(.get, "/api/v1/orgs/\(merchantB)", as: "merchantA.owner")
            #expect(missing.problem?.title == foreign.problem?.title)
            #expect(missing.status == foreign.status)

            let create = try await h.send(.post, "/api/v1/users", as: "merchantA.owner",
                                          json: Self.userBody(h.fixtures.merchantB, set: ["role": jsonString("merchant_owner")]))
            let problem = expectProblem(create, 422, "create user under merchant-b")
            #expect(problem?.errors?.first?.field == "orgId")
            let org = try await h.send(.post, "/api/v1/orgs", as: "merchantA.owner",
                                       json: #"{"parentId": "\#(merchantB)", "kind": "store", "name": "intruder", "code": "INT"}"#)
            #expect(expectProblem(org, 422, "create org under merchant-b")?.errors?.first?.field == "parentId")
            #expect(try await h.snapshot() == before)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func insufficientRightsAre403(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            // A token limited to dashboard.view, issued by security.
            let issued = try await h.send(.post, "/api/v1/tokens", as: "security", json: #"{"name": "wallboard", "scopes": ["dashboard.view"]}"#)
            #expect(issued.status == .created, "\(issued.text)")
            #expect(issued.object["scopes"] as? [String] == ["dashboard.view"])
            let limited = try #require(issued.object["token"] as? String)
            #expect(try await h.send(.get, "/api/v1/dashboard", token: limited).status == .ok)
            let me = try await h.send(.get, "/api/v1/me", token: limited)
            #expect(me.object["permissions"] as? [String] == ["dashboard.view"])

            let before = try await h.snapshot()
            for path in ["/api/v1/users", "/api/v1/orgs", "/api/v1/audit-events", "/api/v1/tokens", "/api/v1/audit-events/verify",
                         "/api/v1/users/\(h.user("security").id.rawValue)"] {
                let problem = expectProblem(try await h.send(.get, path, token: limited), 403, "limited token GET \(path)")
                #expect(problem?.type == "urn:tillyard:problem:forbidden")
            }
            expectProblem(try await h.send(.post, "/api/v1/tokens", token: limited, json: #"{"name": "escalate"}"#), 403, "limited token mints")
            // security itself cannot manage users, and nobody can grant rights they lack.
            expectProblem(try await h.send(.post, "/api/v1/users", as: "security",
                                           json: Self.userBody(h.fixtures.acquirer, set: ["role": jsonString("finance")])), 403, "security creates user")
            expectProblem(try await h.send(.post, "/api/v1/users", as: "merchantA.owner",
                                           json: Self.userBody(h.fixtures.merchantA, set: ["role": jsonString("administrator")])), 403,
                          "merchant owner grants administrator")
            let scopes = try await h.send(.post, "/api/v1/tokens", as: "merchantA.owner", json: #"{"name": "t", "scopes": ["audit.read"]}"#)
            #expect(expectProblem(scopes, 422, "token with a scope the owner lacks")?.errors?.first?.field == "scopes")
            #expect(try await h.snapshot() == before)

            // The cashier has no token; with a console session the API still refuses what the role lacks.
            let login = try await h.env.services.access.login(username: "storeA.cashier", password: Fixtures.password, origin: "test")
            let session: HTTPFields = [.cookie: "\(CookieName.session)=\(login.cookieSecret)"]
            #expect(try await h.send(.get, "/api/v1/me", headers: session).object["via"] as? String == "session")
            #expect(try await h.send(.get, "/api/v1/dashboard", headers: session).status == .ok)
            for path in ["/api/v1/users", "/api/v1/orgs", "/api/v1/tokens", "/api/v1/audit-events"] {
                expectProblem(try await h.send(.get, path, headers: session), 403, "cashier session GET \(path)")
            }
            // An unsafe API call with only the cookie (no X-CSRF-Token) is refused before anything runs.
            let ownerLogin = try await h.env.services.access.login(username: "merchantA.owner", password: Fixtures.password, origin: "test")
            let ownerCookie: HTTPFields = [.cookie: "\(CookieName.session)=\(ownerLogin.cookieSecret)"]
            let afterOwnerLogin = try await h.snapshot()
            expectProblem(try await h.send(.post, "/api/v1/users", json: Self.userBody(h.fixtures.storeA), headers: ownerCookie), 403,
                          "cookie-only POST without CSRF header")
            var withCSRF = ownerCookie
            withCSRF[HTTPField.Name("X-CSRF-Token")!] = "wrong"
            expectProblem(try await h.send(.post, "/api/v1/users", json: Self.userBody(h.fixtures.storeA), headers: withCSRF), 403,
                          "cookie POST with a wrong CSRF header")
            #expect(try await h.snapshot() == afterOwnerLogin)
            withCSRF[HTTPField.Name("X-CSRF-Token")!] = ownerLogin.session.csrfToken
            let allowed = try await h.send(.post, "/api/v1/users", json: Self.userBody(h.fixtures.storeA), headers: withCSRF)
            #expect(allowed.status == .created, "\(allowed.text)")
        }
    }
}
