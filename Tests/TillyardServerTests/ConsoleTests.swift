import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// A minimal browser: keeps cookies between requests.
struct CookieJar: Sendable {
    var cookies: [String: String] = [:]

    /// Headers with the `Cookie` header (plus `extra`).
    func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var all = extra
        if !cookies.isEmpty {
            all[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        return all
    }

    /// Stores the cookies a response sets (an empty value or Max-Age=0 deletes).
    mutating func absorb(_ response: TestResponse) {
        for (name, header) in response.setCookies {
            let value = response.cookie(name) ?? ""
            if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
    }
}

extension Harness {
    /// GET or POST a console page as a browser would, updating the jar.
    @discardableResult
    func browse(_ method: HTTPRequest.Method, _ uri: String, jar: inout CookieJar, form: [(String, String)]? = nil,
                headers: HTTPFields = [:]) async throws -> TestResponse {
        var all = jar.headers(headers)
        if form != nil { all[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(uri: uri, method: method, headers: all, body: form.map(formBody))
        jar.absorb(response)
        return response
    }

    /// The whole login flow; returns the POST's response (302 on success).
    func consoleLogin(_ username: String, password: String = Fixtures.password, jar: inout CookieJar,
                      headers: HTTPFields = [:]) async throws -> TestResponse {
        let page = try await browse(.get, "/console/login", jar: &jar, headers: headers)
        let csrf = hiddenCSRF(in: page.text) ?? ""
        return try await browse(.post, "/console/login", jar: &jar,
                                form: [("username", username), ("password", password), ("_csrf", csrf)], headers: headers)
    }

    /// A logged-in browser for a fixture user and the session's CSRF token (from the page's forms).
    func consoleSession(_ username: String) async throws -> (CookieJar, String) {
        var jar = CookieJar()
        let response = try await consoleLogin(username, jar: &jar)
        #expect(response.status == .found, "login of \(username): \(response.status.code)")
        let dashboard = try await browse(.get, "/console", jar: &jar)
        return (jar, try #require(hiddenCSRF(in: dashboard.text)))
    }
}

/// The server-rendered console: languages, login with CSRF and lock-out, tenant-scoped pages.
@Suite struct ConsoleTests {
    static let english: HTTPFields = [.acceptLanguage: "en"]
    static let chinese: HTTPFields = [.acceptLanguage: "zh-CN,zh;q=0.9"]

    /// The text of the first element with an id.
    static func element(_ id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
        guard let open = html[start.upperBound...].firstIndex(of: ">") else { return nil }
        let rest = html[html.index(after: open)...]
        guard let close = rest.firstIndex(of: "<") else { return nil }
        return String(rest[..<close]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Receipt pages (ReceiptRenderer.html) link /static/receipt.css, since the CSP allows no inline style.
    @Test func receiptStylesheetIsServedFromTheSameOrigin() async throws {
        try await Harness.run(.sqlite) { h in
            let css = try await h.send(.get, "/static/receipt.css")
            #expect(css.status == .ok)
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(css.text.contains(".receipt") && css.text.contains("@media print"))
            #expect(!css.text.contains("url(") && !css.text.contains("@import"), "no foreign assets")
            #expect(ReceiptRenderer.html(Receipt(merchantName: "M", storeName: "S", storeCode: "C", receiptNumber: "1",
                                                 issuedAt: Date(), timeZone: "Asia/Shanghai", cashier: "c", register: "r",
                                                 lines: [], gross: 0, total: 0, tenders: []))
                .contains("href=\"/static/receipt.css\""))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func loginPageSpeaksTheBrowsersLanguageAndTheSwitchSetsACookie(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let english = try await h.send(.get, "/console/login", headers: Self.english)
            #expect(english.status == .ok)
            #expect(english.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(english.text.contains(#"<html lang="en">"#))
            #expect(english.text.contains("Sign in"))
            #expect(!english.text.contains("登录"))
            #expect(english.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)

            let chinese = try await h.send(.get, "/console/login", headers: Self.chinese)
            #expect(chinese.status == .ok)
            #expect(chinese.text.contains(#"<html lang="zh-CN">"#))
            #expect(chinese.text.contains("登录"))
            #expect(!chinese.text.contains("Sign in"))

            // No or an unsupported language → English; the first supported preference wins.
            #expect(try await h.send(.get, "/console/login").text.contains(#"lang="en""#))
            #expect(try await h.send(.get, "/console/login", headers: [.acceptLanguage: "fr-FR,fr;q=0.9"]).text.contains(#"lang="en""#))
            #expect(try await h.send(.get, "/console/login", headers: [.acceptLanguage: "fr,zh-TW;q=0.8,en;q=0.5"]).text.contains(#"lang="zh-CN""#))

            // The switch: a cookie, and back to the console page the user came from.
            let switched = try await h.send(.get, "/console/language/zh-CN", headers: [.referer: "http://localhost:8080/console/users"])
            #expect(switched.status == .found)
            #expect(switched.headers[.location] == "/console/users")
            #expect(switched.cookie(CookieName.language) == "zh-CN")
            let cookie = try #require(switched.setCookies[CookieName.language])
            #expect(cookie.contains("Path=/"))
            #expect(cookie.contains("SameSite=Lax"))
            // The cookie beats Accept-Language.
            let chosen = try await h.send(.get, "/console/login", headers: [.acceptLanguage: "en", .cookie: "\(CookieName.language)=zh-CN"])
            #expect(chosen.text.contains("登录"))
            let back = try await h.send(.get, "/console/language/en", headers: [.referer: "https://evil.example/phish"])
            #expect(back.headers[.location] == "/console", "never redirects off-site")
            #expect(back.cookie(CookieName.language) == "en")
            // An unknown language is a 404 page and sets nothing.
            let unknown = try await h.send(.get, "/console/language/fr")
            #expect(unknown.status == .notFound)
            #expect(unknown.setCookies.isEmpty)
            #expect(unknown.headers[.contentType]?.hasPrefix("text/html") == true)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func fullLoginFlowShowsRealCountsAndLogoutEndsTheSession(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var jar = CookieJar()
            let page = try await h.browse(.get, "/console/login", jar: &jar)
            let loginCookie = try #require(page.setCookies[CookieName.loginCSRF])
            #expect(loginCookie.contains("HttpOnly"))
            #expect(loginCookie.contains("SameSite=Strict"))
            let field = try #require(hiddenCSRF(in: page.text))
            #expect(field == jar.cookies[CookieName.loginCSRF], "the form and the cookie carry the same token")

            let login = try await h.browse(.post, "/console/login", jar: &jar,
                                           form: [("username", "merchantA.owner"), ("password", Fixtures.password), ("_csrf", field)])
            #expect(login.status == .found)
            #expect(login.headers[.location] == "/console")
            let session = try #require(login.setCookies[CookieName.session])
            #expect(session.contains("HttpOnly"))
            #expect(session.contains("SameSite=Lax"))
            #expect(session.contains("Path=/"))
            #expect(!session.contains("Secure"), "Secure only when configured")
            #expect((jar.cookies[CookieName.session] ?? "").count >= 32)

            let dashboard = try await h.browse(.get, "/console", jar: &jar)
            #expect(dashboard.status == .ok)
            // merchantA.owner sees merchant-a and store-a, and two users there.
            #expect(Self.element("count-orgs", in: dashboard.text) == "2")
            #expect(Self.element("count-users", in: dashboard.text) == "2")
            #expect(Self.element("count-audit", in: dashboard.text) == nil, "no audit tile without audit.read")
            #expect(Self.element("me-name", in: dashboard.text) == "merchantA.owner")

            // Visiting the login page while signed in goes to the dashboard.
            #expect(try await h.browse(.get, "/console/login", jar: &jar).status.code / 100 == 3)

            // The admin's dashboard counts the whole tree, audit included.
            var adminBrowser = try await h.consoleSession("admin").0
            let adminDashboard = try await h.browse(.get, "/console", jar: &adminBrowser)
            #expect(Self.element("count-orgs", in: adminDashboard.text) == "7")
            #expect(Self.element("count-users", in: adminDashboard.text) == "6")
            let counts = try await h.send(.get, "/api/v1/dashboard", as: "admin")
            let audit = try #require(counts.object["auditEvents"] as? Int)
            #expect(audit > 10)
            #expect(Int(Self.element("count-audit", in: adminDashboard.text) ?? "") ?? 0 >= audit - 1)

            // Logout needs the CSRF token, clears the cookie and kills the session server-side.
            let stolen = jar.cookies[CookieName.session] ?? ""
            let csrf = try #require(hiddenCSRF(in: dashboard.text))
            let logout = try await h.browse(.post, "/console/logout", jar: &jar, form: [("_csrf", csrf)])
            #expect(logout.status == .found)
            #expect(logout.headers[.location] == "/console/login")
            #expect(jar.cookies[CookieName.session] == nil)
            let replay = try await h.send(.get, "/console", headers: [.cookie: "\(CookieName.session)=\(stolen)"])
            #expect(replay.status.code / 100 == 3)
            #expect(replay.headers[.location] == "/console/login")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func wrongPasswordAndMissingOrWrongCSRFAreRefused(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            // Wrong password: 401 page with the message, no session.
            var jar = CookieJar()
            let wrong = try await h.consoleLogin("merchantA.owner", password: "not-the-password", jar: &jar, headers: Self.english)
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Wrong username or password."))
            #expect(wrong.text.contains(#"value="merchantA.owner""#), "the username is kept in the form")
            #expect(jar.cookies[CookieName.session] == nil)
            // An unknown user gets exactly the same answer.
            var other = CookieJar()
            let unknown = try await h.consoleLogin("nobody.here", password: "not-the-password", jar: &other, headers: Self.english)
            #expect(unknown.status == .unauthorized)
            #expect(unknown.text.contains("Wrong username or password."))
            // In Chinese.
            var zh = CookieJar()
            let chinese = try await h.consoleLogin("merchantA.owner", password: "not-the-password", jar: &zh, headers: Self.chinese)
            #expect(chinese.status == .unauthorized)
            #expect(chinese.text.contains("用户名或密码错误"))

            let auditBefore = try await h.snapshot().auditEvents
            var fresh = CookieJar()
            let page = try await h.browse(.get, "/console/login", jar: &fresh)
            let token = try #require(hiddenCSRF(in: page.text))
            let good = [("username", "merchantA.owner"), ("password", Fixtures.password)]
            // Missing _csrf field.
            var attempt = fresh
            let missing = try await h.browse(.post, "/console/login", jar: &attempt, form: good)
            #expect(missing.status.code / 100 == 4, "missing CSRF → \(missing.status.code)")
            #expect(attempt.cookies[CookieName.session] == nil)
            // Wrong _csrf field.
            attempt = fresh
            let mismatched = try await h.browse(.post, "/console/login", jar: &attempt, form: good + [("_csrf", "0123456789abcdef")], headers: Self.english)
            #expect(mismatched.status == .forbidden)
            #expect(mismatched.text.contains("The sign-in form expired"))
            #expect(attempt.cookies[CookieName.session] == nil)
            // Right field but no cookie (a cross-site form post).
            let noCookie = try await h.client.execute(uri: "/console/login", method: .post,
                                                      headers: [.contentType: "application/x-www-form-urlencoded"],
                                                      body: formBody(good + [("_csrf", token)]))
            #expect(noCookie.status == .forbidden)
            #expect(noCookie.setCookies[CookieName.session] == nil)
            // None of these even reached the password check.
            #expect(try await h.snapshot().auditEvents == auditBefore)
            // The untouched pair still works.
            let ok = try await h.browse(.post, "/console/login", jar: &fresh, form: good + [("_csrf", token)])
            #expect(ok.status == .found)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func fiveFailuresLockTheAccount(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var jar = CookieJar()
            var statuses: [Int] = []
            var last: TestResponse?
            for _ in 0..<AccessRules.maxFailedLogins {
                let response = try await h.consoleLogin("merchantA.owner", password: "guess-guess-guess", jar: &jar, headers: Self.english)
                statuses.append(Int(response.status.code))
                last = response
            }
            #expect(statuses == [401, 401, 401, 401, 429])
            #expect(last?.text.contains("This account is locked") == true)
            // Now even the right password is refused, with the same message.
            let right = try await h.consoleLogin("merchantA.owner", jar: &jar, headers: Self.english)
            #expect(right.status == .tooManyRequests)
            #expect(right.text.contains("This account is locked"))
            #expect(jar.cookies[CookieName.session] == nil)
            // The API shows the lock; other accounts are unaffected.
            let user = try await h.send(.get, "/api/v1/users/\(h.user("merchantA.owner").id.rawValue)", as: "admin")
            #expect(user.object["locked"] as? Bool == true)
            var other = CookieJar()
            #expect(try await h.consoleLogin("merchantB.owner", jar: &other).status == .found)
            // After the lock-out period the right password works again.
            h.env.clock.advance(AccessRules.lockout + 1)
            #expect(try await h.consoleLogin("merchantA.owner", jar: &jar).status == .found)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consolePostsNeedTheSessionsCSRFToken(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (adminJar, csrf) = try await h.consoleSession("admin")
            var jar = adminJar
            let form = [("parentId", h.fixtures.merchantA.rawValue), ("kind", "store"), ("name", "store-a2"), ("code", "SA2")]
            let before = try await h.snapshot()
            let wrong = try await h.browse(.post, "/console/orgs", jar: &jar, form: form + [("_csrf", "forged")], headers: Self.english)
            #expect(wrong.status == .forbidden)
            #expect(wrong.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(wrong.text.contains("id=\"error-page\""))
            #expect(wrong.text.contains("403"))
            let missing = try await h.browse(.post, "/console/orgs", jar: &jar, form: form)
            #expect(missing.status.code / 100 == 4, "missing CSRF → \(missing.status.code)")
            // Same cookie, but not a form: AuthMiddleware wants the X-CSRF-Token header.
            let json = try await h.client.execute(uri: "/console/orgs", method: .post,
                                                  headers: jar.headers([.contentType: "application/json"]),
                                                  body: ByteBuffer(string: #"{"name":"x"}"#))
            #expect(json.status == .forbidden)
            // Someone else's CSRF token is no good either.
            let (_, otherCSRF) = try await h.consoleSession("regionA.admin")
            let foreignToken = try await h.browse(.post, "/console/orgs", jar: &jar, form: form + [("_csrf", otherCSRF)])
            #expect(foreignToken.status == .forbidden)
            #expect(try await h.snapshot().orgs == before.orgs, "nothing created")

            let ok = try await h.browse(.post, "/console/orgs", jar: &jar, form: form + [("_csrf", csrf)])
            #expect(ok.status == .found, "\(ok.text)")
            #expect(ok.headers[.location] == "/console/orgs")
            let orgs = try await h.browse(.get, "/console/orgs", jar: &jar)
            #expect(orgs.text.contains("store-a2"))
            #expect(try await h.snapshot().orgs.count == before.orgs.count + 1)

            // A refused create re-renders the form with the error and the values typed.
            let invalid = try await h.browse(.post, "/console/orgs", jar: &jar,
                                             form: [("parentId", h.fixtures.storeA.rawValue), ("kind", "store"), ("name", "nested"),
                                                    ("code", "NEST"), ("_csrf", csrf)])
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains("role=\"alert\""))
            #expect(invalid.text.contains("value=\"nested\""))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func pagesAreScopedToTheCallersTenantAndRole(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            // Without a session every console page sends the browser to the login page.
            for path in ["/console", "/console/users", "/console/orgs", "/console/tokens", "/console/audit"] {
                let response = try await h.send(.get, path)
                #expect(response.status.code / 100 == 3, "\(path) → \(response.status.code)")
                #expect(response.headers[.location] == "/console/login", "\(path)")
            }
            #expect(try await h.send(.get, "/").headers[.location] == "/console")

            let (ownerJar, ownerCSRF) = try await h.consoleSession("merchantA.owner")
            var owner = ownerJar
            let users = try await h.browse(.get, "/console/users", jar: &owner)
            #expect(users.status == .ok)
            #expect(users.text.contains("storea.cashier"))
            #expect(users.text.contains("merchanta.owner"))
            for hidden in ["merchantb.owner", "regiona.admin", "security", ">admin<"] {
                #expect(!users.text.contains(hidden), "merchant A's users page shows \(hidden)")
            }
            let orgs = try await h.browse(.get, "/console/orgs", jar: &owner)
            #expect(orgs.text.contains("store-a"))
            for hidden in ["merchant-b", "store-b", "region-b", h.fixtures.merchantB.rawValue] {
                #expect(!orgs.text.contains(hidden), "merchant A's orgs page shows \(hidden)")
            }
            // Audit needs audit.read: an error page for the merchant, the trail for security.
            let forbidden = try await h.browse(.get, "/console/audit", jar: &owner, headers: Self.english)
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.text.contains("id=\"error-page\""))
            #expect(forbidden.text.contains("Not allowed"))
            #expect(!forbidden.text.contains("id=\"audit-table\""))

            // Revoking merchant B's token from merchant A's console is a 404 and changes nothing.
            let tokensB = try await h.tokenIDs()["merchantB.owner"] ?? []
            let tokenB = try #require(tokensB.first)
            let before = try await h.snapshot()
            let revoke = try await h.browse(.post, "/console/tokens/\(tokenB)/revoke", jar: &owner, form: [("_csrf", ownerCSRF)])
            #expect(revoke.status == .notFound)
            #expect(try await h.snapshot() == before)

            var security = try await h.consoleSession("security").0
            let audit = try await h.browse(.get, "/console/audit", jar: &security)
            #expect(audit.status == .ok)
            #expect(audit.text.contains("id=\"audit-table\""))
            #expect(audit.text.contains("session.login"))
            let verify = try await h.browse(.get, "/console/audit?verify=1", jar: &security)
            #expect(Self.element("audit-verification", in: verify.text)?.isEmpty == false)
            #expect(verify.text.contains("card notice"), "the chain verifies as intact")
            // The cashier has only the dashboard (and the catalog, through the register).
            var cashier = try await h.consoleSession("storeA.cashier").0
            #expect(try await h.browse(.get, "/console", jar: &cashier).status == .ok)
            #expect(try await h.browse(.get, "/console/users", jar: &cashier).status == .forbidden)
        }
    }

    /// My account: one's own password changes only with the current one; success ends every session,
    /// this browser's included, and the sign-in page says why.
    @Test(arguments: TestBackend.allCases)
    func ownPasswordChangesFromMyAccount(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            var (jar, csrf) = try await h.consoleSession("storeA.cashier")
            let page = try await h.browse(.get, "/console/account", jar: &jar)
            #expect(page.status == .ok && page.text.contains("id=\"password-form\"") && page.text.contains("id=\"account-link\""))
            #expect(Self.element("account-username", in: page.text) == "storea.cashier")
            func change(_ current: String, _ new: String, _ again: String) async throws -> TestResponse {
                try await h.browse(.post, "/console/account/password", jar: &jar,
                                   form: [("currentPassword", current), ("newPassword", new), ("repeatPassword", again), ("_csrf", csrf)])
            }
            let mismatch = try await change(Fixtures.password, "Cashier-own-pass-3", "Cashier-own-pass-4")
            #expect(mismatch.status == .unprocessableContent)
            #expect(Self.element("password-error", in: mismatch.text) == "The two new passwords differ.")
            let wrong = try await change("not-my-password", "Cashier-own-pass-3", "Cashier-own-pass-3")
            #expect(wrong.status == .unprocessableContent)
            #expect(Self.element("password-error", in: wrong.text) == "The current password is not right.")
            let weak = try await change(Fixtures.password, "short", "short")
            #expect(weak.status == .unprocessableContent && Self.element("password-error", in: weak.text)?.hasPrefix("New password: ") == true)
            #expect(try await h.browse(.get, "/console/account", jar: &jar).status == .ok, "still signed in after a refusal")

            let done = try await change(Fixtures.password, "Cashier-own-pass-3", "Cashier-own-pass-3")
            #expect(done.status == .found && done.headers[.location] == "/console/login?changed=1")
            #expect(jar.cookies[CookieName.session] == nil, "the ended session's cookie is dropped")
            let login = try await h.browse(.get, "/console/login?changed=1", jar: &jar)
            #expect(Self.element("login-notice", in: login.text) == "Your password was changed. Sign in with the new one.")
            var fresh = CookieJar()
            #expect(try await h.consoleLogin("storeA.cashier", jar: &fresh).status == .unauthorized, "the old password no longer works")
            #expect(try await h.consoleLogin("storeA.cashier", password: "Cashier-own-pass-3", jar: &fresh).status == .found)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func everyPageIsFullyTranslated(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let catalogPrefixes = ["account", "action", "area", "audit", "dashboard", "error", "field", "kind", "list", "login", "nav",
                                   "orgs", "problem", "role", "status", "tokens", "users", "merchant(?!_owner)", "document", "risk", "business",
                                   "purchase", "dossier", "state", "register", "campaign", "package", "compliance"]
            // (`merchant_owner` is a role's stored name, shown as such in audit summaries, not a catalog key.)
            let rawKey = try Regex("\\b(\(catalogPrefixes.joined(separator: "|")))_[a-z][a-z_-]*\\b")
            let tags = try Regex("<[^>]*>")
            var jar = try await h.consoleSession("admin").0
            // A merchant with a started onboarding file, so its page shows every section.
            _ = try await h.env.services.merchants.start(h.fixtures.merchantA, Fixtures.application(), by: try await h.principal("admin"))
            for language in ["en", "zh-CN"] {
                jar.cookies[CookieName.language] = language
                for path in ["/console", "/console/account", "/console/orgs", "/console/users", "/console/tokens", "/console/audit?verify=1",
                             "/console/terminals", "/console/models", "/console/purchases", "/console/merchants", "/console/register",
                             "/console/merchants/\(h.fixtures.merchantA.rawValue)", "/console/merchants/\(h.fixtures.merchantB.rawValue)",
                             "/console/packages", "/console/campaigns", "/console/compliance?minApp=2.4.0",
                             "/console/language-missing", "/console/tokens/\(OrgID.generate().rawValue)/revoke"] {
                    let method: HTTPRequest.Method = path.hasSuffix("/revoke") ? .post : .get
                    let response = try await h.browse(method, path, jar: &jar, form: method == .post ? [("_csrf", "x")] : nil)
                    let html = response.text
                    #expect(html.contains("lang=\"\(language)\""), "\(language) \(path)")
                    #expect(!html.contains("{{") && !html.contains("failed to render"), "\(language) \(path) rendered")
                    let visible = html.replacing(tags, with: " ")
                    for match in visible.matches(of: rawKey) {
                        Issue.record("\(language) \(path) shows the untranslated key \(visible[match.range])")
                    }
                }
                jar.cookies[CookieName.language] = nil
            }
            // The signed-out pages too.
            for headers in [Self.english, Self.chinese] {
                let login = try await h.send(.get, "/console/login", headers: headers)
                #expect(login.text.replacing(tags, with: " ").matches(of: rawKey).isEmpty)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consoleFormsRefuseCardDataAndEscapeInput(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (adminJar, csrf) = try await h.consoleSession("admin")
            var jar = adminJar
            let pan = "4111 1111 1111 1111"
            let before = try await h.snapshot()
            let forms: [(String, [(String, String)])] = [
                ("/console/orgs", [("parentId", h.fixtures.merchantA.rawValue), ("kind", "store"), ("name", pan), ("code", "PAN")]),
                ("/console/users", [("orgId", h.fixtures.storeA.rawValue), ("username", "pan.user"), ("displayName", pan),
                                    ("email", ""), ("role", "cashier"), ("password", "Console-pass-1")]),
                ("/console/tokens", [("name", "4111111111111111")]),
            ]
            for (path, fields) in forms {
                let response = try await h.browse(.post, path, jar: &jar, form: fields + [("_csrf", csrf)], headers: Self.english)
                #expect(response.status == .unprocessableContent, "\(path) accepted card data: \(response.status.code)")
                #expect(!response.text.contains(pan) && !response.text.contains("4111111111111111"), "\(path) echoes the card number")
            }
            #expect(try await h.snapshot() == before, "nothing stored")

            // Whatever a user types is escaped when shown back.
            var anonymous = CookieJar()
            let script = "<script>alert(1)</script>"
            let login = try await h.consoleLogin(script, password: "whatever-123", jar: &anonymous)
            #expect(login.status == .unauthorized)
            #expect(!login.text.contains(script))
            #expect(login.text.contains("&lt;script&gt;"))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func oversizeFormIs413NotA500(backend: TestBackend) async throws {
        try await Harness.run(backend, maxBodyBytes: 1024) { h in
            var jar = CookieJar()
            let page = try await h.browse(.get, "/console/login", jar: &jar)
            let csrf = hiddenCSRF(in: page.text) ?? ""
            let big = try await h.browse(.post, "/console/login", jar: &jar,
                                         form: [("username", String(repeating: "a", count: 2000)), ("password", "x"), ("_csrf", csrf)])
            #expect(big.status == .contentTooLarge)
            #expect(big.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(jar.cookies[CookieName.session] == nil)
        }
    }
}
