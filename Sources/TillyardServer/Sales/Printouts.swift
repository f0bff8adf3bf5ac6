import Foundation
import Hummingbird
import TillyardKit

/// Receipts and shift reports as the register, the back office and the customer fetch them:
/// `?format=html|text|escpos|json`, `?paper=58|80`, `?copy=true` for a reprint, `?lang=zh|en`.
enum Printouts {
    /// The rendering the query asks for.
    struct Options {
        var format: String
        var paper: PaperWidth
        var copy: Bool
        var language: ReceiptLanguage

        init(_ request: Request, defaultFormat: String = "html") throws {
            format = request.query("format") ?? defaultFormat
            guard ["html", "text", "escpos", "json"].contains(format) else {
                throw DomainError.invalid("format", "must be one of html, text, escpos, json")
            }
            guard let width = PaperWidth(rawValue: Int(request.query("paper") ?? "80") ?? 0) else {
                throw DomainError.invalid("paper", "must be 58 or 80")
            }
            paper = width
            copy = try request.query("copy", as: Flag.self) == .true
            language = try request.query("lang", as: ReceiptLanguage.self) ?? .zh
        }
    }

    /// `?copy=true|false`.
    enum Flag: String, CaseIterable {
        case `true`, `false`
    }

    static func response(_ receipt: Receipt, _ options: Options) throws -> Response {
        switch options.format {
        case "text": return text(ReceiptRenderer.text(receipt, paper: options.paper))
        case "escpos": return bytes(ReceiptRenderer.escPos(receipt, paper: options.paper))
        case "json": return try JSONResponse.make(receipt)
        default: return html(ReceiptRenderer.html(receipt))
        }
    }

    static func response(_ report: ShiftReport, _ options: Options) throws -> Response {
        switch options.format {
        case "text": return text(ReceiptRenderer.text(report, paper: options.paper))
        case "escpos": return bytes(ReceiptRenderer.escPos(report, paper: options.paper))
        case "json": return try JSONResponse.make(report)
        default: return html(ReceiptRenderer.html(report))
        }
    }

    private static func text(_ value: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: value)))
    }

    private static func html(_ value: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: value)))
    }

    private static func bytes(_ value: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: value)))
    }

    /// The customer link as the customer's phone must open it: on the host the request came to
    /// (behind a proxy, its `X-Forwarded-Proto`).
    static func absolute(_ link: String?, _ request: Request) -> String? {
        guard let link, link.hasPrefix("/"), let host = request.head.authority else { return link }
        let scheme = request.headers[.init("X-Forwarded-Proto")!] == "https" ? "https" : "http"
        return "\(scheme)://\(host)\(link)"
    }

    /// Routes: the receipt of a sale, the printout of a Z or X report, and the customer's page behind
    /// the link printed on every receipt (no login; the link carries an unguessable token).
    static func register(sales: SalesService, api: RouterGroup<AppRequestContext>, router: Router<AppRequestContext>) {
        api.get("sales/:id/receipt") { request, context in
            let principal = try context.requirePrincipal()
            let options = try Options(request)
            var receipt = try await sales.receipt(try context.id("id", resource: "sale"), copy: options.copy, language: options.language, by: principal)
            receipt.link = absolute(receipt.link, request)
            return try response(receipt, options)
        }
        api.get("z-reports/:id/printout") { request, context in
            let principal = try context.requirePrincipal()
            let options = try Options(request)
            let summary = try await sales.zReport(try context.id("id", resource: "z-report"), by: principal)
            return try response(try await sales.shiftReport(summary, copy: options.copy, language: options.language, by: principal), options)
        }
        api.get("shifts/:id/report/printout") { request, context in
            let principal = try context.requirePrincipal()
            let options = try Options(request)
            let summary = try await sales.xReport(try context.id("id", resource: "shift"), by: principal)
            return try response(try await sales.shiftReport(summary, copy: options.copy, language: options.language, by: principal), options)
        }
        router.get("r/:id") { request, context in
            let raw = context.parameters.get("id") ?? ""
            guard let id = SaleID(validating: raw) else { throw DomainError.notFound(resource: "receipt", id: raw) }
            let receipt = try await sales.customerReceipt(id, token: request.query("t") ?? "",
                                                          language: try request.query("lang", as: ReceiptLanguage.self) ?? .zh)
            return html(ReceiptRenderer.html(receipt))
        }
    }
}
