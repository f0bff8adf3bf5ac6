import Hummingbird
import TillyardKit

/// Names of the cookies the console sets.
public enum CookieName {
    /// The session secret (HttpOnly, SameSite=Lax).
    public static let session = "tillyard_session"
    /// Anti-CSRF token for the login form, before a session exists.
    public static let loginCSRF = "tillyard_login_csrf"
    /// Chosen console language.
    public static let language = "tillyard_lang"
}

/// Resolves who is calling (API token or console session) and the console language, and
/// enforces CSRF on unsafe requests authenticated by cookie.
///
/// It never refuses a request for lacking credentials: routes decide whether they need a
/// principal (`context.requirePrincipal()`), so public routes stay simple.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let access: AccessService
    let bodyLimit: Int

    public init(access: AccessService, bodyLimit: Int) {
        self.access = access
        self.bodyLimit = bodyLimit
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.bodyLimit = bodyLimit
        context.locale = Self.locale(for: request)
        if let authorization = request.headers[.authorization] {
            guard authorization.hasPrefix("Bearer "),
                  let principal = try await access.principal(bearer: String(authorization.dropFirst(7)), origin: context.origin) else {
                throw DomainError.unauthenticated("the API token is not valid (unknown, revoked or expired)")
            }
            context.principal = principal
        } else if let secret = request.cookies[CookieName.session]?.value,
                  let principal = try await access.principal(sessionSecret: secret, origin: context.origin) {
            context.principal = principal
            if let locale = principal.user.locale, request.cookies[CookieName.language] == nil { context.locale = locale }
            // A cookie rides along on cross-site requests, so unsafe methods must prove they come from our pages.
            if !Self.isSafe(request.method), case .session(_, let csrf) = principal.credential {
                let sent = request.headers[.init("X-CSRF-Token")!] ?? request.uri.queryParameters["_csrf"].map(String.init)
                if let sent, Secrets.constantTimeEquals(sent, csrf) {
                    // Header or query carried it (API calls from console scripts).
                } else if request.uri.path.hasPrefix("/console/"),
                          request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
                    // Forms carry it as a field; the console controller checks it after decoding the form.
                } else {
                    throw DomainError.forbidden("missing or wrong CSRF token")
                }
            }
        }
        do {
            return try await next(request, context)
        } catch DomainError.forbidden(let reason) {
            // Refusals are security events: who tried what, in the audit trail.
            if let principal = context.principal {
                await access.recordDenied(principal, action: "\(request.method.rawValue) \(context.endpointPath ?? request.uri.path)",
                                          resourceType: "route", resourceId: request.uri.path, reason: reason)
            }
            throw DomainError.forbidden(reason)
        }
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }

    /// The console language: the switch's cookie, else the browser's Accept-Language.
    static func locale(for request: Request) -> String {
        if let chosen = request.cookies[CookieName.language]?.value, AccessRules.locales.contains(chosen) { return chosen }
        let accept = request.headers[.acceptLanguage]?.lowercased() ?? ""
        for part in accept.split(separator: ",") {
            let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if tag.hasPrefix("zh") { return "zh-CN" }
            if tag.hasPrefix("en") { return "en" }
        }
        return "en"
    }
}
