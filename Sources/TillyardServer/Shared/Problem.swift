import Foundation
import Hummingbird
import Logging
import TillyardKit

/// Errors of the HTTP layer itself (not the domain's).
public enum ProblemError: Error, Sendable {
    /// The body is not JSON at all.
    case malformedJSON(String)
}

/// An RFC 9457 problem details document.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var instance: String?
    /// Field-level messages for validation problems.
    public var errors: [FieldError]?
    /// Machine-readable reason of a refused terminal request (`SignatureFailure` raw value).
    public var reason: String?

    /// The problem for any error: domain errors by kind, HTTP errors by status, anything else a 500
    /// that says nothing about internals.
    public static func from(_ error: any Error, instance: String?) -> Problem {
        func make(_ slug: String, _ title: String, _ status: HTTPResponse.Status, _ detail: String, _ errors: [FieldError]? = nil) -> Problem {
            Problem(type: "urn:tillyard:problem:\(slug)", title: title, status: status.code, detail: detail, instance: instance, errors: errors)
        }
        switch error {
        case let error as DomainError:
            switch error {
            case .validation(let fields):
                return make("validation", "Invalid input", .unprocessableContent, error.message, fields)
            case .unauthenticated(let text): return make("unauthenticated", "Authentication required", .unauthorized, text)
            case .forbidden(let text): return make("forbidden", "Not allowed", .forbidden, text)
            case .notFound: return make("not-found", "Not found", .notFound, error.message)
            case .conflict(let text): return make("conflict", "Conflict", .conflict, text)
            case .unprocessable(let text): return make("unprocessable", "Request refused", .unprocessableContent, text)
            case .tooManyRequests(let text): return make("too-many-requests", "Too many requests", .tooManyRequests, text)
            }
        case let failure as SignatureFailure:
            var problem = make("terminal-auth", "Terminal request refused", .unauthorized,
                               "the terminal request was refused (\(failure.rawValue)); see the reason")
            problem.reason = failure.rawValue
            return problem
        case let locked as TerminalLockedError:
            var problem = make("terminal-locked", "Terminal locked", .init(code: 423),
                               "the terminal is locked (\(locked.cause.rawValue)) since \(ISO8601DateFormatter().string(from: locked.since)); "
                               + "transactions made after that are refused until it is unlocked; keep them queued")
            problem.reason = "terminal_locked"
            return problem
        case ProblemError.malformedJSON(let text):
            return make("malformed", "Malformed request", .badRequest, text)
        case let error as any HTTPResponseError:
            // Not only HTTPError: a body over the limit throws NIOTooManyBytesError (413), which must not become a 500.
            let status = error.status
            if status == .contentTooLarge {
                return make("too-large", "Request too large", status, "the request body is larger than the server accepts")
            }
            if status == .notFound { return make("not-found", "Not found", status, "no such resource or route") }
            return make("http-\(status.code)", status.reasonPhrase, status, (error as? HTTPError)?.body ?? status.reasonPhrase)
        default:
            return make("internal", "Internal error", .internalServerError, "the server could not complete the request; it has been logged")
        }
    }

    /// The problem as an `application/problem+json` response.
    public func response() -> Response {
        let body = (try? JSONIO.encode(self)) ?? ByteBuffer(string: "{}")
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"tillyard\"" }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
    }
}

/// The one place that turns thrown errors into HTTP answers: problem+json for the API (and
/// anything not under /console), the console's error page (or a login redirect) for the console.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let console: ConsoleRenderer?

    public init(console: ConsoleRenderer?) { self.console = console }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem.from(error, instance: request.uri.path)
            if problem.status >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            }
            if request.uri.path.hasPrefix("/console"), let console {
                if problem.status == 401 { return .redirect(to: "/console/login") }
                return console.errorPage(problem, context: context)
            }
            return problem.response()
        }
    }
}
