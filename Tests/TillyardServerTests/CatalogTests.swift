import Foundation
import Testing
import TillyardKit
import TillyardServer

/// The en and zh-CN catalogs are complete: same keys, no empty strings, every key a template or
/// the code uses exists in both.
@Suite struct CatalogTests {
    static var resources: URL { ConsoleRenderer.bundledResources }

    static func catalog(_ locale: String) throws -> [String: String] {
        let data = try Data(contentsOf: resources.appendingPathComponent("i18n/\(locale).json"))
        return try JSONDecoder().decode([String: String].self, from: data)
    }

    /// `{{t.key}}` (and sections like `{{#t.key}}`) used in every template.
    static func templateKeys() throws -> [String: Set<String>] {
        let folder = resources.appendingPathComponent("templates")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") }
        let pattern = /\{\{\s*[#^\/&{]?\s*t\.([A-Za-z0-9_.\-]+)\s*\}?\}\}/
        var result: [String: Set<String>] = [:]
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            result[file] = Set(text.matches(of: pattern).map { String($0.output.1) })
        }
        return result
    }

    @Test func catalogsHaveTheSameKeysAndNoEmptyValues() throws {
        let en = try Self.catalog("en"), zh = try Self.catalog("zh-CN")
        #expect(en.count > 50)
        for key in Set(en.keys).subtracting(zh.keys).sorted() { Issue.record("zh-CN.json lacks \(key)") }
        for key in Set(zh.keys).subtracting(en.keys).sorted() { Issue.record("en.json lacks \(key)") }
        for (locale, catalog) in [("en", en), ("zh-CN", zh)] {
            for (key, value) in catalog where value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                Issue.record("\(locale).json: \(key) is empty")
            }
        }
        // Every locale the domain accepts has a catalog.
        for locale in AccessRules.locales { #expect((try? Self.catalog(locale)) != nil, "catalog for \(locale)") }
        // The Chinese catalog is really translated: most values differ from English and contain Han characters.
        let han = zh.values.filter { $0.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } }
        #expect(Double(han.count) >= Double(zh.count) * 0.9, "\(zh.count - han.count) zh-CN values without Chinese")
    }

    @Test func everyTemplateKeyExistsInBothCatalogs() throws {
        let en = try Self.catalog("en"), zh = try Self.catalog("zh-CN")
        let used = try Self.templateKeys()
        #expect(used.count >= 8, "templates found: \(used.keys.sorted())")
        #expect(used.values.reduce(0) { $0 + $1.count } > 40, "keys found in templates")
        for (file, keys) in used.sorted(by: { $0.key < $1.key }) {
            for key in keys.sorted() {
                #expect(en[key] != nil, "\(file) uses t.\(key), missing in en.json")
                #expect(zh[key] != nil, "\(file) uses t.\(key), missing in zh-CN.json")
            }
        }
    }

    @Test func keysTheCodeBuildsExistInBothCatalogs() throws {
        let en = try Self.catalog("en"), zh = try Self.catalog("zh-CN")
        var keys = Role.allCases.map { "role_\($0.rawValue)" }
            + OrgKind.allCases.map { "kind_\($0.rawValue)" }
            + UserStatus.allCases.map { "status_\($0.rawValue)" }
            + (MerchantStatus.allCases.map(\.rawValue) + ["none"]).map { "merchant_status_\($0)" }
            + RiskLevel.allCases.map { "risk_\($0.rawValue)" }
            + BusinessType.allCases.map { "business_\($0.rawValue)" }
            + DocumentKind.allCases.map { "document_\($0.rawValue)" }
            + ["submitted", "approved", "rejected", "reopened"].map { "merchant_step_\($0)" }
            + ["nav_merchants", "area_merchants", "merchant_title", "list_all"]
            + SaleUnit.allCases.map { "unit_\($0.rawValue)" }
            + ["nav_catalog", "area_sales", "catalog_import_checked", "catalog_import_done"]
        // Error pages look up `problem_<slug>` for every problem type the server produces.
        let errors: [any Error] = [
            DomainError.invalid("x", "y"), DomainError.unauthenticated("x"), DomainError.forbidden("x"),
            DomainError.notFound(resource: "x", id: "y"), DomainError.conflict("x"), DomainError.unprocessable("x"),
            DomainError.tooManyRequests("x"), ProblemError.malformedJSON("x"), CancellationError(),
        ]
        keys += errors.map { error in
            "problem_" + (Problem.from(error, instance: nil).type.split(separator: ":").last.map(String.init) ?? "")
        }
        keys += ["problem_too-large", "problem_not-found", "login_failed", "login_locked", "login_expired", "error_title"]
        for key in keys {
            #expect(en[key] != nil, "en.json lacks \(key)")
            #expect(zh[key] != nil, "zh-CN.json lacks \(key)")
        }
    }
}
