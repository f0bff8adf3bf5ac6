import Foundation
import Hummingbird
import TillyardKit

/// Console pages of the reports: `/console/reports` (merchant statistics: a range and a breakdown,
/// the period compared with the one before, charts, tables, CSV) and `/console/reports/estate` (the
/// acquirer's dashboard: the fleet for `reports.fleet`, transaction money for `reports.sales`).
/// Charts are server-made SVG (`SVGChart`); pages print without the navigation.
struct ReportsConsole {
    let reports: ReportsService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("reports", use: sales)
        console.get("reports/estate", use: estate)
    }

    static func percent(_ value: Double?) -> String {
        guard let value else { return "—" }
        return (value > 0 ? "+" : "") + String(format: "%.1f%%", value)
    }

    /// The query string of a report link (only the values given).
    static func query(_ values: [(String, String?)]) -> String {
        values.compactMap { name, value in
            value.flatMap { $0.isEmpty ? nil : "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" }
        }.joined(separator: "&")
    }

    /// The range of the query, or the default one and a readable message when the query's is wrong.
    func range(_ request: Request, defaultDays: Int) -> (ReportRange, String?) {
        do {
            return (try ReportsAPI.range(request, reports: reports, defaultDays: defaultDays), nil)
        } catch let error as DomainError {
            return (ReportRange(from: reports.today - defaultDays + 1, to: reports.today), error.message)
        } catch {
            return (ReportRange(from: reports.today - defaultDays + 1, to: reports.today), "\(error)")
        }
    }

    @Sendable func sales(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let t = { (key: String) in renderer.text(key, locale: locale) }
        var (range, error) = range(request, defaultDays: 30)
        var by = SalesReportDimension.day
        if let raw = request.query("by") {
            if let value = SalesReportDimension(rawValue: raw) { by = value } else { error = error ?? "by: \(t("reports_unknown_breakdown"))" }
        }
        let storeId = request.query("storeId").flatMap { OrgID(validating: $0) }
        let report = try await reports.sales(by: by, range: range, storeId: storeId, principal: principal)
        let trend = by == .day ? report : try await reports.sales(by: .day, range: range, storeId: storeId, principal: principal)
        let filters = Self.query([("from", report.from), ("to", report.to), ("storeId", storeId?.rawValue)])
        let label = { (row: SalesReportRow) -> String in
            switch by {
            case .tender: return t("reports_tender_\(row.key)")
            case .member: return t("reports_member_\(row.key)")
            case .category: return row.label.isEmpty ? t("reports_no_category") : row.label
            default: return row.label
            }
        }
        let days = ReportChartData.days(range: range, values: trend.rows.map { ($0.key, Double($0.net)) })
        let charts = [
            SVGChart.line(days.data, title: t("reports_chart_trend"), width: 640, colour: "#2f6f9f", maximum: days.maximum, tick: { ReportCSV.yuan(Int64($0)) }),
            SVGChart.bars(report.rows.prefix(12).map { .init(label: label($0), value: Double(max($0.net, 0)), caption: ReportCSV.yuan($0.net)) },
                          title: "\(t("reports_chart_breakdown")) · \(t("reports_by_\(by.rawValue)"))", width: 640),
        ]
        let total = report.total
        let data: [String: Any] = [
            "error": error as Any,
            "from": report.from, "to": report.to, "storeId": storeId?.rawValue ?? "",
            "previousFrom": report.previousFrom, "previousTo": report.previousTo,
            "breakdowns": forms.options(SalesReportDimension.allCases, prefix: "reports_by", selected: by.rawValue, locale: locale),
            "byLabel": t("reports_by_\(by.rawValue)"),
            "charts": charts,
            "total": Self.row(total, label: t("reports_total")),
            "change": Self.percent(total.changePercent), "previousNet": ReportCSV.yuan(total.previousNet),
            "rows": report.rows.map { Self.row($0, label: label($0)) },
            "top": report.topProducts.map { Self.row($0, label: $0.label) },
            "csv": "/api/v1/reports/sales.csv?by=\(by.rawValue)&\(filters)",
            "topCsv": "/api/v1/reports/sales.csv?by=product&\(filters)",
        ]
        return renderer.page("reports", titleKey: "reports_nav_sales", context: context, data: data)
    }

    static func row(_ row: SalesReportRow, label: String) -> [String: Any] {
        let yuan = ReportCSV.yuan
        return ["key": row.key, "label": label, "sales": row.sales, "amount": yuan(row.amount), "refunds": row.refunds, "refundAmount": yuan(row.refundAmount),
                "net": yuan(row.net), "quantity": ReportCSV.units(row.quantity), "margin": row.margin.map(yuan) ?? "—",
                "previousNet": yuan(row.previousNet), "change": percent(row.changePercent)]
    }

    @Sendable func estate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let t = { (key: String) in renderer.text(key, locale: locale) }
        guard principal.can(.reportsFleet) || principal.can(.reportsSales) else {
            throw DomainError.forbidden("the dashboard needs permission reports.fleet or reports.sales")
        }
        let (range, error) = range(request, defaultDays: 90)
        var data: [String: Any] = ["error": error as Any, "from": ReportDay.text(range.from), "to": ReportDay.text(range.to)]
        // The money part is read while the fleet part is: the page waits for the slower of the two.
        let reports = self.reports
        async let overview = principal.can(.reportsSales) ? reports.transactionOverview(range: range, limit: 10, principal: principal) : nil
        if principal.can(.reportsFleet) {
            let dashboard = try await reports.estate(days: range.days, principal: principal)
            let counts = { (values: [ReportCount]) -> [SVGChart.Datum] in
                values.prefix(12).map { .init(label: $0.label.isEmpty ? "—" : $0.label, value: Double($0.count), caption: String($0.count)) }
            }
            let activations = ReportChartData.days(range: range, values: dashboard.activations.map { ($0.key, Double($0.count)) })
            data["fleet"] = [
                "terminals": dashboard.terminals, "deployed": dashboard.deployed, "online": dashboard.online,
                "onlineRatio": dashboard.onlineRatio.map { String(format: "%.1f%%", $0) } ?? "—",
                "tickets": ["open": dashboard.tickets.open, "responseBreached": dashboard.tickets.responseBreached,
                            "fixBreached": dashboard.tickets.fixBreached],
                "alerts": dashboard.openAlerts.map { ["severity": t("risk_severity_\($0.key)"), "severityClass": $0.key, "count": $0.count] },
                "charts": [
                    SVGChart.bars(dashboard.byState.prefix(12).map { .init(label: t("state_\($0.key)"), value: Double($0.count), caption: String($0.count)) },
                                  title: t("reports_chart_states")),
                    SVGChart.bars(counts(dashboard.byModel), title: t("reports_chart_models"), colour: "#6a5acd"),
                    SVGChart.bars(counts(dashboard.byRegion), title: t("reports_chart_regions"), colour: "#b8860b"),
                    SVGChart.bars(counts(dashboard.byVersion), title: t("reports_chart_versions"), colour: "#3a8a3a"),
                    SVGChart.line(activations.data, title: t("reports_chart_activations"), width: 640, maximum: activations.maximum,
                                  tick: { String(Int($0)) }),
                ],
                "csv": "/api/v1/reports/estate.csv?days=\(range.days)",
            ] as [String: Any]
        }
        if let (byDay, byRegion, byMerchant) = try await overview {
            let days = ReportChartData.days(range: range, values: byDay.rows.map { ($0.key, Double($0.amount)) })
            let rows = { (rows: [TransactionReportRow]) -> [[String: Any]] in
                rows.map { ["label": $0.label, "count": $0.count, "approved": $0.approved,
                                   "rate": $0.approvalRate.map { String(format: "%.1f%%", $0) } ?? "—", "amount": ReportCSV.yuan($0.amount),
                                   "refundAmount": ReportCSV.yuan($0.refundAmount)] }
            }
            let filters = Self.query([("from", byDay.from), ("to", byDay.to)])
            data["money"] = [
                "total": rows([byDay.total]).first ?? [:],
                "regions": rows(byRegion.rows), "merchants": rows(byMerchant.rows),
                "regionsCsv": "/api/v1/reports/transactions.csv?by=region&\(filters)",
                "merchantsCsv": "/api/v1/reports/transactions.csv?by=merchant&\(filters)",
                "daysCsv": "/api/v1/reports/transactions.csv?by=day&\(filters)",
                "charts": [
                    SVGChart.line(days.data, title: t("reports_chart_transactions"), width: 640, colour: "#2f6f9f", maximum: days.maximum,
                                  tick: { ReportCSV.yuan(Int64($0)) }),
                    SVGChart.bars(byRegion.rows.prefix(12).map { .init(label: $0.label, value: Double($0.amount), caption: ReportCSV.yuan($0.amount)) },
                                  title: t("reports_chart_region_amounts"), colour: "#b8860b"),
                    SVGChart.bars(byMerchant.rows.map { .init(label: $0.label, value: Double($0.amount), caption: ReportCSV.yuan($0.amount)) },
                                  title: t("reports_chart_merchant_amounts")),
                ],
            ] as [String: Any]
        }
        return renderer.page("reports_estate", titleKey: "reports_nav_estate", context: context, data: data)
    }
}

/// Chart data of a daily series: one point per day of the range (days without figures at zero) and
/// the axis maximum.
enum ReportChartData {
    static func days(range: ReportRange, values: [(key: String, value: Double)]) -> (data: [SVGChart.Datum], maximum: Double) {
        let known = Dictionary(values, uniquingKeysWith: +)
        let data = (range.from...range.to).map { day -> SVGChart.Datum in
            let key = ReportDay.text(day)
            return SVGChart.Datum(label: key, value: known[key] ?? 0, caption: "")
        }
        return (data, max(data.map(\.value).max() ?? 0, 1))
    }
}
