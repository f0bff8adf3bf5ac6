import Foundation

extension EstateService {
    /// The caller's acquirer's purchase chain (the default until one is configured).
    public func purchaseChain(by principal: Principal) async throws -> [ApprovalStep] {
        try principal.require(.estateRead)
        let tenant = Self.tenant(of: principal)
        return try await store.read { try await $0.purchases.chain(tenant: tenant) } ?? PurchaseChain.defaultSteps
    }

    /// Configures the acquirer's chain; only acquirer-level administrators may. Requests already
    /// in review keep the chain they started with.
    public func setPurchaseChain(_ steps: [ApprovalStep], by principal: Principal) async throws -> [ApprovalStep] {
        guard principal.user.role == .administrator, principal.orgKind == .acquirer else {
            throw DomainError.forbidden("only the acquirer's administrators configure the purchase chain")
        }
        let chain = try PurchaseChain.validate(steps)
        let tenant = Self.tenant(of: principal)
        let now = clock.now()
        try await store.write { repos in
            try await repos.purchases.setChain(tenant: tenant, steps: chain, at: now)
            _ = try await repos.audit.append(
                AuditDraft(orgId: tenant, actor: principal.actor, action: "purchase_chain.update", resourceType: "purchase_chain",
                           resourceId: tenant.rawValue, origin: principal.origin,
                           summary: ["steps": chain.map { "\($0.name):\($0.role.rawValue)" }.joined(separator: " → ")]),
                orgPath: principal.orgPath, at: now)
        }
        return chain
    }

    /// Files a purchase request from the caller's organisation; it enters the first step of the chain.
    public func submitPurchase(modelId: ModelID, quantity: Int, reason: String, unitCost: Int64,
                               by principal: Principal) async throws -> PurchaseRequest {
        try principal.require(.estateManage)
        guard (1...100_000).contains(quantity) else { throw DomainError.invalid("quantity", "must be from 1 to 100000") }
        guard unitCost >= 0 else { throw DomainError.invalid("unitCost", "must not be negative") }
        let why = try AccessRules.text(reason, field: "reason", max: 1000)
        let tenant = Self.tenant(of: principal)
        let now = clock.now()
        return try await store.write { repos in
            guard let model = try await repos.models.find(modelId), model.orgId == tenant else {
                throw DomainError.invalid("modelId", "no such model in your catalogue")
            }
            let steps = try await repos.purchases.chain(tenant: tenant) ?? PurchaseChain.defaultSteps
            let request = PurchaseRequest(id: .generate(now: now), orgId: principal.user.orgId, modelId: model.id, quantity: quantity,
                                          reason: why, unitCost: unitCost, status: .inReview, steps: steps, currentStep: 0,
                                          stockedIn: 0, createdBy: principal.user.username, createdAt: now, updatedAt: now)
            try await repos.purchases.insert(request, orgPath: principal.orgPath)
            _ = try await repos.audit.append(
                AuditDraft(orgId: request.orgId, actor: principal.actor, action: "purchase.submit", resourceType: "purchase_request",
                           resourceId: request.id.rawValue, origin: principal.origin,
                           summary: ["model": "\(model.manufacturer) \(model.name)", "quantity": String(quantity),
                                     "unitCost": Money(minorUnits: unitCost).description]),
                orgPath: principal.orgPath, at: now)
            return request
        }
    }

    /// Decides the pending step. Only a user with that step's role, who can see the request,
    /// decides; rejecting or returning needs a comment.
    public func decidePurchase(_ id: PurchaseID, _ decision: PurchaseDecision, comment: String?,
                               by principal: Principal) async throws -> PurchaseRequest {
        let note = comment.flatMap { Self.optionalText($0) }
        if decision != .approve, note == nil {
            throw DomainError.invalid("comment", "say why when you reject or return a request")
        }
        let now = clock.now()
        return try await store.write { repos in
            var (request, path) = try await Self.visiblePurchase(id, repos: repos, principal: principal)
            guard let step = request.pendingStep else {
                throw DomainError.conflict("the request is \(request.status.rawValue); there is no step to decide")
            }
            guard principal.user.role == step.role else {
                throw DomainError.forbidden("step \(step.name) is decided by the \(step.role.rawValue) role")
            }
            request.steps[request.currentStep].decision = decision
            request.steps[request.currentStep].decidedBy = principal.user.username
            request.steps[request.currentStep].decidedAt = now
            request.steps[request.currentStep].comment = note
            switch decision {
            case .approve:
                request.currentStep += 1
                if request.currentStep == request.steps.count { request.status = .approved }
            case .reject: request.status = .rejected
            case .return: request.status = .returned
            }
            request.updatedAt = now
            request.version += 1
            try await repos.purchases.update(request)
            var summary = ["step": step.name, "decision": decision.rawValue, "status": request.status.rawValue]
            if let note { summary["comment"] = note }
            _ = try await repos.audit.append(
                AuditDraft(orgId: request.orgId, actor: principal.actor, action: "purchase.decide", resourceType: "purchase_request",
                           resourceId: request.id.rawValue, origin: principal.origin, summary: summary),
                orgPath: path, at: now)
            return request
        }
    }

    /// Resubmits a returned request (optionally changed); the chain starts again from its first step.
    public func resubmitPurchase(_ id: PurchaseID, quantity: Int?, reason: String?, by principal: Principal) async throws -> PurchaseRequest {
        try principal.require(.estateManage)
        if let quantity, !(1...100_000).contains(quantity) { throw DomainError.invalid("quantity", "must be from 1 to 100000") }
        let why = try reason.map { try AccessRules.text($0, field: "reason", max: 1000) }
        let now = clock.now()
        return try await store.write { repos in
            var (request, path) = try await Self.visiblePurchase(id, repos: repos, principal: principal)
            guard request.status == .returned else { throw DomainError.conflict("only a returned request can be resubmitted") }
            if let quantity { request.quantity = quantity }
            if let why { request.reason = why }
            request.steps = request.steps.map { ApprovalStep(name: $0.name, role: $0.role) }
            request.currentStep = 0
            request.status = .inReview
            request.updatedAt = now
            request.version += 1
            try await repos.purchases.update(request)
            _ = try await repos.audit.append(
                AuditDraft(orgId: request.orgId, actor: principal.actor, action: "purchase.resubmit", resourceType: "purchase_request",
                           resourceId: request.id.rawValue, origin: principal.origin, summary: ["quantity": String(request.quantity)]),
                orgPath: path, at: now)
            return request
        }
    }

    /// One purchase request the caller can see.
    public func purchase(_ id: PurchaseID, by principal: Principal) async throws -> PurchaseRequest {
        try principal.require(.estateRead)
        return try await store.read { try await Self.visiblePurchase(id, repos: $0, principal: principal).0 }
    }

    /// Purchase requests in the caller's subtree, newest first.
    public func purchases(status: PurchaseStatus?, page: PageRequest, by principal: Principal) async throws -> Page<PurchaseRequest> {
        try principal.require(.estateRead)
        return try await store.read { try await $0.purchases.list(under: principal.orgPath, status: status, page: page) }
    }

    /// Counts terminals stocked in against an approved request, inside the stock-in transaction.
    func consume(_ id: PurchaseID, count: Int, models: Set<ModelID>, repos: any Repositories, principal: Principal, at now: Date) async throws {
        var (request, _) = try await Self.visiblePurchase(id, repos: repos, principal: principal)
        guard request.status == .approved else {
            throw DomainError.conflict("purchase request is \(request.status.rawValue); terminals are stocked in against approved requests only")
        }
        guard models == [request.modelId] else { throw DomainError.invalid("modelId", "the request is for another model") }
        guard request.stockedIn + count <= request.quantity else {
            throw DomainError.conflict("the request allows \(request.quantity - request.stockedIn) more terminals, not \(count)")
        }
        request.stockedIn += count
        if request.stockedIn == request.quantity { request.status = .completed }
        request.updatedAt = now
        request.version += 1
        try await repos.purchases.update(request)
    }

    static func visiblePurchase(_ id: PurchaseID, repos: any Repositories, principal: Principal) async throws -> (PurchaseRequest, String) {
        guard let request = try await repos.purchases.find(id), let org = try await repos.orgs.find(request.orgId),
              principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "purchase_request", id: id.rawValue)
        }
        return (request, org.path)
    }
}
