import Foundation
import Hummingbird
import Mustache
import TillyardKit

/// One entry of the console navigation, grouped by area.
struct NavItem: Sendable {
    /// Catalog key of the area heading (e.g. `area.access`).
    var area: String
    /// Catalog key of the label.
    var label: String
    var href: String
    /// Shown only to callers holding this permission.
    var permission: Permission
}

/// Renders console pages: Mustache templates with a shared layout, strings from the en / zh-CN
/// catalogs. Templates and catalogs load at start-up and a missing one stops the server, so
/// a broken deployment fails at once rather than on a user's click.
public struct ConsoleRenderer: Sendable {
    let library: MustacheLibrary
    let catalogs: [String: [String: String]]
    /// The stylesheet, served from memory.
    let stylesheet: String
    /// The one script (progressive enhancement only), served from memory.
    let script: String
    /// The stylesheet of receipt pages (screen and print), served from memory.
    let receiptStylesheet: String
    /// The browser register's script (`/console/register` needs it; the rest of the console does not).
    let registerScript: String

    /// Every page template the controllers use; checked at load.
    static let requiredTemplates = ["layout", "login", "dashboard", "orgs", "users", "tokens", "audit", "error",
                                    "models", "terminals", "dossier", "purchases", "merchants", "merchant", "promotions", "register", "catalog",
                                    "packages", "campaigns", "campaign", "compliance", "service", "service_ticket", "inspections", "knowledge", "risk", "risk_alert", "risk_rules",
                                    // Reports (issue 9)
                                    "reports", "reports_estate",
                                    "inspection", "service_sla", "notifications", "backups"]

    /// The navigation, by area. Later areas append their pages here.
    static let navigation: [NavItem] = [
        NavItem(area: "area_overview", label: "nav_dashboard", href: "/console", permission: .dashboardView),
        NavItem(area: "area_estate", label: "nav_terminals", href: "/console/terminals", permission: .estateRead),
        NavItem(area: "area_estate", label: "nav_models", href: "/console/models", permission: .estateRead),
        NavItem(area: "area_estate", label: "nav_purchases", href: "/console/purchases", permission: .estateRead),
        NavItem(area: "area_fleet", label: "nav_fleet", href: "/console/fleet", permission: .estateRead),
        NavItem(area: "area_merchants", label: "nav_merchants", href: "/console/merchants", permission: .merchantsRead),
        NavItem(area: "area_service", label: "nav_service", href: "/console/service", permission: .serviceRead),
        NavItem(area: "area_service", label: "nav_inspections", href: "/console/service/inspections", permission: .serviceRead),
        NavItem(area: "area_service", label: "nav_knowledge", href: "/console/service/knowledge", permission: .serviceRead),
        NavItem(area: "area_service", label: "nav_service_sla", href: "/console/service/sla", permission: .serviceRead),
        NavItem(area: "area_sales", label: "nav_register", href: "/console/register", permission: .salesSell),
        NavItem(area: "area_sales", label: "nav_catalog", href: "/console/catalog", permission: .catalogRead),
        NavItem(area: "area_sales", label: "nav_promotions", href: "/console/promotions", permission: .catalogRead),
        NavItem(area: "area_sales", label: "nav_members", href: "/console/members", permission: .membersRead),
        NavItem(area: "area_fleet", label: "nav_campaigns", href: "/console/campaigns", permission: .estateRead),
        NavItem(area: "area_fleet", label: "nav_packages", href: "/console/packages", permission: .estateRead),
        NavItem(area: "area_fleet", label: "nav_compliance", href: "/console/compliance", permission: .estateRead),
        NavItem(area: "area_risk", label: "nav_risk", href: "/console/risk", permission: .riskRead),
        NavItem(area: "area_risk", label: "nav_risk_rules", href: "/console/risk/rules", permission: .riskRead),
        // Reports (issue 9)
        NavItem(area: "reports_area", label: "reports_nav_sales", href: "/console/reports", permission: .reportsSales),
        NavItem(area: "reports_area", label: "reports_nav_estate", href: "/console/reports/estate", permission: .reportsFleet),
        NavItem(area: "area_access", label: "nav_orgs", href: "/console/orgs", permission: .orgsRead),
        NavItem(area: "area_access", label: "nav_users", href: "/console/users", permission: .usersRead),
        NavItem(area: "area_access", label: "nav_tokens", href: "/console/tokens", permission: .tokensManage),
        NavItem(area: "area_access", label: "nav_audit", href: "/console/audit", permission: .auditRead),
        NavItem(area: "area_access", label: "nav_backups", href: "/console/backups", permission: .backupsManage),
    ]

    /// Loads templates, catalogs and static files from the resources folder.
    public static func load(resources: URL) async throws -> ConsoleRenderer {
        let templates = resources.appendingPathComponent("templates")
        let library = try await MustacheLibrary(directory: templates.path)
        for name in requiredTemplates where library.getTemplate(named: name) == nil {
            throw ConsoleError.missingResource("template \(name).mustache in \(templates.path)")
        }
        var catalogs: [String: [String: String]] = [:]
        for locale in AccessRules.locales {
            let file = resources.appendingPathComponent("i18n/\(locale).json")
            guard let data = try? Data(contentsOf: file),
                  let catalog = try? JSONDecoder().decode([String: String].self, from: data) else {
                throw ConsoleError.missingResource("catalog \(file.path)")
            }
            catalogs[locale] = catalog
        }
        func file(_ name: String) throws -> String {
            let url = resources.appendingPathComponent("static/\(name)")
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ConsoleError.missingResource(url.path) }
            return text
        }
        return ConsoleRenderer(library: library, catalogs: catalogs, stylesheet: try file("console.css"), script: try file("console.js"),
                               receiptStylesheet: try file("receipt.css"), registerScript: try file("register.js"))
    }

    /// The folder of bundled resources (templates, catalogs, static files, OpenAPI document).
    ///
    /// The package copies the `Resources` folder whole, so it sits directly inside the bundle
    /// (Foundation's `resourceURL` on Linux already points one level deeper).
    public static var bundledResources: URL {
        Bundle.module.bundleURL.appendingPathComponent("Resources")
    }

    /// A translated string; the key itself when missing (a test keeps the catalogs complete).
    func text(_ key: String, locale: String) -> String {
        catalogs[locale]?[key] ?? catalogs["en"]?[key] ?? key
    }

    /// The strings of one catalog whose keys start with `prefix`, without it, as a JSON object: the
    /// register's script speaks the page's language without carrying its own catalog.
    func messages(prefix: String, locale: String) -> String {
        var selected: [String: String] = [:]
        for (key, value) in catalogs[locale] ?? [:] where key.hasPrefix(prefix) { selected[String(key.dropFirst(prefix.count))] = value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(selected)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Renders a page inside the layout.
    func page(_ template: String, titleKey: String, context: AppRequestContext, data: [String: Any] = [:],
              status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let locale = context.locale
        // Optional values arrive boxed in `Any`; drop the nil ones so `{{#error}}` sections stay closed.
        var values = data.filter { !Self.isNil($0.value) }
        values["t"] = catalogs[locale] ?? [:]
        values["lang"] = locale
        values["title"] = text(titleKey, locale: locale)
        values["otherLang"] = locale == "en" ? ["code": "zh-CN", "label": "中文"] : ["code": "en", "label": "English"]
        if let principal = context.principal {
            values["me"] = ["displayName": principal.user.displayName, "username": principal.user.username,
                            "role": text("role_\(principal.user.role.rawValue)", locale: locale)]
            if case .session(_, let csrf) = principal.credential { values["csrf"] = csrf }
            values["nav"] = navigation(for: principal, locale: locale, current: template)
            if context.unreadNotifications > 0 { values["unread"] = context.unreadNotifications }
        }
        let html = library.render(values, withTemplate: template) ?? "template \(template) failed to render"
        var allHeaders = headers
        allHeaders[.contentType] = "text/html; charset=utf-8"
        // The console is plain server-rendered HTML: forbid framing and foreign scripts.
        allHeaders[.contentSecurityPolicy] = "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        allHeaders[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: status, headers: allHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private static func isNil(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }

    /// The navigation the caller may use, grouped by area.
    func navigation(for principal: Principal, locale: String, current: String) -> [[String: Any]] {
        var groups: [(String, [[String: Any]])] = []
        for item in Self.navigation where principal.can(item.permission) {
            let entry: [String: Any] = ["href": item.href, "label": text(item.label, locale: locale),
                                        "active": item.href == "/console/\(current)" || (current == "dashboard" && item.href == "/console")]
            if let index = groups.firstIndex(where: { $0.0 == item.area }) {
                groups[index].1.append(entry)
            } else {
                groups.append((item.area, [entry]))
            }
        }
        return groups.map { ["area": text($0.0, locale: locale), "items": $0.1] }
    }

    /// The error page for a problem.
    func errorPage(_ problem: Problem, context: AppRequestContext) -> Response {
        let key = "problem_\(problem.type.split(separator: ":").last ?? "internal")"
        let title = catalogs[context.locale]?[key] ?? problem.title
        return page("error", titleKey: "error_title", context: context,
             data: ["status": problem.status, "problemTitle": title,
                    "detail": problem.detail],
             status: .init(code: problem.status))
    }
}

/// Start-up failures of the console.
public enum ConsoleError: Error, CustomStringConvertible {
    case missingResource(String)

    public var description: String {
        switch self {
        case .missingResource(let what): return "console resource missing: \(what)"
        }
    }
}
