import Foundation
import HTTPTypes
import Hummingbird
import TillyardKit

/// `Idempotency-Key` support for creating requests, reusable by any route.
///
/// The same key with the same body returns the stored response (status and body) without
/// running the handler again; the same key with a different body is refused with 422; a
/// second request while the first is still running gets 409. Keys are scoped to the caller's
/// credential and kept for 24 hours. Responses of 5xx are not stored, so a retry runs again.
public struct Idempotency: Sendable {
    public static let header = HTTPField.Name("Idempotency-Key")!
    /// How long stored answers are replayable.
    public static let retention: TimeInterval = 24 * 3600
    /// A claim older than this whose request never finished (crash) may be taken over.
    public static let staleClaim: TimeInterval = 120

    let store: any Persistence
    let clock: Clock

    public init(store: any Persistence, clock: Clock = .system) {
        self.store = store
        self.clock = clock
    }

    /// Runs `handler` at most once per key. `body` is the exact request body (hashed with the
    /// method and path to tell "same request" from "key reused for another request").
    ///
    /// `storedForReplay` turns the first answer into what is kept for replays: a response that
    /// carries a secret shown only once (a new API token) is kept without it.
    public func run(request: Request, body: Data, principal: Principal,
                    storedForReplay: @Sendable (ByteBuffer) -> ByteBuffer = { $0 },
                    _ handler: @Sendable () async throws -> (HTTPResponse.Status, ByteBuffer)) async throws -> Response {
        guard let key = request.headers[Self.header] else {
            return Self.response(try await handler())
        }
        guard (1...255).contains(key.count) else {
            throw DomainError.invalid("Idempotency-Key", "must be 1 to 255 characters")
        }
        let scope: String
        switch principal.credential {
        case .token(let id): scope = "token:\(id.rawValue)"
        default: scope = "user:\(principal.user.id.rawValue)"
        }
        let requestHash = Secrets.sha256("\(request.method.rawValue) \(request.uri.path)\n" + String(decoding: body, as: UTF8.self))
        let now = clock.now()
        let claim = IdempotencyRecord(scope: scope, orgId: principal.user.orgId, key: key, requestHash: requestHash,
                                      status: nil, body: nil, createdAt: now)
        if let existing = try await store.write({ try await $0.idempotency.claim(claim) }) {
            guard existing.requestHash == requestHash else {
                throw DomainError.unprocessable("Idempotency-Key \(key) was already used for a different request")
            }
            if let status = existing.status, let stored = existing.body {
                var response = Self.response((HTTPResponse.Status(code: status), ByteBuffer(data: stored)))
                response.headers[.init("Idempotent-Replayed")!] = "true"
                return response
            }
            guard now.timeIntervalSince(existing.createdAt) > Self.staleClaim else {
                throw DomainError.conflict("a request with Idempotency-Key \(key) is still being processed; retry shortly")
            }
        }
        do {
            let (status, buffer) = try await handler()
            let stored = Data(buffer: storedForReplay(buffer))
            try await store.write { try await $0.idempotency.complete(scope: scope, key: key, status: Int(status.code), body: stored) }
            return Self.response((status, buffer))
        } catch {
            // Client errors are answers too: store them so a retry sees the same answer.
            let problem = Problem.from(error, instance: request.uri.path)
            if problem.status < 500, let encoded = try? JSONIO.encode(problem) {
                let stored = Data(buffer: encoded)
                try? await store.write { try await $0.idempotency.complete(scope: scope, key: key, status: problem.status, body: stored) }
            } else {
                try? await store.write { try await $0.idempotency.release(scope: scope, key: key) }
            }
            throw error
        }
    }

    private static func response(_ result: (HTTPResponse.Status, ByteBuffer)) -> Response {
        let contentType = result.0.code >= 400 ? "application/problem+json" : "application/json; charset=utf-8"
        return Response(status: result.0, headers: [.contentType: contentType], body: .init(byteBuffer: result.1))
    }
}
