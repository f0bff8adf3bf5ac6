import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The purchase approval chain on both engines: the full path to procurement and stock-in
/// against the request, rejection, return and resubmission, wrong approvers, a configured chain.
@Suite struct PurchaseChainTests {
    struct World {
        let services: AppServices
        let admin: Principal
        let security: Principal
        let finance: Principal
        let tech: Principal
        let model: TerminalModel
        var estate: EstateService { services.estate }

        static func make(_ database: Database) async throws -> World {
            let services = AppServices(database: database, bcryptCost: 4)
            _ = try await Fixtures.make(services.access)
            let admin = try await services.access.principal(commandLineUser: "admin")
            for (name, role) in [("fin", Role.finance), ("tech", .technical)] {
                _ = try await services.access.createUser(NewUser(orgId: admin.user.orgId, username: name, displayName: name, role: role,
                                                                 password: Fixtures.password), by: admin)
            }
            let model = try await services.estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: [], ptsApproval: "4-1",
                ptsExpiry: Date().addingTimeInterval(365 * 86400), unionPayCertified: true, unionPayCertificate: nil), by: admin)
            return World(services: services, admin: admin,
                         security: try await services.access.principal(commandLineUser: "security"),
                         finance: try await services.access.principal(commandLineUser: "fin"),
                         tech: try await services.access.principal(commandLineUser: "tech"), model: model)
        }

        /// Approves every step with the right person.
        func approveAll(_ id: PurchaseID) async throws -> PurchaseRequest {
            var request = try await estate.purchase(id, by: admin)
            while let step = request.pendingStep {
                let who: Principal
                switch step.role {
                case .security: who = security
                case .finance: who = finance
                case .technical: who = tech
                default: who = admin
                }
                request = try await estate.decidePurchase(id, .approve, comment: nil, by: who)
            }
            return request
        }
    }

    @Test(arguments: TestBackend.allCases)
    func fullChainThenStockInAgainstTheRequest(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let request = try await estate.submitPurchase(modelId: world.model.id, quantity: 3, reason: "new branch", unitCost: 185_000, by: world.tech)
            #expect(request.status == .inReview && request.pendingStep?.name == "supervisor_review")
            // Terminals cannot be stocked in against a request still in review.
            let early = (1...3).map { StockIn(sn: "PR-000\($0)", tid: "5000000\($0)", modelId: world.model.id) }
            await #expect(throws: DomainError.self) { _ = try await estate.stockIn(early, against: request.id, by: world.tech) }
            // The wrong role cannot decide the current step.
            await #expect(throws: DomainError.forbidden("step supervisor_review is decided by the administrator role")) {
                _ = try await estate.decidePurchase(request.id, .approve, comment: nil, by: world.finance)
            }
            let approved = try await world.approveAll(request.id)
            #expect(approved.status == .approved)
            #expect(approved.steps.map(\.decision) == Array(repeating: .approve, count: 5))
            #expect(approved.steps.map(\.decidedBy) == ["admin", "security", "fin", "admin", "tech"])
            await #expect(throws: DomainError.self) { _ = try await estate.decidePurchase(request.id, .approve, comment: nil, by: world.admin) }

            // Stock-in against it: never more than the quantity; completion closes the request.
            _ = try await estate.stockIn(Array(early.prefix(2)), against: request.id, by: world.tech)
            let tooMany = [early[2], StockIn(sn: "PR-0004", tid: "50000004", modelId: world.model.id)]
            await #expect(throws: DomainError.conflict("the request allows 1 more terminals, not 2")) {
                _ = try await estate.stockIn(tooMany, against: request.id, by: world.tech)
            }
            #expect(try await estate.search(TerminalFilter(sn: "PR-0004"), page: PageRequest(), by: world.tech).items.isEmpty,
                    "a refused stock-in writes nothing")
            _ = try await estate.stockIn([early[2]], against: request.id, by: world.tech)
            let done = try await estate.purchase(request.id, by: world.admin)
            #expect(done.status == .completed && done.stockedIn == 3)
            let audit = try await world.services.access.auditEvents(AuditFilter(resourceId: request.id.rawValue), page: PageRequest(), by: world.admin)
            #expect(audit.items.count == 6, "submit + five decisions")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func rejectionReturnAndResubmission(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let first = try await estate.submitPurchase(modelId: world.model.id, quantity: 10, reason: "refresh", unitCost: 90_000, by: world.tech)
            _ = try await estate.decidePurchase(first.id, .approve, comment: nil, by: world.admin)
            await #expect(throws: DomainError.invalid("comment", "say why when you reject or return a request")) {
                _ = try await estate.decidePurchase(first.id, .return, comment: " ", by: world.security)
            }
            let returned = try await estate.decidePurchase(first.id, .return, comment: "justify the quantity", by: world.security)
            #expect(returned.status == .returned && returned.steps[1].comment == "justify the quantity")
            let again = try await estate.resubmitPurchase(first.id, quantity: 6, reason: nil, by: world.tech)
            #expect(again.status == .inReview && again.currentStep == 0 && again.quantity == 6)
            #expect(again.steps.allSatisfy { $0.decision == nil })

            let rejected = try await estate.decidePurchase(first.id, .reject, comment: "no budget this quarter", by: world.admin)
            #expect(rejected.status == .rejected)
            await #expect(throws: DomainError.self) { _ = try await estate.resubmitPurchase(first.id, quantity: nil, reason: nil, by: world.tech) }
            await #expect(throws: DomainError.self) { _ = try await estate.decidePurchase(first.id, .approve, comment: nil, by: world.admin) }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aConfiguredChainAndWhoMaySeeIt(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let regionAdmin = try await world.services.access.principal(commandLineUser: "regionA.admin")
            await #expect(throws: DomainError.self) {
                _ = try await estate.setPurchaseChain([ApprovalStep(name: "x", role: .administrator)], by: regionAdmin)
            }
            await #expect(throws: DomainError.self) {
                _ = try await estate.setPurchaseChain([ApprovalStep(name: "owner ok", role: .merchantOwner)], by: world.admin)
            }
            let chain = try await estate.setPurchaseChain([ApprovalStep(name: "finance_check", role: .finance),
                                                           ApprovalStep(name: "procurement", role: .technical)], by: world.admin)
            #expect(try await estate.purchaseChain(by: world.tech) == chain)
            let request = try await estate.submitPurchase(modelId: world.model.id, quantity: 1, reason: "spare", unitCost: 1, by: world.tech)
            #expect(request.steps.map(\.name) == ["finance_check", "procurement"])
            #expect(try await world.approveAll(request.id).status == .approved)
            // Region A's administrator does not see the acquirer's requests; merchants never do.
            await #expect(throws: DomainError.notFound(resource: "purchase_request", id: request.id.rawValue)) {
                _ = try await estate.purchase(request.id, by: regionAdmin)
            }
            #expect(try await estate.purchases(status: nil, page: PageRequest(), by: regionAdmin).items.isEmpty)
        }
    }
}
