import Foundation
import Hummingbird
import TillyardKit

struct PurchaseInput: APIInput {
    var modelId: String
    var quantity: Int
    var reason: String
    var unitCost: Int64
    enum CodingKeys: String, CodingKey, CaseIterable { case modelId, quantity, reason, unitCost }
    typealias Field = CodingKeys
}

struct DecisionInput: APIInput {
    var decision: PurchaseDecision
    var comment: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case decision, comment }
    typealias Field = CodingKeys
}

struct ResubmitInput: APIInput {
    var quantity: Int?
    var reason: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case quantity, reason }
    typealias Field = CodingKeys
}

struct PurchaseStockInInput: APIInput {
    var terminals: [StockInInput]
    enum CodingKeys: String, CodingKey, CaseIterable { case terminals }
    typealias Field = CodingKeys
}

struct ChainInput: APIInput {
    var steps: [ApprovalStep]
    enum CodingKeys: String, CodingKey, CaseIterable { case steps }
    typealias Field = CodingKeys
}

/// `/api/v1` routes of terminal purchasing: requests, decisions along the approval chain,
/// stock-in against an approved request, and the chain's configuration.
struct PurchaseAPI {
    let estate: EstateService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let estate = self.estate
        let routes = self.routes

        api.get("purchase-chain") { _, context in
            try JSONResponse.make(["steps": try await estate.purchaseChain(by: try context.requirePrincipal())])
        }
        api.put("purchase-chain") { request, context in
            try await routes.update(request, context) { (input: ChainInput, principal) in
                ["steps": try await estate.setPurchaseChain(input.steps, by: principal)]
            }
        }
        api.get("purchase-requests") { request, context in
            let status = try request.query("status", as: PurchaseStatus.self)
            let page = try await estate.purchases(status: status, page: try request.pageRequest(), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.post("purchase-requests") { request, context in
            try await routes.create(request, context) { (input: PurchaseInput, principal) in
                return try await estate.submitPurchase(modelId: try ModelID.parse(input.modelId, field: "modelId"), quantity: input.quantity, reason: input.reason,
                                                       unitCost: input.unitCost, by: principal)
            }
        }
        api.get("purchase-requests/:id") { _, context in
            let id: PurchaseID = try context.id("id", resource: "purchase_request")
            return try JSONResponse.make(try await estate.purchase(id, by: try context.requirePrincipal()))
        }
        api.post("purchase-requests/:id/decision") { request, context in
            let id: PurchaseID = try context.id("id", resource: "purchase_request")
            return try await routes.update(request, context) { (input: DecisionInput, principal) in
                try await estate.decidePurchase(id, input.decision, comment: input.comment, by: principal)
            }
        }
        api.post("purchase-requests/:id/resubmit") { request, context in
            let id: PurchaseID = try context.id("id", resource: "purchase_request")
            return try await routes.update(request, context) { (input: ResubmitInput, principal) in
                try await estate.resubmitPurchase(id, quantity: input.quantity, reason: input.reason, by: principal)
            }
        }
        api.post("purchase-requests/:id/stock-in") { request, context in
            let id: PurchaseID = try context.id("id", resource: "purchase_request")
            return try await routes.create(request, context) { (input: PurchaseStockInInput, principal) in
                guard (1...1000).contains(input.terminals.count) else { throw DomainError.invalid("terminals", "give 1 to 1000 terminals") }
                let stocked = try await estate.stockIn(try input.terminals.map { try $0.request() }, against: id, by: principal)
                return stocked.map { TerminalBody($0, showCost: principal.can(.estateCosts)) }
            }
        }
    }
}
