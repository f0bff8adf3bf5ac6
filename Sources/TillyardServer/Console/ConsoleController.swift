import Foundation
import Hummingbird
import TillyardKit

/// Forms of the console. `_csrf` is checked on every one.
struct LoginForm: Decodable { var username: String; var password: String; var _csrf: String }
struct CSRFForm: Decodable { var _csrf: String }
struct OrgForm: Decodable { var parentId: String; var kind: String; var name: String; var code: String; var _csrf: String }
struct UserForm: Decodable {
    var orgId: String; var username: String; var displayName: String; var email: String?
    var role: String; var password: String; var _csrf: String
}
struct TokenForm: Decodable { var name: String; var scopes: [String]?; var expiresInDays: String?; var _csrf: String }
struct PasswordForm: Decodable { var currentPassword: String; var newPassword: String; var repeatPassword: String; var _csrf: String }

/// The web console of the Access area: login, dashboard, organisations, users, tokens, audit.
struct ConsoleController {
    let access: AccessService
    let renderer: ConsoleRenderer
    let secureCookies: Bool
    var forms: ConsoleForms { ConsoleForms(access: access, renderer: renderer) }

    func register(on router: Router<AppRequestContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/console") }
        router.get("static/console.css") { _, _ in Self.staticFile(renderer.stylesheet, type: "text/css") }
        router.get("static/console.js") { _, _ in Self.staticFile(renderer.script, type: "text/javascript") }
        // Receipt pages (ReceiptRenderer.html) link this one: the CSP allows no inline style.
        router.get("static/receipt.css") { _, _ in Self.staticFile(renderer.receiptStylesheet, type: "text/css") }
        let console = router.group("console")
        console.get("login", use: loginPage)
        console.post("login", use: login)
        console.post("logout", use: logout)
        console.get("language/:code", use: language)
        console.get("", use: dashboard)
        console.get("orgs", use: orgs)
        console.post("orgs", use: createOrg)
        console.get("users", use: users)
        console.post("users", use: createUser)
        console.get("tokens", use: tokens)
        console.post("tokens", use: createToken)
        console.post("tokens/:id/revoke", use: revokeToken)
        console.get("audit", use: audit)
        console.get("account", use: account)
        console.post("account/password", use: changePassword)
    }

    /// A static file served from memory, cached for an hour.
    static func staticFile(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: "\(type); charset=utf-8", .cacheControl: "max-age=3600"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Login

    @Sendable func loginPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        if context.principal != nil { return .redirect(to: "/console") }
        let notice = request.query("changed") != nil ? renderer.text("login_password_changed", locale: context.locale) : nil
        return loginForm(context: context, username: "", error: nil, status: .ok, notice: notice)
    }

    private func loginForm(context: AppRequestContext, username: String, error: String?, status: HTTPResponse.Status,
                           notice: String? = nil) -> Response {
        let token = Secrets.randomHex(bytes: 16)
        var response = renderer.page("login", titleKey: "login_title", context: context,
                                     data: ["loginCsrf": token, "username": username, "error": error as Any, "notice": notice as Any],
                                     status: status)
        response.setCookie(Cookie(name: CookieName.loginCSRF, value: token, path: "/console", secure: secureCookies,
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await forms.decode(LoginForm.self, request, context)
        guard let cookie = request.cookies[CookieName.loginCSRF]?.value, Secrets.constantTimeEquals(cookie, form._csrf) else {
            return loginForm(context: context, username: form.username, error: renderer.text("login_expired", locale: context.locale), status: .forbidden)
        }
        do {
            let result = try await access.login(username: form.username, password: form.password, origin: context.origin)
            var response = Response.redirect(to: "/console", type: .found)
            response.setCookie(Cookie(name: CookieName.session, value: result.cookieSecret, maxAge: Int(access.sessionLifetime),
                                      path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax))
            return response
        } catch let error as DomainError {
            let key: String
            if case .tooManyRequests = error { key = "login_locked" } else { key = "login_failed" }
            let status: HTTPResponse.Status = key == "login_locked" ? .tooManyRequests : .unauthorized
            return loginForm(context: context, username: form.username, error: renderer.text(key, locale: context.locale), status: status)
        }
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(CSRFForm.self, request, context)
        try await access.logout(principal)
        return signedOut(to: "/console/login")
    }

    /// A redirect that also drops the session cookie (its session has ended).
    private func signedOut(to location: String) -> Response {
        var response = Response.redirect(to: location, type: .found)
        response.setCookie(Cookie(name: CookieName.session, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }

    // MARK: - My account

    @Sendable func account(_ request: Request, context: AppRequestContext) async throws -> Response {
        try accountPage(context, error: nil, status: .ok)
    }

    private func accountPage(_ context: AppRequestContext, error: String?, status: HTTPResponse.Status) throws -> Response {
        let user = try context.requirePrincipal().user
        return renderer.page("account", titleKey: "nav_account", context: context, data: [
            "account": ["username": user.username, "displayName": user.displayName,
                        "role": renderer.text("role_\(user.role.rawValue)", locale: context.locale)],
            "error": error as Any,
        ], status: status)
    }

    /// One's own password: the current one is checked like a login (`AccessService.resetPassword`), and
    /// every session ends, this one included, so the browser goes back to the sign-in page.
    @Sendable func changePassword(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(PasswordForm.self, request, context)
        guard form.newPassword == form.repeatPassword else {
            return try accountPage(context, error: renderer.text("account_password_mismatch", locale: context.locale), status: .unprocessableContent)
        }
        let locale = context.locale
        do {
            try await access.resetPassword(principal.user.id, newPassword: form.newPassword, currentPassword: form.currentPassword, by: principal)
            return signedOut(to: "/console/login?changed=1")
        } catch DomainError.validation(let fields) {
            // Named by the form's own labels: "currentPassword: is not your current password" is the API's wording.
            let text = fields.contains { $0.field == "currentPassword" }
                ? renderer.text("account_current_wrong", locale: locale)
                : fields.map { "\(renderer.text("account_new_password", locale: locale)): \($0.message)" }.joined(separator: "; ")
            return try accountPage(context, error: text, status: .unprocessableContent)
        } catch let error as DomainError {
            return try accountPage(context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func language(_ request: Request, context: AppRequestContext) async throws -> Response {
        let code = context.parameters.get("code") ?? "en"
        guard AccessRules.locales.contains(code) else { throw DomainError.notFound(resource: "language", id: code) }
        // Only go back to our own console pages, never to an arbitrary Referer.
        let back = request.headers[.referer].flatMap { URL(string: $0)?.path }.flatMap { $0.hasPrefix("/console") ? $0 : nil } ?? "/console"
        var response = Response.redirect(to: back, type: .found)
        response.setCookie(Cookie(name: CookieName.language, value: code, maxAge: 365 * 86400, path: "/", secure: secureCookies,
                                  httpOnly: false, sameSite: .lax))
        return response
    }

    // MARK: - Pages

    @Sendable func dashboard(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let counts = try await access.dashboardCounts(by: principal)
        return renderer.page("dashboard", titleKey: "nav_dashboard", context: context, data: [
            "counts": ["organizations": counts.organizations, "users": counts.users, "auditEvents": counts.auditEvents],
            "canAudit": principal.can(.auditRead),
        ])
    }

    @Sendable func orgs(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await orgsPage(request, context, error: nil, form: [:], status: .ok)
    }

    private func orgsPage(_ request: Request, _ context: AppRequestContext, error: String?, form: [String: String],
                          status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await access.organizations(kind: nil, page: try request.pageRequest(), by: principal)
        let locale = context.locale
        let rows = page.items.map { org -> [String: Any] in
            ["id": org.id.rawValue, "name": org.name, "code": org.code, "kind": renderer.text("kind_\(org.kind.rawValue)", locale: locale),
             "depth": String(repeating: "· ", count: max(0, org.depth - 1)), "createdAt": org.createdAt.iso8601]
        }
        let parents = principal.can(.orgsManage)
            ? try await forms.orgOptions(principal, selected: form["parentId"]) { !$0.kind.allowedChildren.isEmpty } : []
        let kinds = forms.options(OrgKind.allCases.filter { $0 != .acquirer }, prefix: "kind", selected: form["kind"], locale: locale)
        return renderer.page("orgs", titleKey: "nav_orgs", context: context, data: [
            "orgs": rows, "parents": parents, "kinds": kinds, "canManage": principal.can(.orgsManage),
            "next": page.nextCursor as Any, "error": error as Any, "form": form,
        ], status: status)
    }

    @Sendable func createOrg(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(OrgForm.self, request, context)
        let values = ["parentId": form.parentId, "kind": form.kind, "name": form.name, "code": form.code]
        do {
            guard let kind = OrgKind(rawValue: form.kind) else { throw DomainError.invalid("kind", "choose a kind") }
            guard let parent = OrgID(validating: form.parentId) else { throw DomainError.invalid("parentId", "choose a parent") }
            _ = try await access.createOrganization(NewOrganization(parentId: parent, kind: kind, name: form.name, code: form.code), by: principal)
            return .redirect(to: "/console/orgs", type: .found)
        } catch let error as DomainError {
            return try await orgsPage(request, context, error: error.message, form: values, status: ConsoleForms.status(error))
        }
    }

    @Sendable func users(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await usersPage(request, context, error: nil, form: [:], status: .ok)
    }

    private func usersPage(_ request: Request, _ context: AppRequestContext, error: String?, form: [String: String],
                           status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await access.users(page: try request.pageRequest(), by: principal)
        let locale = context.locale
        let now = access.clock.now()
        let rows = page.items.map { user -> [String: Any] in
            ["username": user.username, "displayName": user.displayName, "email": user.email ?? "",
             "role": renderer.text("role_\(user.role.rawValue)", locale: locale),
             "status": renderer.text("status_\(user.status.rawValue)", locale: locale),
             "locked": (user.lockedUntil ?? .distantPast) > now]
        }
        let orgOptions = principal.can(.usersManage) ? try await forms.orgOptions(principal, selected: form["orgId"]) { _ in true } : []
        let roles = forms.options(Role.allCases.filter { $0.permissions.isSubset(of: principal.permissions) }, prefix: "role",
                            selected: form["role"], locale: locale)
        return renderer.page("users", titleKey: "nav_users", context: context, data: [
            "users": rows, "orgOptions": orgOptions, "roles": roles, "canManage": principal.can(.usersManage),
            "next": page.nextCursor as Any, "error": error as Any, "form": form,
        ], status: status)
    }

    @Sendable func createUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(UserForm.self, request, context)
        let values = ["orgId": form.orgId, "username": form.username, "displayName": form.displayName, "email": form.email ?? "", "role": form.role]
        do {
            guard let role = Role(rawValue: form.role) else { throw DomainError.invalid("role", "choose a role") }
            guard let org = OrgID(validating: form.orgId) else { throw DomainError.invalid("orgId", "choose an organisation") }
            _ = try await access.createUser(NewUser(orgId: org, username: form.username, displayName: form.displayName,
                                                    email: form.email, role: role, password: form.password), by: principal)
            return .redirect(to: "/console/users", type: .found)
        } catch let error as DomainError {
            return try await usersPage(request, context, error: error.message, form: values, status: ConsoleForms.status(error))
        }
    }

    @Sendable func tokens(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await tokensPage(request, context, issued: nil, error: nil, status: .ok)
    }

    private func tokensPage(_ request: Request, _ context: AppRequestContext, issued: String?, error: String?,
                            status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await access.tokens(page: try request.pageRequest(), by: principal)
        let rows = page.items.map { token -> [String: Any] in
            ["id": token.id.rawValue, "name": token.name, "prefix": token.prefix,
             "scopes": token.scopes.map(\.rawValue).sorted().joined(separator: " "),
             "createdAt": token.createdAt.iso8601, "lastUsedAt": token.lastUsedAt?.iso8601 ?? "—",
             "expiresAt": token.expiresAt?.iso8601 ?? "—", "revoked": token.revokedAt != nil]
        }
        let scopes = principal.permissions.sorted().map { ["value": $0.rawValue] }
        return renderer.page("tokens", titleKey: "nav_tokens", context: context, data: [
            "tokens": rows, "scopes": scopes, "issued": issued as Any, "error": error as Any, "next": page.nextCursor as Any,
        ], status: status)
    }

    @Sendable func createToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(TokenForm.self, request, context)
        do {
            var scopes = Set<Permission>()
            for raw in form.scopes ?? [] {
                guard let scope = Permission(rawValue: raw) else { throw DomainError.invalid("scopes", "unknown scope \(raw)") }
                scopes.insert(scope)
            }
            var days: Int?
            if let raw = form.expiresInDays, !raw.isEmpty {
                guard let value = Int(raw) else { throw DomainError.invalid("expiresInDays", "must be a whole number") }
                days = value
            }
            let issued = try await access.createToken(name: form.name, scopes: scopes, expiresInDays: days, by: principal)
            // Shown once, on this response only; never stored in clear.
            return try await tokensPage(request, context, issued: issued.plaintext, error: nil, status: .created)
        } catch let error as DomainError {
            return try await tokensPage(request, context, issued: nil, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func revokeToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(CSRFForm.self, request, context)
        let id: TokenID = try context.id("id", resource: "api_token")
        _ = try await access.revokeToken(id, by: principal)
        return .redirect(to: "/console/tokens", type: .found)
    }

    @Sendable func audit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try principal.require(.auditRead)
        let filter = try AccessAPI.auditFilter(request)
        let page = try await access.auditEvents(filter, page: try request.pageRequest(), by: principal)
        let rows = page.items.map { event -> [String: Any] in
            ["seq": event.seq, "at": event.at.iso8601, "actor": event.actor.name, "action": event.action,
             "resource": "\(event.resourceType) \(event.resourceId)", "outcome": event.outcome.rawValue,
             "failed": event.outcome != .success, "origin": event.origin,
             "summary": Self.summaryLines(event.summary)]
        }
        var verification: [String: Any]?
        // The chain spans every tenant: only the acquirer level may learn its length and breaks.
        let canVerify = principal.orgKind == .acquirer
        if request.query("verify") != nil, canVerify {
            let result = try await access.verifyAuditChain()
            verification = ["intact": result.firstBreak == nil, "checked": result.checked,
                            "reason": result.firstBreak?.description ?? ""]
        }
        var nextQuery = URLComponents()
        nextQuery.queryItems = ["action", "actor", "resourceType", "resourceId", "outcome", "from", "to"].compactMap { name in
            request.query(name).map { URLQueryItem(name: name, value: $0) }
        } + [URLQueryItem(name: "cursor", value: page.nextCursor)]
        let filterValues: [String: String] = ["action": filter.action ?? "", "actor": filter.actorName ?? "",
                                              "resourceType": filter.resourceType ?? "", "resourceId": filter.resourceId ?? "",
                                              "from": request.query("from") ?? "", "to": request.query("to") ?? ""]
        let outcomes = AuditOutcome.allCases.map { ["value": $0.rawValue, "selected": filter.outcome == $0] }
        return renderer.page("audit", titleKey: "nav_audit", context: context, data: [
            "events": rows, "filter": filterValues, "outcomes": outcomes, "verification": verification as Any, "canVerify": canVerify,
            "nextHref": page.nextCursor == nil ? "" : "/console/audit?" + (nextQuery.percentEncodedQuery ?? ""),
        ])
    }

    // MARK: - Helpers

    /// An event's summary as "key: value" lines, in key order.
    static func summaryLines(_ json: String) -> [[String: String]] {
        let fields = (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
        return fields.keys.sorted().map { ["key": $0, "value": fields[$0] ?? ""] }
    }

}

extension LoginForm: CSRFCarrying {}
extension CSRFForm: CSRFCarrying {}
extension OrgForm: CSRFCarrying {}
extension UserForm: CSRFCarrying {}
extension TokenForm: CSRFCarrying {}
extension PasswordForm: CSRFCarrying {}
