import Foundation
import Hummingbird
import TillyardKit

/// A JSON request body that refuses fields it does not know, so a typo ("displayname") is an
/// error rather than a silently ignored change.
public protocol APIInput: Decodable, Sendable {
    associatedtype Field: CodingKey & CaseIterable
    /// Fields whose digits the card-data guard must let through because the handler masks and
    /// fingerprints them at once (a settlement account). Empty for almost every input.
    static var allowedSensitiveFields: Set<String> { get }

    /// The body read in one pass when it is in the plain form a hot client sends (a register's sale
    /// upload, a terminal's heartbeat), or nil to decode it strictly. `JSONIO.decode` asks this
    /// first, so an input adopts a fast lane by implementing it and nothing else changes.
    ///
    /// The contract: answer only bodies the strict path accepts, with exactly the value it gives
    /// (build it on `PlainJSONReader`); nil for anything else, which the strict path then refuses
    /// or accepts with its own wording. Inputs without a fast lane keep the default, nil.
    static func readPlain(_ data: Data) -> Self?
}

extension APIInput {
    public static var allowedSensitiveFields: Set<String> { [] }

    public static func readPlain(_ data: Data) -> Self? { nil }
}

/// A response value that writes its own JSON, byte for byte what `JSONIO.encoder()` writes, without
/// the encoder's cost (a sale: every register upload's answer). `JSONIO.encode` asks this first, as
/// `JSONIO.decode` asks `APIInput.readPlain`.
public protocol WireWritable: Encodable {
    /// The value's JSON as the API's encoder writes it (ISO 8601 dates with milliseconds, sorted keys).
    var wireJSON: String { get }
}

/// JSON encoding and strict decoding for the API.
public enum JSONIO {
    /// The encoder for every API response: ISO 8601 dates with milliseconds, sorted keys.
    public static func encoder() -> JSONEncoder { WireJSON.encoder() }

    /// The decoder for request bodies: dates as ISO 8601, with or without fractional seconds.
    public static func decoder() -> JSONDecoder { WireJSON.decoder() }

    /// Encodes a value for a response body: by its own writer when it has one (`WireWritable`), else
    /// by the shared encoder.
    public static func encode(_ value: some Encodable) throws -> ByteBuffer {
        if let writable = value as? any WireWritable { return ByteBuffer(string: writable.wireJSON) }
        return ByteBuffer(data: try sharedEncoder.encode(value))
    }

    // One of each, made once: they are thread-safe, and making them per request costs.
    private static let sharedEncoder = encoder()
    private static let sharedDecoder = decoder()

    /// Reads the request body (up to the context's limit) and decodes it strictly:
    /// malformed JSON → 400; unknown, missing or mistyped fields → 422 with the field named;
    /// card data → 422. Nothing is written before all of this passes.
    public static func decode<T: APIInput>(_ type: T.Type, from request: Request, context: AppRequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.bodyLimit)
        return try decode(type, from: Data(buffer: buffer))
    }

    /// Decoding of JSON bytes (see `decode(_:from:context:)`): the input's one-pass reader first
    /// (`APIInput.readPlain`, which answers only the plain bodies the strict path accepts, with the
    /// same value), else strictly.
    public static func decode<T: APIInput>(_ type: T.Type, from data: Data) throws -> T {
        if let plain = T.readPlain(data) { return plain }
        return try decodeStrictly(type, from: data)
    }

    /// Strict decoding of JSON bytes: one scan checks the syntax, duplicate keys and card data
    /// (`StrictJSON`), then the raw bytes are decoded. Errors are the API's problems (see
    /// `decode(_:from:context:)`). Public for tests that hold a fast lane to it.
    public static func decodeStrictly<T: APIInput>(_ type: T.Type, from data: Data) throws -> T {
        let keys: [String]
        do {
            keys = try StrictJSON.scan(data, allowing: T.allowedSensitiveFields)
        } catch let malformed as StrictJSON.Malformed {
            throw ProblemError.malformedJSON(malformed.reason)
        }
        let allowed = Set(T.Field.allCases.map(\.stringValue))
        let unknown = keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw DomainError.validation(unknown.map { FieldError(field: $0, message: "is not a known field (allowed: \(allowed.sorted().joined(separator: ", ")))") })
        }
        do {
            return try sharedDecoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw DomainError.validation([fieldError(error)])
        }
    }

    /// A readable field error for a decoding failure.
    static func fieldError(_ error: DecodingError) -> FieldError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return FieldError(field: path(context.codingPath + [key]), message: "is required")
        case .typeMismatch(let type, let context):
            return FieldError(field: path(context.codingPath), message: "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return FieldError(field: path(context.codingPath), message: "must be \(describe(type)), not null")
        case .dataCorrupted(let context):
            let detail = context.debugDescription.contains("invalid") ? context.debugDescription : "has an invalid value"
            return FieldError(field: path(context.codingPath), message: detail)
        @unknown default:
            return FieldError(field: "", message: "could not be decoded")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "a whole number"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a \(name)"
        }
    }
}

/// Builds JSON responses.
public enum JSONResponse {
    /// A JSON response with a status.
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        make(body: try JSONIO.encode(value), status: status)
    }

    /// A JSON response from text already written as JSON (a hand-written hot-path reply).
    public static func make(json: String, status: HTTPResponse.Status = .ok) -> Response {
        make(body: ByteBuffer(string: json), status: status)
    }

    private static func make(body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}

/// One page of an API list: `{"items": [...], "nextCursor": "..."}`.
public struct PageBody<Item: Encodable & Sendable>: Encodable, Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init<Source: Sendable>(_ page: Page<Source>, _ transform: (Source) -> Item) {
        items = page.items.map(transform)
        nextCursor = page.nextCursor
    }
}

extension Request {
    /// Paging parameters from `?limit=&cursor=`.
    func pageRequest() throws -> PageRequest {
        try PageRequest.parse(limit: uri.queryParameters["limit"].map(String.init), cursor: uri.queryParameters["cursor"].map(String.init))
    }

    /// A query parameter naming a case of an enumeration; an unknown value is a field error listing the cases.
    func query<E: RawRepresentable & CaseIterable>(_ name: String, as type: E.Type) throws -> E? where E.RawValue == String {
        guard let raw = query(name) else { return nil }
        guard let value = E(rawValue: raw) else {
            throw DomainError.invalid(name, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A query parameter as text, nil when absent or empty.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters[Substring(name)], !value.isEmpty else { return nil }
        return String(value)
    }
}

extension Identifier {
    /// An id from API input; a malformed one is a 422 naming the field (unlike a path id, which is a 404).
    static func parse(_ raw: String, field: String) throws -> Self {
        guard let id = Self(validating: raw) else { throw DomainError.invalid(field, "is not an id") }
        return id
    }

    /// The same for an optional value: nil stays nil.
    static func parse(ifPresent raw: String?, field: String) throws -> Self? {
        try raw.map { try parse($0, field: field) }
    }
}

extension AppRequestContext {
    /// A path parameter parsed as a typed id; a malformed id is a 404 (it cannot exist).
    func id<Tag>(_ name: String, resource: String, as: Identifier<Tag>.Type = Identifier<Tag>.self) throws -> Identifier<Tag> {
        let raw = parameters.get(name) ?? ""
        guard let id = Identifier<Tag>(validating: raw) else { throw DomainError.notFound(resource: resource, id: raw) }
        return id
    }
}
