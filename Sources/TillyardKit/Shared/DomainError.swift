/// A problem with one input field, reported back to the caller by name.
public struct FieldError: Codable, Sendable, Equatable {
    /// Dotted path of the field (e.g. `username`, `lines.0.quantity`).
    public var field: String
    /// Human-readable explanation (English; the console translates by code where it can).
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// The typed errors of the domain. One middleware maps them to RFC 9457 problem+json
/// (API) or an error page (console); nothing else decides HTTP status codes.
public enum DomainError: Error, Sendable, Equatable {
    /// Input failed validation; nothing was written.
    case validation([FieldError])
    /// The caller is not authenticated (no or bad credentials).
    case unauthenticated(String)
    /// Authenticated but not allowed to do this.
    case forbidden(String)
    /// No such resource visible to the caller. Also used for other tenants' resources so that
    /// their existence does not leak.
    case notFound(resource: String, id: String)
    /// The request conflicts with current state (duplicate, stale version, illegal transition).
    case conflict(String)
    /// Syntactically fine but semantically refused (e.g. an idempotency key reused with another body,
    /// card data that must never be sent).
    case unprocessable(String)
    /// Too many attempts; retry later.
    case tooManyRequests(String)

    /// Convenience for a single-field validation error.
    public static func invalid(_ field: String, _ message: String) -> DomainError {
        .validation([FieldError(field: field, message: message)])
    }

    /// Short human-readable summary.
    public var message: String {
        switch self {
        case .validation(let fields):
            return fields.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        case .unauthenticated(let text), .forbidden(let text), .conflict(let text),
             .unprocessable(let text), .tooManyRequests(let text):
            return text
        case .notFound(let resource, let id):
            return "\(resource) \(id) not found"
        }
    }
}
