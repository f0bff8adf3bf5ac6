import Foundation
import Hummingbird
import TillyardKit

/// Shared shapes of API handlers, so every create behaves the same: strict decoding, card-data
/// guard, `Idempotency-Key` replay, 201 with the created resource.
public struct APIRoutes: Sendable {
    public let idempotency: Idempotency

    public init(idempotency: Idempotency) { self.idempotency = idempotency }

    /// A POST that creates something: decodes `Input`, runs `work` once per idempotency key.
    /// `storedForReplay` may strip a once-only secret from what replays return (see `Idempotency.run`).
    public func create<Input: APIInput, Output: Encodable & Sendable>(
        _ request: Request, _ context: AppRequestContext, status: HTTPResponse.Status = .created,
        storedForReplay: @escaping @Sendable (ByteBuffer) -> ByteBuffer = { $0 },
        _ work: @escaping @Sendable (Input, Principal) async throws -> Output
    ) async throws -> Response {
        let principal = try context.requirePrincipal()
        let data = Data(buffer: try await request.body.collect(upTo: context.bodyLimit))
        return try await idempotency.run(request: request, body: data, principal: principal, storedForReplay: storedForReplay) {
            let input = try JSONIO.decode(Input.self, from: data)
            return (status, try JSONIO.encode(try await work(input, principal)))
        }
    }

    /// A PATCH or other update: decodes `Input` strictly and returns the updated resource.
    public func update<Input: APIInput, Output: Encodable & Sendable>(
        _ request: Request, _ context: AppRequestContext,
        _ work: @escaping @Sendable (Input, Principal) async throws -> Output
    ) async throws -> Response {
        let principal = try context.requirePrincipal()
        let input = try await JSONIO.decode(Input.self, from: request, context: context)
        return try JSONResponse.make(try await work(input, principal))
    }
}
