import Foundation
import SQLKit
import TillyardKit

/// SQL storage of purchase requests; the steps travel as one JSON document (always read and
/// written whole, with the request's version).
struct SQLPurchaseRepository: PurchaseRepository {
    let db: any SQLDatabase

    static func encode(_ steps: [ApprovalStep]) throws -> String {
        try JSONColumn.encode(steps)
    }

    static func decodeSteps(_ text: String) throws -> [ApprovalStep] {
        try JSONColumn.decode([ApprovalStep].self, from: text)
    }

    func insert(_ request: PurchaseRequest, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO purchase_requests (id, org_id, org_path, model_id, quantity, reason, unit_cost, status, steps, current_step,
                                           stocked_in, created_by, created_at, updated_at, version)
            VALUES (\(bind: request.id.rawValue), \(bind: request.orgId.rawValue), \(bind: orgPath), \(bind: request.modelId.rawValue),
                    \(bind: request.quantity), \(bind: request.reason), \(bind: request.unitCost), \(bind: request.status.rawValue),
                    \(bind: try Self.encode(request.steps)), \(bind: request.currentStep), \(bind: request.stockedIn),
                    \(bind: request.createdBy), \(bind: request.createdAt.millis), \(bind: request.updatedAt.millis), \(bind: request.version))
            """).run()
    }

    func find(_ id: PurchaseID) async throws -> PurchaseRequest? {
        try await db.raw("SELECT * FROM purchase_requests WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func update(_ request: PurchaseRequest) async throws {
        let changed = try await db.raw("""
            UPDATE purchase_requests SET quantity = \(bind: request.quantity), reason = \(bind: request.reason),
                   status = \(bind: request.status.rawValue), steps = \(bind: try Self.encode(request.steps)),
                   current_step = \(bind: request.currentStep), stocked_in = \(bind: request.stockedIn),
                   updated_at = \(bind: request.updatedAt.millis), version = \(bind: request.version)
            WHERE id = \(bind: request.id.rawValue) AND version = \(bind: request.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("purchase request \(request.id) was changed by someone else") }
    }

    func list(under path: String, status: PurchaseStatus?, page: PageRequest) async throws -> Page<PurchaseRequest> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM purchase_requests WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(Self.decode), limit: page.limit) { $0.id.rawValue }
    }

    func chain(tenant: OrgID) async throws -> [ApprovalStep]? {
        try await db.raw("SELECT steps FROM purchase_chains WHERE org_id = \(bind: tenant.rawValue)").first()
            .map { try Self.decodeSteps(try $0.decode(column: "steps", as: String.self)) }
    }

    func setChain(tenant: OrgID, steps: [ApprovalStep], at: Date) async throws {
        try await db.raw("""
            INSERT INTO purchase_chains (org_id, steps, updated_at) VALUES (\(bind: tenant.rawValue), \(bind: try Self.encode(steps)), \(bind: at.millis))
            ON CONFLICT (org_id) DO UPDATE SET steps = excluded.steps, updated_at = excluded.updated_at
            """).run()
    }

    static func decode(_ row: any SQLRow) throws -> PurchaseRequest {
        PurchaseRequest(
            id: PurchaseID(rawValue: try row.decode(column: "id", as: String.self)),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            modelId: ModelID(rawValue: try row.decode(column: "model_id", as: String.self)),
            quantity: try row.decode(column: "quantity", as: Int.self),
            reason: try row.decode(column: "reason", as: String.self),
            unitCost: try row.decode(column: "unit_cost", as: Int64.self),
            status: try row.enumValue("status", as: PurchaseStatus.self),
            steps: try decodeSteps(try row.decode(column: "steps", as: String.self)),
            currentStep: try row.decode(column: "current_step", as: Int.self),
            stockedIn: try row.decode(column: "stocked_in", as: Int.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}
