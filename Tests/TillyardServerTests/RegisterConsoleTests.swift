import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The browser register's page (`/console/register`): who may open it, which stores it offers, both
/// languages, its script and the strings the script needs; and the register-sync answer it starts from.
@Suite struct RegisterConsoleTests {
    /// The `value`s of the store picker's options.
    static func storeOptions(_ html: String) -> [String] {
        html.matches(of: /<option value="([^"]+)" data-merchant="([^"]*)"/).map { String($0.output.1) }
    }

    /// The strings the page hands its script (`data-messages`, HTML-escaped JSON).
    static func messages(_ html: String) throws -> [String: String] {
        let match = try #require(html.firstMatch(of: /data-messages="([^"]*)"/))
        let json = String(match.output.1).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
    }

    @Test(arguments: TestBackend.allCases)
    func cashiersAndOwnersGetTheRegisterOthersDoNot(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            // Signed out: to the login page.
            let anonymous = try await h.send(.get, "/console/register")
            #expect(anonymous.status.code / 100 == 3 && anonymous.headers[.location] == "/console/login")

            var cashier = try await h.consoleSession("storeA.cashier").0
            for (language, openShift, nav) in [("en", "Open shift", "Register"), ("zh-CN", "开班", "收银台")] {
                cashier.cookies[CookieName.language] = language
                let page = try await h.browse(.get, "/console/register", jar: &cashier)
                #expect(page.status == .ok && page.text.contains("lang=\"\(language)\""))
                #expect(page.text.contains(">\(openShift)</h2>") && page.text.contains("<script src=\"/static/register.js\" defer>"))
                #expect(page.text.contains("href=\"/console/register\" class=\"active\" aria-current=\"page\">\(nav)</a>"), "in the nav, current")
                // The cashier sells in their own store only, and its merchant names the catalog.
                #expect(Self.storeOptions(page.text) == [h.fixtures.storeA.rawValue])
                #expect(page.text.contains("data-merchant=\"\(h.fixtures.merchantA.rawValue)\""))
                let strings = try Self.messages(page.text)
                #expect(strings["offline"] == (language == "en" ? "The server cannot be reached." : "无法连接服务器。"))
            }

            // A merchant's owner sells in its stores, never in another merchant's.
            var owner = try await h.consoleSession("merchantA.owner").0
            let ownerPage = try await h.browse(.get, "/console/register", jar: &owner)
            #expect(Self.storeOptions(ownerPage.text) == [h.fixtures.storeA.rawValue])
            #expect(!ownerPage.text.contains(h.fixtures.storeB.rawValue))

            // Security cannot sell: no nav entry and a 403 error page.
            var security = try await h.consoleSession("security").0
            security.cookies[CookieName.language] = "en"
            let dashboard = try await h.browse(.get, "/console", jar: &security)
            #expect(dashboard.status == .ok && !dashboard.text.contains("/console/register"))
            let refused = try await h.browse(.get, "/console/register", jar: &security)
            #expect(refused.status == .forbidden && refused.text.contains("id=\"error-page\"") && !refused.text.contains("id=\"register\""))
        }
    }

    @Test func scriptIsServedAndEveryStringItUsesIsInBothCatalogs() async throws {
        try await Harness.run(.sqlite) { h in
            let script = try await h.send(.get, "/static/register.js")
            #expect(script.status == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("localStorage") && script.text.contains("/api/v1/sales"))
            #expect(!script.text.contains("http://") && !script.text.contains("https://"), "same origin only")
            var keys = Set(script.text.matches(of: /text\('([a-z0-9_]+)'/).map { String($0.output.1) })
            keys.remove("tender_")
            keys.formUnion(TenderKind.allCases.filter { $0 != .storedValue }.map { "tender_\($0.rawValue)" })
            #expect(keys.count > 40, "keys found in register.js: \(keys.count)")
            for locale in ["en", "zh-CN"] {
                let data = try Data(contentsOf: ConsoleRenderer.bundledResources.appendingPathComponent("i18n/\(locale).json"))
                let catalog = try JSONDecoder().decode([String: String].self, from: data)
                for key in keys.sorted() where catalog["register_js_\(key)"] == nil {
                    Issue.record("register.js uses \(key): register_js_\(key) missing in \(locale).json")
                }
            }
        }
    }

    /// A register restarting (a reloaded browser) learns its numbering and its open shift, even
    /// before its first sale; another merchant's register stays invisible.
    @Test(arguments: TestBackend.allCases)
    func registerSyncNamesTheOpenShift(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let store = h.fixtures.storeA.rawValue
            let empty = try await h.send(.get, "/api/v1/register-sync?registerId=WEB-NEW", as: "merchantA.owner")
            #expect(empty.status == .ok && empty.object["lastSeq"] as? Int == 0 && empty.object["openShift"] == nil, "\(empty.text)")
            let shift = try await h.send(.post, "/api/v1/shifts", as: "merchantA.owner",
                                         json: #"{"storeId": "\#(store)", "registerId": "WEB-NEW", "openingFloat": 50000}"#)
            #expect(shift.status == .created, "\(shift.text)")
            let shiftId = try #require(shift.object["id"] as? String)
            let synced = try await h.send(.get, "/api/v1/register-sync?registerId=WEB-NEW", as: "merchantA.owner")
            let open = try #require(synced.object["openShift"] as? [String: Any], "\(synced.text)")
            #expect(open["id"] as? String == shiftId && open["status"] as? String == "open" && open["openingFloat"] as? Int == 50000)
            #expect(synced.object["lastSeq"] as? Int == 0)
            let other = try await h.send(.get, "/api/v1/register-sync?registerId=WEB-NEW", as: "merchantB.owner")
            #expect(other.status == .ok && other.object["openShift"] == nil, "\(other.text)")
        }
    }
}
