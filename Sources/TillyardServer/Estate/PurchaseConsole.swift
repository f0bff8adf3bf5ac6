import Foundation
import Hummingbird
import TillyardKit

struct PurchaseForm: Decodable, CSRFCarrying { var modelId: String; var quantity: String; var reason: String; var unitCost: String?; var _csrf: String }
struct DecisionForm: Decodable, CSRFCarrying { var decision: String; var comment: String?; var _csrf: String }
struct PurchaseStockInForm: Decodable, CSRFCarrying { var terminals: String; var _csrf: String }

/// Console page of terminal purchasing: requests with their chain, submission, and the decision
/// forms for the steps the caller's role decides.
struct PurchaseConsole {
    let estate: EstateService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("purchases", use: list)
        console.post("purchases", use: submit)
        console.post("purchases/:id/decision", use: decide)
        console.post("purchases/:id/stock-in", use: stockIn)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await page(request, context, error: nil, status: .ok)
    }

    private func page(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let models = try await estate.models(page: PageRequest(limit: PageRequest.maxLimit), by: principal).items
        let names = Dictionary(uniqueKeysWithValues: models.map { ($0.id, "\($0.manufacturer) \($0.name)") })
        let result = try await estate.purchases(status: nil, page: try request.pageRequest(), by: principal)
        let rows = result.items.map { purchase -> [String: Any] in
            let pending = purchase.pendingStep
            return ["id": purchase.id.rawValue, "model": names[purchase.modelId] ?? "", "quantity": purchase.quantity,
                    "stockedIn": purchase.stockedIn, "reason": purchase.reason, "createdBy": purchase.createdBy,
                    "unitCost": Money(minorUnits: purchase.unitCost).description,
                    "status": renderer.text("purchase_\(purchase.status.rawValue)", locale: locale),
                    "steps": purchase.steps.map { step -> [String: String] in
                        ["name": step.name, "role": renderer.text("role_\(step.role.rawValue)", locale: locale),
                         "decision": step.decision.map { renderer.text("decision_\($0.rawValue)", locale: locale) } ?? "…",
                         "by": step.decidedBy ?? "", "comment": step.comment ?? ""]
                    },
                    "canDecide": pending?.role == principal.user.role, "pendingStep": pending?.name ?? "",
                    "canStockIn": purchase.status == .approved && principal.can(.estateManage),
                    "remaining": purchase.quantity - purchase.stockedIn]
        }
        return renderer.page("purchases", titleKey: "nav_purchases", context: context, data: [
            "purchases": rows, "canSubmit": principal.can(.estateManage), "error": error as Any,
            "modelOptions": models.map { ["id": $0.id.rawValue, "name": "\($0.manufacturer) \($0.name)"] },
            "next": result.nextCursor as Any,
        ], status: status)
    }

    @Sendable func submit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(PurchaseForm.self, request, context)
        do {
            guard let model = ModelID(validating: form.modelId) else { throw DomainError.invalid("modelId", "choose a model") }
            guard let quantity = Int(form.quantity) else { throw DomainError.invalid("quantity", "must be a whole number") }
            var cost: Int64 = 0
            if let raw = form.unitCost, !raw.isEmpty { cost = try Money.minorUnits(fromYuan: raw, field: "unitCost") }
            _ = try await estate.submitPurchase(modelId: model, quantity: quantity, reason: form.reason, unitCost: cost, by: principal)
            return .redirect(to: "/console/purchases", type: .found)
        } catch let error as DomainError {
            return try await page(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func decide(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: PurchaseID = try context.id("id", resource: "purchase_request")
        let form = try await forms.decode(DecisionForm.self, request, context)
        do {
            guard let decision = PurchaseDecision(rawValue: form.decision) else { throw DomainError.invalid("decision", "choose a decision") }
            _ = try await estate.decidePurchase(id, decision, comment: form.comment, by: principal)
            return .redirect(to: "/console/purchases", type: .found)
        } catch let error as DomainError {
            return try await page(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    /// Stocks in the delivered terminals of an approved request: one "SN TID" (or "SN,TID") per
    /// line, at the caller's organisation, the request's model and unit cost; all lines or none.
    @Sendable func stockIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: PurchaseID = try context.id("id", resource: "purchase_request")
        let form = try await forms.decode(PurchaseStockInForm.self, request, context)
        do {
            let purchase = try await estate.purchase(id, by: principal)
            let lines = form.terminals.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard (1...1000).contains(lines.count) else { throw DomainError.invalid("terminals", "give 1 to 1000 lines of SN and TID") }
            let inputs = try lines.enumerated().map { index, line -> StockIn in
                let parts = line.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
                guard parts.count == 2 else { throw DomainError.invalid("terminals", "line \(index + 1): write the SN and the TID") }
                return StockIn(sn: parts[0], tid: parts[1], modelId: purchase.modelId, purchaseCost: purchase.unitCost)
            }
            _ = try await estate.stockIn(inputs, against: id, by: principal)
            return .redirect(to: "/console/purchases", type: .found)
        } catch let error as DomainError {
            return try await page(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }
}
