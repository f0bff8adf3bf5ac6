import Foundation
import Hummingbird
import TillyardKit

/// The product form of the catalog page (amounts in yuan, the VAT rate in percent, as in the CSV).
struct ProductForm: Decodable, CSRFCarrying {
    var merchantId: String?; var id: String?; var version: String?
    var sku: String; var barcodes: String?; var nameZh: String; var nameEn: String?; var category: String?
    var unit: String?; var price: String; var memberPrice: String?; var taxRate: String?; var cost: String?
    var scaleCode: String?; var active: String?; var _csrf: String

    /// The form's cells by CSV column, so the file's cell rules read them.
    var cells: [CatalogCSV.Column: String] {
        var cells: [CatalogCSV.Column: String] = [
            .sku: sku, .barcodes: barcodes ?? "", .nameZh: nameZh, .nameEn: nameEn ?? "", .category: category ?? "", .unit: unit ?? "",
            .price: price, .memberPrice: memberPrice ?? "", .taxRate: taxRate ?? "", .scaleCode: scaleCode ?? "",
            .active: active == nil ? "false" : "true",
        ]
        if let cost { cells[.cost] = cost }
        return cells
    }
}

/// The import form: the file's text (the page's script reads a chosen file into it).
struct CatalogImportForm: Decodable, CSRFCarrying { var merchantId: String?; var csv: String; var dryRun: String?; var _csrf: String }

/// The catalog page of the console: search (barcode, SKU, name), a page of products with the stock
/// of a chosen store, the product form, CSV export and import.
struct CatalogConsole {
    let catalog: CatalogService
    let sales: SalesService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("catalog", use: page)
        console.post("catalog", use: save)
        console.post("catalog/import", use: importCSV)
        console.get("catalog/export.csv", use: exportCSV)
    }

    /// What a re-rendered page carries besides the query: a message, a problem, the form typed.
    struct Outcome {
        var notice: String?
        var error: String?
        var importError: String?
        var form: [String: String] = [:]
        var importText: String?
        var status: HTTPResponse.Status = .ok
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await render(request, context, Outcome())
    }

    private func render(_ request: Request, _ context: AppRequestContext, _ outcome: Outcome) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let chosen = try Self.id(request.query("merchantId") ?? outcome.form["merchantId"], field: "merchantId")
        // Staff above the merchants choose the catalog; a merchant's or store's people have one.
        var merchant: Organization?
        do { merchant = try await catalog.merchant(chosen, by: principal) } catch DomainError.validation { merchant = nil }
        let canOrgs = principal.can(.orgsRead)
        let merchants = canOrgs && principal.orgKind != .merchant && principal.orgKind != .store
            ? try await forms.orgOptions(principal, selected: merchant?.id.rawValue) { $0.kind == .merchant } : []
        var data: [String: Any] = [
            "merchants": merchants, "chooseMerchant": !merchants.isEmpty, "merchantId": merchant?.id.rawValue ?? "", "hasMerchant": merchant != nil,
            "canManage": principal.can(.catalogManage), "showCost": principal.can(.catalogManage),
            "q": request.query("q") ?? "", "notice": outcome.notice as Any, "error": outcome.error as Any,
            "importError": outcome.importError as Any, "importText": outcome.importText ?? "",
            "csvColumns": CatalogCSV.columns(showCost: true).map(\.rawValue).joined(separator: ","),
        ]
        guard let merchant else {
            return renderer.page("catalog", titleKey: "nav_catalog", context: context, data: data, status: outcome.status)
        }
        let filter = CatalogAPI.filter(request)
        let products = try await catalog.search(filter, merchantId: merchant.id, page: try request.pageRequest(), by: principal)
        // The stock column, for a store of this merchant the caller picked.
        var storeId = try Self.id(request.query("storeId"), field: "storeId")
        if storeId == nil, principal.orgKind == .store { storeId = principal.user.orgId }
        let stores = canOrgs ? try await forms.orgOptions(principal, selected: storeId?.rawValue) { $0.kind == .store && $0.parentId == merchant.id } : []
        var stock: [ProductID: Int64] = [:]
        if let storeId, principal.can(.salesRead) {
            stock = try await sales.stockLevels(storeId: storeId, products: products.items.map(\.id), by: principal)
        }
        data["stores"] = stores
        data["chooseStore"] = !stores.isEmpty
        data["hasStock"] = storeId != nil && principal.can(.salesRead)
        data["products"] = products.items.map { product -> [String: Any] in
            ["id": product.id.rawValue, "sku": product.sku, "barcodes": product.barcodes.joined(separator: " "), "nameZh": product.nameZh,
             "nameEn": product.nameEn ?? "", "category": product.category ?? "", "unit": renderer.text("unit_\(product.unit.rawValue)", locale: locale),
             "price": Money(minorUnits: product.price).decimalText, "memberPrice": product.memberPrice.map { Money(minorUnits: $0).decimalText } ?? "",
             "taxRate": CatalogCSV.percent(product.taxRate), "active": product.active,
             "stock": stock[product.id].map(Self.quantity) ?? "—",
             "editHref": "/console/catalog?" + Self.query(["merchantId": merchant.id.rawValue, "edit": product.id.rawValue])]
        }
        let base: [String: String?] = ["merchantId": merchant.id.rawValue, "q": request.query("q"), "storeId": storeId?.rawValue, "category": request.query("category"),
                    "active": request.query("active")]
        data["nextHref"] = products.nextCursor.map { "/console/catalog?" + Self.query(base.merging(["cursor": $0]) { $1 }) } as Any
        data["exportHref"] = "/console/catalog/export.csv?" + Self.query(base.filter { $0.key != "storeId" })
        // The form: a product opened for editing, or what was typed and refused.
        var form = outcome.form
        if form["sku"] == nil, let raw = request.query("edit"), principal.can(.catalogManage) {
            let product = try await catalog.product(try ProductID.parse(raw, field: "edit"), by: principal)
            form = Self.fields(product)
        }
        data["form"] = form
        data["editing"] = !(form["id"] ?? "").isEmpty
        data["units"] = forms.options(SaleUnit.allCases, prefix: "unit", selected: form["unit"], locale: locale)
        data["taxRates"] = CatalogRules.taxRates.sorted().map { rate in
            ["value": CatalogCSV.percent(rate), "selected": (form["taxRate"] ?? "13") == CatalogCSV.percent(rate)] as [String: Any]
        }
        // A fresh form offers an active product; a typed or stored one shows its own flag.
        data["formActive"] = form["sku"] == nil || form["active"] != nil
        return renderer.page("catalog", titleKey: "nav_catalog", context: context, data: data, status: outcome.status)
    }

    @Sendable func save(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(ProductForm.self, request, context)
        var typed = (["merchantId": form.merchantId, "id": form.id, "version": form.version, "sku": form.sku, "barcodes": form.barcodes,
                     "nameZh": form.nameZh, "nameEn": form.nameEn, "category": form.category, "unit": form.unit, "price": form.price,
                     "memberPrice": form.memberPrice, "taxRate": form.taxRate, "cost": form.cost, "scaleCode": form.scaleCode] as [String: String?]).compactMapValues { $0 }
        if form.active != nil { typed["active"] = "1" }
        do {
            let (sku, values) = try CatalogCSV.parse(form.cells)
            let input = try values.input(sku: sku, over: nil)
            let product: Product
            if let raw = form.id, !raw.isEmpty {
                let id = try ProductID.parse(raw, field: "id")
                guard let version = Int(form.version ?? "") else { throw DomainError.invalid("version", "reload the product and edit it again") }
                product = try await catalog.update(id, input, expectedVersion: version, by: principal)
            } else {
                product = try await catalog.create(input, merchantId: try Self.id(form.merchantId, field: "merchantId"), by: principal)
            }
            return .redirect(to: "/console/catalog?" + Self.query(["merchantId": product.merchantId.rawValue, "q": product.sku]), type: .found)
        } catch let error as DomainError {
            return try await render(request, context, Outcome(error: Self.lines(error), form: typed, status: ConsoleForms.status(error)))
        }
    }

    @Sendable func importCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var limited = context
        limited.bodyLimit = CSVTransfer.importLimit
        let form = try await forms.decode(CatalogImportForm.self, request, limited)
        let merchant = ["merchantId": form.merchantId ?? ""]
        do {
            let report = try await catalog.importProducts(csv: form.csv, merchantId: try Self.id(form.merchantId, field: "merchantId"),
                                                          dryRun: form.dryRun != nil, by: principal)
            let message = renderer.text(report.dryRun ? "catalog_import_checked" : "catalog_import_done", locale: context.locale)
                .replacingOccurrences(of: "{rows}", with: String(report.rows))
                .replacingOccurrences(of: "{created}", with: String(report.created))
                .replacingOccurrences(of: "{updated}", with: String(report.updated))
                .replacingOccurrences(of: "{unchanged}", with: String(report.unchanged))
            return try await render(request, context, Outcome(notice: message, form: merchant, importText: report.dryRun ? form.csv : nil,
                                                              status: report.dryRun ? .ok : .created))
        } catch let error as DomainError {
            return try await render(request, context, Outcome(importError: Self.lines(error), form: merchant, importText: form.csv,
                                                              status: ConsoleForms.status(error)))
        }
    }

    @Sendable func exportCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let export = try await catalog.export(CatalogAPI.filter(request), merchantId: try CatalogAPI.merchant(request), by: principal)
        return CSVTransfer.streamed(filename: "products.csv") { try await export.write($0) }
    }

    // MARK: - Helpers

    /// An organisation id from a form or query field; blank (the "—" option) means none.
    static func id(_ raw: String?, field: String) throws -> OrgID? {
        try OrgID.parse(ifPresent: raw.flatMap { $0.isEmpty ? nil : $0 }, field: field)
    }

    /// A refusal as readable lines: one per problem ("line 4: price: …").
    static func lines(_ error: DomainError) -> String {
        if case .validation(let fields) = error { return fields.map { "\($0.field): \($0.message)" }.joined(separator: "\n") }
        return error.message
    }

    /// A stored product as the form's fields.
    static func fields(_ product: Product) -> [String: String] {
        var fields = ["id": product.id.rawValue, "version": String(product.version), "merchantId": product.merchantId.rawValue,
                      "sku": product.sku, "barcodes": product.barcodes.joined(separator: " | "), "nameZh": product.nameZh,
                      "nameEn": product.nameEn ?? "", "category": product.category ?? "", "unit": product.unit.rawValue,
                      "price": Money(minorUnits: product.price).decimalText, "taxRate": CatalogCSV.percent(product.taxRate),
                      "memberPrice": product.memberPrice.map { Money(minorUnits: $0).decimalText } ?? "",
                      "cost": product.cost.map { Money(minorUnits: $0).decimalText } ?? "", "scaleCode": product.scaleCode ?? ""]
        if product.active { fields["active"] = "1" }
        return fields
    }

    /// Milli-units as a quantity ("12", "1.25").
    static func quantity(_ milli: Int64) -> String {
        let sign = milli < 0 ? "-" : "", magnitude = milli.magnitude
        let whole = magnitude / 1000, fraction = magnitude % 1000
        guard fraction != 0 else { return "\(sign)\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(sign)\(whole).\(digits)"
    }

    /// A query string of the non-empty values, in a stable order.
    static func query(_ values: [String: String?]) -> String {
        var components = URLComponents()
        components.queryItems = values.compactMapValues { $0 }.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            .map { URLQueryItem(name: $0.key, value: $0.value) }
        return components.percentEncodedQuery ?? ""
    }
}
