import Foundation
import HTTPTypes
import Hummingbird
import TillyardKit

/// The body of `POST /terminal/v1/activate`.
struct ActivationInput: APIInput {
    var sn: String
    var code: String
    enum CodingKeys: String, CodingKey, CaseIterable { case sn, code }
    typealias Field = CodingKeys
}

/// The body of `POST /terminals/{id}/activation-codes` (may be `{}`).
struct ActivationCodeInput: APIInput {
    /// How long the code stays usable, 1–72 hours (24 when absent).
    var validForHours: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case validForHours }
    typealias Field = CodingKeys
}

/// What an operator receives for a terminal: the code to type on it, shown once.
struct ActivationCodeBody: Codable, Sendable {
    var id: String
    var terminalId: String
    var code: String
    var expiresAt: Date
}

/// The body of `POST /terminal/v1/heartbeat` is a `Heartbeat`, decoded strictly (unknown fields named).
extension Heartbeat: APIInput {
    public typealias Field = CodingKeys

    /// The plain form terminals send, read in one pass (`HeartbeatWire`, a quarter of a heartbeat's
    /// cost otherwise); nil hands the body to the strict decoder (`JSONIO.decode`).
    public static func readPlain(_ data: Data) -> Heartbeat? { HeartbeatWire.parse(data) }

    /// A heartbeat body: the plain form in one pass; anything else is decoded strictly, which
    /// decides it and words the error exactly as for every other request.
    static func decode(_ body: Data) throws -> Heartbeat {
        try JSONIO.decode(Heartbeat.self, from: body)
    }
}

/// A terminal's live status for operators.
struct TerminalStatusBody: Codable, Sendable {
    var terminalId: String
    var online: Bool
    var lastSeenAt: Date?
    var heartbeat: Heartbeat?
    var lastTransactionAt: Date?
}

/// What `GET /terminal/v1/ping` answers a correctly signed request: who the server takes it for.
struct PingBody: Codable, Sendable {
    var terminalId: String
    var sn: String
    var tid: String
    var keyId: String
    var serverTime: Date
}

/// The terminal protocol (`/terminal/v1`, requests signed per terminal; activation is the one
/// unsigned route) and its operator side under `/api/v1` (activation codes, security events).
struct TerminalProtocolAPI {
    let fleet: FleetService
    let routes: APIRoutes

    func register(api: RouterGroup<AppRequestContext>, router: Router<AppRequestContext>) {
        let fleet = self.fleet
        let routes = self.routes
        api.post("terminals/:id/activation-codes") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.create(request, context, storedForReplay: { _ in
                // The code is shown once: a replay of the request must not show it again.
                ByteBuffer(string: #"{"detail":"this activation code was already shown; issue a new one"}"#)
            }) { (body: ActivationCodeInput, principal) in
                let hours = body.validForHours ?? 24
                guard (1...72).contains(hours) else { throw DomainError.invalid("validForHours", "must be from 1 to 72") }
                let (code, record) = try await fleet.issueActivationCode(for: id, validFor: TimeInterval(hours) * 3600, by: principal)
                return ActivationCodeBody(id: record.id.rawValue, terminalId: id.rawValue, code: code, expiresAt: record.expiresAt)
            }
        }
        api.get("security-events") { request, context in
            let principal = try context.requirePrincipal()
            let limit = try request.pageRequest().limit
            return try JSONResponse.make(PageBody(Page(items: try await fleet.securityEvents(terminalRef: request.query("terminal"), limit: limit, by: principal),
                                                       nextCursor: nil)) { $0 })
        }

        let terminal = router.group("terminal/v1")
        terminal.post("activate") { request, context in
            let input = try await JSONIO.decode(ActivationInput.self, from: request, context: context)
            return try JSONResponse.make(try await fleet.activate(sn: input.sn, code: input.code, origin: context.origin))
        }
        terminal.post("heartbeat") { request, context in
            let (caller, body) = try await Self.authenticate(request, context, fleet: fleet)
            let heartbeat = try Heartbeat.decode(body)
            let reply = try await fleet.heartbeat(heartbeat, from: caller)
            return try reply.idleJSON.map { JSONResponse.make(json: $0) } ?? JSONResponse.make(reply)
        }
        api.get("terminals/:id/status") { _, context in
            let principal = try context.requirePrincipal()
            let id: TerminalID = try context.id("id", resource: "terminal")
            let (status, online) = try await fleet.status(of: id, by: principal)
            return try JSONResponse.make(TerminalStatusBody(terminalId: id.rawValue, online: online, lastSeenAt: status?.lastSeenAt,
                                                            heartbeat: status?.heartbeat, lastTransactionAt: status?.lastTransactionAt))
        }
        terminal.get("ping") { request, context in
            let (caller, _) = try await Self.authenticate(request, context, fleet: fleet)
            return try JSONResponse.make(PingBody(terminalId: caller.terminal.id.rawValue, sn: caller.terminal.sn, tid: caller.terminal.tid,
                                                  keyId: caller.keyId, serverTime: fleet.clock.now()))
        }
    }

    /// Checks a terminal request's signature; returns the terminal and the body that was signed.
    static func authenticate(_ request: Request, _ context: AppRequestContext, fleet: FleetService) async throws -> (AuthenticatedTerminal, Data) {
        let body = Data(buffer: try await request.body.collect(upTo: context.bodyLimit))
        let headers = SignedRequestHeaders(
            terminalId: request.headers[HTTPField.Name(SignedRequestHeaders.terminalIdName)!],
            timestamp: request.headers[HTTPField.Name(SignedRequestHeaders.timestampName)!],
            nonce: request.headers[HTTPField.Name(SignedRequestHeaders.nonceName)!],
            signature: request.headers[HTTPField.Name(SignedRequestHeaders.signatureName)!])
        let caller = try await fleet.authenticate(headers, method: request.method.rawValue, path: request.uri.description, body: body,
                                                  origin: context.origin)
        return (caller, body)
    }
}
