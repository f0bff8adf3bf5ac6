import Foundation
import Hummingbird
import TillyardKit

extension RiskRuleChange: APIInput {
    public enum Field: String, CodingKey, CaseIterable { case mode, severity, actions, parameters, version }
}

extension SettlementUpload: APIInput {
    public typealias Field = CodingKeys
}

/// The body of `POST /risk-rules/{kind}/backtest`: a span and, to try other values, parameters.
struct BacktestInput: APIInput {
    var from: Date
    var to: Date
    var parameters: [String: Int64]?
    enum CodingKeys: String, CodingKey, CaseIterable { case from, to, parameters }
    typealias Field = CodingKeys
}

/// The body of `POST /risk-alerts/{id}/assign`.
struct AssignInput: APIInput {
    var assignee: String?
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case assignee, version }
    typealias Field = CodingKeys
}

/// The body of `POST /risk-alerts/{id}/status`.
struct AlertStatusInput: APIInput {
    var status: RiskAlertStatus
    var note: String?
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case status, note, version }
    typealias Field = CodingKeys
}

/// The body of `POST /risk-alerts/{id}/comments`.
struct AlertCommentInput: APIInput {
    var text: String
    enum CodingKeys: String, CodingKey, CaseIterable { case text }
    typealias Field = CodingKeys
}

/// Risk over HTTP: rules (versions, back-tests), the alert queue and its cases, settlement batches
/// and the monitor under `/api/v1`; batch closes under the signed `/terminal/v1`.
struct RiskAPI {
    let risk: RiskService
    let fleet: FleetService
    let routes: APIRoutes

    func register(api: RouterGroup<AppRequestContext>, terminal: RouterGroup<AppRequestContext>) {
        let risk = self.risk, fleet = self.fleet, routes = self.routes

        api.get("risk-rules") { _, context in
            let rules = try await risk.rules(by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: rules, nextCursor: nil)) { $0 })
        }
        api.get("risk-rules/:kind") { _, context in
            let history = try await risk.history(of: try Self.kind(context), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: history, nextCursor: nil)) { $0 })
        }
        api.put("risk-rules/:kind") { request, context in
            let kind = try Self.kind(context)
            return try await routes.update(request, context) { (input: RiskRuleChange, principal) in
                try await risk.saveRule(kind, input, by: principal)
            }
        }
        api.post("risk-rules/:kind/backtest") { request, context in
            let kind = try Self.kind(context)
            return try await routes.update(request, context) { (input: BacktestInput, principal) in
                try await risk.backtest(kind, parameters: input.parameters, from: input.from, to: input.to, by: principal)
            }
        }
        api.post("risk-sweeps") { _, context in
            let raised = try await risk.sweep(by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: raised, nextCursor: nil)) { $0 })
        }
        api.get("risk-alerts") { request, context in
            let principal = try context.requirePrincipal()
            let filter = RiskAlertFilter(status: try request.query("status", as: RiskAlertStatus.self),
                                         mode: try request.query("mode", as: RiskMode.self) ?? .enforced,
                                         rule: try request.query("rule", as: RiskRuleKind.self), assignee: request.query("assignee"))
            return try JSONResponse.make(PageBody(try await risk.alerts(filter, page: try request.pageRequest(), by: principal)) { $0 })
        }
        api.get("risk-alerts/:id") { _, context in
            try JSONResponse.make(try await risk.alert(context.parameters.get("id") ?? "", by: try context.requirePrincipal()))
        }
        api.post("risk-alerts/:id/assign") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.update(request, context) { (input: AssignInput, principal) in
                try await risk.assign(id, to: input.assignee, version: input.version, by: principal)
            }
        }
        api.post("risk-alerts/:id/status") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.update(request, context) { (input: AlertStatusInput, principal) in
                try await risk.move(id, to: input.status, note: input.note, version: input.version, by: principal)
            }
        }
        api.post("risk-alerts/:id/comments") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.create(request, context) { (input: AlertCommentInput, principal) in
                try await risk.comment(id, text: input.text, by: principal)
            }
        }
        api.get("settlement-batches") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await risk.batches(mismatchedOnly: request.query("mismatched") == "true", page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.get("settlement-batches/:id") { _, context in
            try JSONResponse.make(try await risk.batch(context.parameters.get("id") ?? "", by: try context.requirePrincipal()))
        }
        api.get("risk-monitor") { request, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await risk.monitor(from: try Self.date(request, "from"), to: try Self.date(request, "to"), by: principal))
        }

        terminal.post("settlements") { request, context in
            let (caller, body) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            return try JSONResponse.make(try await risk.settle(try JSONIO.decode(SettlementUpload.self, from: body), from: caller))
        }
    }

    static func kind(_ context: AppRequestContext) throws -> RiskRuleKind {
        let raw = context.parameters.get("kind") ?? ""
        guard let kind = RiskRuleKind(rawValue: raw) else { throw DomainError.notFound(resource: "risk rule", id: raw) }
        return kind
    }

    /// An ISO 8601 query parameter.
    static func date(_ request: Request, _ name: String) throws -> Date? {
        guard let raw = request.query(name) else { return nil }
        guard let date = ISO8601DateFormatter().date(from: raw) else { throw DomainError.invalid(name, "must be an ISO 8601 time (2026-01-31T00:00:00Z)") }
        return date
    }
}
