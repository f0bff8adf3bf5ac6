import Foundation
import Hummingbird
import TillyardKit

/// Reports over HTTP: `GET /api/v1/reports/sales`, `/reports/transactions` and `/reports/estate`, each
/// as JSON and as a `.csv` download (the console's CSV links point here, with the console session).
struct ReportsAPI {
    let reports: ReportsService

    func register(on api: RouterGroup<AppRequestContext>) {
        let reports = self.reports
        api.get("reports/sales") { request, context in
            try JSONResponse.make(try await Self.sales(request, context: context, reports: reports))
        }
        api.get("reports/sales.csv") { request, context in
            let report = try await Self.sales(request, context: context, reports: reports)
            return CSVTransfer.attachment(ReportCSV.sales(report), filename: "sales-\(report.by.rawValue)-\(report.from)-\(report.to).csv")
        }
        api.get("reports/transactions") { request, context in
            try JSONResponse.make(try await Self.transactions(request, context: context, reports: reports))
        }
        api.get("reports/transactions.csv") { request, context in
            let report = try await Self.transactions(request, context: context, reports: reports)
            return CSVTransfer.attachment(ReportCSV.transactions(report), filename: "transactions-\(report.by.rawValue)-\(report.from)-\(report.to).csv")
        }
        api.get("reports/estate") { request, context in
            try JSONResponse.make(try await Self.estate(request, context: context, reports: reports))
        }
        api.get("reports/estate.csv") { request, context in
            CSVTransfer.attachment(ReportCSV.estate(try await Self.estate(request, context: context, reports: reports)), filename: "estate.csv")
        }
    }

    /// The range of `?from=&to=` (default: the last 30 days).
    static func range(_ request: Request, reports: ReportsService, defaultDays: Int = 30) throws -> ReportRange {
        try ReportRange.parse(from: request.query("from"), to: request.query("to"), today: reports.today, defaultDays: defaultDays)
    }

    /// A whole-number query parameter (nil when absent); anything else is a field error.
    static func integer(_ request: Request, _ name: String) throws -> Int? {
        try request.query(name).map { text in
            guard let value = Int(text) else { throw DomainError.invalid(name, "must be a number") }
            return value
        }
    }

    static func sales(_ request: Request, context: AppRequestContext, reports: ReportsService) async throws -> SalesReport {
        let principal = try context.requirePrincipal()
        return try await reports.sales(by: try request.query("by", as: SalesReportDimension.self) ?? .day, range: try range(request, reports: reports),
                                       storeId: try OrgID.parse(ifPresent: request.query("storeId"), field: "storeId"), principal: principal)
    }

    static func transactions(_ request: Request, context: AppRequestContext, reports: ReportsService) async throws -> TransactionReport {
        let principal = try context.requirePrincipal()
        let limit = try integer(request, "limit") ?? 100
        return try await reports.transactions(by: try request.query("by", as: TransactionReportDimension.self) ?? .day,
                                              range: try range(request, reports: reports, defaultDays: 90), limit: limit, principal: principal)
    }

    static func estate(_ request: Request, context: AppRequestContext, reports: ReportsService) async throws -> EstateDashboard {
        let principal = try context.requirePrincipal()
        let days = try integer(request, "days") ?? 90
        return try await reports.estate(days: days, principal: principal)
    }
}

/// The CSV files of the reports: money in yuan with two decimals, quantities in units with three.
enum ReportCSV {
    static func yuan(_ fen: Int64) -> String { Money(minorUnits: fen).decimalText }

    /// The file: a byte order mark (spreadsheets then read the Chinese labels as UTF-8) and CRLF lines.
    static func file(_ rows: [[String]]) -> String {
        CatalogCSV.byteOrderMark + rows.map(CSV.line).joined(separator: "\r\n") + "\r\n"
    }

    static func units(_ milli: Int64) -> String {
        let sign = milli < 0 ? "-" : ""
        let magnitude = milli.magnitude
        return "\(sign)\(magnitude / 1000).\(String(format: "%03d", Int(magnitude % 1000)))"
    }

    static func sales(_ report: SalesReport) -> String {
        var lines = [["key", "label", "sales", "amount", "refunds", "refund_amount", "net", "quantity", "refund_quantity", "discount",
                      "cost", "margin", "previous_net", "change_percent"]]
        for row in report.rows + [report.total] {
            lines.append([row.key, row.label, String(row.sales), yuan(row.amount), String(row.refunds), yuan(row.refundAmount), yuan(row.net),
                          units(row.quantity), units(row.refundQuantity), yuan(row.discount), yuan(row.cost), row.margin.map(yuan) ?? "",
                          yuan(row.previousNet), row.changePercent.map { String(format: "%.1f", $0) } ?? ""])
        }
        return file(lines)
    }

    static func transactions(_ report: TransactionReport) -> String {
        var lines = [["key", "label", "count", "approved", "approval_rate", "amount", "refund_amount"]]
        for row in report.rows + [report.total] {
            lines.append([row.key, row.label, String(row.count), String(row.approved), row.approvalRate.map { String(format: "%.1f", $0) } ?? "",
                          yuan(row.amount), yuan(row.refundAmount)])
        }
        return file(lines)
    }

    static func estate(_ dashboard: EstateDashboard) -> String {
        var lines = [["section", "key", "label", "count"]]
        let sections: [(String, [ReportCount])] = [("state", dashboard.byState), ("model", dashboard.byModel), ("region", dashboard.byRegion),
                                                   ("version", dashboard.byVersion), ("activations", dashboard.activations),
                                                   ("open_alerts", dashboard.openAlerts)]
        for (section, counts) in sections {
            for count in counts { lines.append([section, count.key, count.label, String(count.count)]) }
        }
        lines.append(["online", "deployed", "", String(dashboard.deployed)])
        lines.append(["online", "online", "", String(dashboard.online)])
        lines.append(["tickets", "open", "", String(dashboard.tickets.open)])
        lines.append(["tickets", "response_breached", "", String(dashboard.tickets.responseBreached)])
        lines.append(["tickets", "fix_breached", "", String(dashboard.tickets.fixBreached)])
        return file(lines)
    }
}
