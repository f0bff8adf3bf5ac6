import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// A running application (router test framework) over a fresh database with the standard fixtures.
struct Harness: Sendable {
    let env: TestEnvironment
    let fixtures: Fixtures
    let client: any TestClientProtocol

    /// Fresh database + fixtures + application, then `body` with a client; skips (like every
    /// database test) when the backend is unavailable.
    static func run(_ backend: TestBackend, maxBodyBytes: Int = 1 << 20,
                    _ body: @Sendable (Harness) async throws -> Void) async throws {
        try await TestEnvironment.with(backend, maxBodyBytes: maxBodyBytes) { env in
            let fixtures = try await Fixtures.make(env.services.access)
            let app = try await env.application()
            try await app.test(.router) { client in
                try await body(Harness(env: env, fixtures: fixtures, client: client))
            }
        }
    }

    /// The API token of a fixture user.
    func token(_ user: String) -> String {
        guard let token = fixtures.tokens[user] else { preconditionFailure("fixture user \(user) has no token") }
        return token
    }

    /// A fixture user.
    func user(_ name: String) -> User {
        guard let user = fixtures.users[name] else { preconditionFailure("no fixture user \(name)") }
        return user
    }

    /// Sends a request. `token` goes into `Authorization: Bearer`; `json` is sent as the body with
    /// `Content-Type: application/json`.
    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
              headers: HTTPFields = [:]) async throws -> TestResponse {
        var all = headers
        if let token { all[.authorization] = "Bearer \(token)" }
        if json != nil, all[.contentType] == nil { all[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: all, body: json.map { ByteBuffer(string: $0) })
    }

    /// Sends a request as a fixture user (with their API token).
    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, as user: String, json: String? = nil,
              headers: HTTPFields = [:]) async throws -> TestResponse {
        try await send(method, uri, token: token(user), json: json, headers: headers)
    }

    /// The command-line principal of a fixture user (to read state behind the API).
    func principal(_ user: String) async throws -> Principal {
        try await env.services.access.principal(commandLineUser: user)
    }

    /// How many refusals the audit trail recorded (refused attempts are logged, on purpose).
    func deniedEvents() async throws -> Int {
        try await events(AuditFilter(outcome: .denied))
    }

    /// Audited reads of personal data (a member's full phone number, a member export): a permitted
    /// read leaves such an event by design, so "nothing changed" does not count them.
    func auditedReads() async throws -> Int {
        try await events(AuditFilter(action: "member.phone_read")) + (try await events(AuditFilter(action: "member.export")))
    }

    /// How many audit events match a filter.
    func events(_ filter: AuditFilter) async throws -> Int {
        let admin = try await principal("admin")
        var page = PageRequest(limit: PageRequest.maxLimit)
        var count = 0
        while true {
            let result = try await env.services.access.auditEvents(filter, page: page, by: admin)
            count += result.items.count
            guard let next = result.nextCursor else { return count }
            page.cursor = next
        }
    }

    /// Everything the Access area stores that a request could change, as seen by the root admin:
    /// organisations and users with their versions, tokens with their revocation, the audit count.
    func snapshot() async throws -> StateSnapshot {
        let access = env.services.access
        let admin = try await principal("admin")
        let all = PageRequest(limit: PageRequest.maxLimit)
        let orgs = try await access.organizations(kind: nil, page: all, by: admin).items
        let users = try await access.users(page: all, by: admin).items
        let tokens = try await access.tokens(page: all, by: admin).items
        let counts = try await access.dashboardCounts(by: admin)
        return StateSnapshot(
            orgs: orgs.map { "\($0.id.rawValue) v\($0.version) \($0.name) \($0.code)" }.sorted(),
            users: users.map { "\($0.id.rawValue) v\($0.version) \($0.status.rawValue) \($0.role.rawValue) \($0.passwordHash)" }.sorted(),
            tokens: tokens.map { "\($0.id.rawValue) revoked=\($0.revokedAt != nil)" }.sorted(),
            auditEvents: counts.auditEvents - (try await deniedEvents()) - (try await auditedReads()))
    }

    /// API token ids by owner name.
    func tokenIDs() async throws -> [String: [String]] {
        let admin = try await principal("admin")
        let tokens = try await env.services.access.tokens(page: PageRequest(limit: PageRequest.maxLimit), by: admin).items
        var result: [String: [String]] = [:]
        for (name, user) in fixtures.users {
            result[name] = tokens.filter { $0.userId == user.id }.map(\.id.rawValue)
        }
        return result
    }
}

/// Stored state to compare before and after a refused request.
struct StateSnapshot: Equatable, Sendable, CustomStringConvertible {
    var orgs: [String]
    var users: [String]
    var tokens: [String]
    /// Audit events other than recorded refusals (a refused request appends one of those, and only that).
    var auditEvents: Int

    var description: String { "orgs=\(orgs.count) users=\(users.count) tokens=\(tokens.count) audit=\(auditEvents)" }
}

extension TestResponse {
    /// The body as text.
    var text: String { String(buffer: body) }

    /// The body as raw bytes.
    var bytes: [UInt8] { Array(body.readableBytesView) }

    /// The body as a JSON object (empty when it is not one).
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    /// `items` of a list response.
    var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }

    /// The body as an RFC 9457 problem, nil when it does not decode as one.
    var problem: Problem? { try? JSONDecoder().decode(Problem.self, from: Data(bytes)) }

    /// Cookies set by the response: name → the whole `Set-Cookie` value.
    var setCookies: [String: String] {
        var result: [String: String] = [:]
        for value in headers[values: .setCookie] {
            let name = value.prefix { $0 != "=" }
            result[String(name)] = value
        }
        return result
    }

    /// The value of a cookie this response sets.
    func cookie(_ name: String) -> String? {
        guard let header = setCookies[name] else { return nil }
        let pair = header.split(separator: ";", maxSplits: 1).first ?? ""
        return String(pair.dropFirst(name.count + 1))
    }
}

/// Checks that a response is a well-formed RFC 9457 problem of the given status and returns it.
@discardableResult
func expectProblem(_ response: TestResponse, _ status: Int, _ comment: @autoclosure () -> String = "",
                   sourceLocation: SourceLocation = #_sourceLocation) -> Problem? {
    let context = comment()
    #expect(Int(response.status.code) == status, "\(context): expected \(status), got \(response.status.code) \(response.text)",
            sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", "\(context): content type",
            sourceLocation: sourceLocation)
    guard let problem = response.problem else {
        Issue.record("\(context): body is not a problem document: \(response.text)", sourceLocation: sourceLocation)
        return nil
    }
    #expect(problem.status == status, "\(context): problem.status", sourceLocation: sourceLocation)
    #expect(problem.type.hasPrefix("urn:tillyard:problem:"), "\(context): problem.type \(problem.type)", sourceLocation: sourceLocation)
    #expect(!problem.title.isEmpty, "\(context): problem.title", sourceLocation: sourceLocation)
    #expect(!problem.detail.isEmpty, "\(context): problem.detail", sourceLocation: sourceLocation)
    // The raw document carries exactly the RFC 9457 member names.
    let raw = response.object
    for member in ["type", "title", "status", "detail"] {
        #expect(raw[member] != nil, "\(context): member \(member) missing", sourceLocation: sourceLocation)
    }
    return problem
}

/// Form-encodes fields for a console POST.
func formBody(_ fields: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = fields.map { name, value in
        "\(name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
    }.joined(separator: "&")
    return ByteBuffer(string: text)
}

/// The value of the hidden `_csrf` field of an HTML page.
func hiddenCSRF(in html: String) -> String? {
    guard let range = html.range(of: #"name="_csrf" value="([^"]*)""#, options: .regularExpression) else { return nil }
    let match = html[range]
    guard let start = match.range(of: "value=\"") else { return nil }
    return String(match[start.upperBound...].dropLast())
}

/// A JSON string literal for a value.
func jsonString(_ value: String) -> String {
    String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
}
