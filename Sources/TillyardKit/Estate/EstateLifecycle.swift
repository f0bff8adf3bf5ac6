import Foundation

extension EstateService {
    // MARK: - Stock-in

    /// Stocks in one terminal (入库) under the caller's organisation or one below it.
    public func stockIn(_ input: StockIn, by principal: Principal) async throws -> Terminal {
        try await stockIn([input], by: principal)[0]
    }

    /// Stocks in many terminals in one transaction: all of them, or none (bulk and CSV import).
    /// With `purchase`, they count against that approved purchase request in the same transaction.
    public func stockIn(_ inputs: [StockIn], against purchase: PurchaseID? = nil, by principal: Principal) async throws -> [Terminal] {
        try principal.require(.estateManage)
        let now = clock.now()
        let tenant = Self.tenant(of: principal)
        var prepared: [(Terminal, StockIn)] = []
        for (index, input) in inputs.enumerated() {
            let prefix = inputs.count > 1 ? "\(index + 1)." : ""
            let sn = try EstateRules.serialNumber(input.sn, field: prefix + "sn")
            let tid = try EstateRules.tid(input.tid, field: prefix + "tid")
            if let cost = input.purchaseCost, cost < 0 { throw DomainError.invalid(prefix + "purchaseCost", "must not be negative") }
            let terminal = Terminal(id: .generate(now: now), orgId: input.ownerId ?? principal.user.orgId, sn: sn, tid: tid,
                                    modelId: input.modelId, state: .inStock,
                                    responsiblePerson: Self.optionalText(input.responsiblePerson),
                                    appVersion: Self.optionalText(input.appVersion), firmwareVersion: Self.optionalText(input.firmwareVersion),
                                    keyCheckValue: Self.optionalText(input.keyCheckValue), purchaseCost: input.purchaseCost,
                                    warrantyEnd: input.warrantyEnd, notes: Self.optionalText(input.notes),
                                    createdAt: now, updatedAt: now)
            prepared.append((terminal, input))
        }
        let batch = prepared
        let sns = batch.map(\.0.sn)
        if let duplicate = Dictionary(grouping: sns, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DomainError.invalid("sn", "\(duplicate) appears more than once")
        }
        return try await store.write { repos in
            if let purchase {
                try await consume(purchase, count: batch.count, models: Set(batch.map(\.0.modelId)), repos: repos, principal: principal, at: now)
            }
            var models: [ModelID: TerminalModel] = [:]
            var owners: [OrgID: Organization] = [:]
            for (terminal, _) in batch {
                if models[terminal.modelId] == nil {
                    guard let model = try await repos.models.find(terminal.modelId), model.orgId == tenant else {
                        throw DomainError.invalid("modelId", "no such model in your catalogue")
                    }
                    models[terminal.modelId] = model
                }
                if owners[terminal.orgId] == nil {
                    guard let owner = try await repos.orgs.find(terminal.orgId), principal.sees(path: owner.path),
                          !owner.kind.isMerchantSide else {
                        throw DomainError.invalid("ownerId", "terminals are stocked in at an acquirer, region or agent in your part of the tree")
                    }
                    owners[terminal.orgId] = owner
                }
                let owner = owners[terminal.orgId]!
                try await repos.terminals.insert(terminal, ownerPath: owner.path, tenant: tenant)
                try await repos.terminals.record(TerminalEvent(
                    id: UUIDv7.make(now: now), terminalId: terminal.id, version: terminal.version, orgId: owner.id, at: now,
                    action: LifecycleAction.stockIn.rawValue, fromState: nil, toState: .inStock, actorName: principal.user.username,
                    reason: nil, details: ["owner": owner.name, "model": models[terminal.modelId].map { "\($0.manufacturer) \($0.name)" } ?? ""]))
                _ = try await repos.audit.append(
                    AuditDraft(orgId: owner.id, actor: principal.actor, action: "terminal.stock_in", resourceType: "terminal",
                               resourceId: terminal.id.rawValue, origin: principal.origin,
                               summary: ["sn": terminal.sn, "tid": terminal.tid, "owner": owner.name]),
                    orgPath: owner.path, at: now)
            }
            return batch.map(\.0)
        }
    }

    // MARK: - Transfers (出库 / 调拨)

    /// Dispatches unbound terminals in stock to the parent or a direct child of their owner,
    /// all or nothing.
    public func dispatch(_ ids: [TerminalID], to destinationId: OrgID, reason: String?, by principal: Principal) async throws -> [Terminal] {
        try principal.require(.estateManage)
        guard !ids.isEmpty else { throw DomainError.invalid("terminalIds", "choose at least one terminal") }
        return try await transitionAll(ids, .dispatch, reason: reason, by: principal) { terminal, owner, repos in
            guard let destination = try await repos.orgs.find(destinationId), principal.sees(path: destination.path) || destination.id == owner.parentId else {
                throw DomainError.invalid("destinationId", "no such organisation in your part of the tree")
            }
            guard !destination.kind.isMerchantSide else {
                throw DomainError.invalid("destinationId", "terminals go to merchants by binding, not by transfer")
            }
            guard destination.parentId == owner.id || owner.parentId == destination.id else {
                throw DomainError.conflict("terminal \(terminal.sn) can only move one level of the tree at a time (to the parent or a direct child of \(owner.name))")
            }
            terminal.transitToOrgId = destination.id
            return ["from": owner.name, "to": destination.name]
        }
    }

    /// Confirms receipt at the destination: the terminals join the destination's stock.
    public func receive(_ ids: [TerminalID], by principal: Principal) async throws -> [Terminal] {
        try principal.require(.estateManage)
        return try await transitionAll(ids, .receive, reason: nil, by: principal, ownerMustBeVisible: false) { terminal, _, repos in
            guard let destinationId = terminal.transitToOrgId, let destination = try await repos.orgs.find(destinationId),
                  principal.sees(path: destination.path) else {
                throw DomainError.forbidden("only the receiving organisation confirms receipt")
            }
            terminal.orgId = destination.id
            terminal.transitToOrgId = nil
            return ["receivedBy": destination.name]
        }
    }

    /// Calls a dispatch back before it is received.
    public func cancelTransit(_ ids: [TerminalID], reason: String?, by principal: Principal) async throws -> [Terminal] {
        try principal.require(.estateManage)
        return try await transitionAll(ids, .cancelTransit, reason: reason, by: principal) { terminal, _, _ in
            terminal.transitToOrgId = nil
            return [:]
        }
    }

    // MARK: - Binding (绑定)

    /// Binds a terminal in stock to a merchant with the five elements. The model must be
    /// certified and unexpired.
    public func bind(_ id: TerminalID, _ request: BindRequest, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateBind)
        let placement = try request.placement.map { given in
            let address = try AccessRules.text(given.address, field: "placement.address", max: 300)
            try EstateRules.coordinates(latitude: given.latitude, longitude: given.longitude)
            return Placement(address: address, latitude: given.latitude, longitude: given.longitude)
        }
        let now = clock.now()
        return try await transitionAll([id], .bind, reason: nil, by: principal, Self.binding(request, placement: placement, at: now, by: principal))[0]
    }

    /// The bind step of the lifecycle: the merchant's approved file gives the elements, the model
    /// must be certified; `placement` nil stands the terminal at the merchant's registered address.
    static func binding(_ request: BindRequest, placement: Placement?, at now: Date, by principal: Principal)
        -> @Sendable (inout Terminal, Organization, any Repositories) async throws -> [String: String] {
        return { terminal, owner, repos in
            guard let model = try await repos.models.find(terminal.modelId) else {
                throw DomainError.conflict("terminal \(terminal.sn) has no model on record")
            }
            let certification = model.certification(at: now)
            guard certification == .valid else {
                throw DomainError.conflict("model \(model.manufacturer) \(model.name) cannot be bound: \(certification.rawValue)")
            }
            guard let merchant = try await repos.orgs.find(request.merchantId), merchant.kind == .merchant,
                  principal.sees(path: merchant.path) else {
                throw DomainError.invalid("merchantId", "no such merchant in your part of the tree")
            }
            guard let profile = try await repos.merchants.find(merchant.id), profile.status == .approved, let mid = profile.mid else {
                throw DomainError.conflict("\(merchant.name) has not passed onboarding review; terminals are bound to approved merchants only")
            }
            if let storeId = request.storeId {
                guard let store = try await repos.orgs.find(storeId), store.parentId == merchant.id, store.kind == .store else {
                    throw DomainError.invalid("storeId", "must be a store of the merchant")
                }
            }
            guard let root = try await repos.orgs.find(owner.rootId) else {
                throw DomainError.conflict("the acquirer of \(owner.name) is missing")
            }
            let standing = placement ?? profile.address
            let binding = Binding(id: UUIDv7.make(now: now), terminalId: terminal.id, merchantId: merchant.id, storeId: request.storeId,
                                  sn: terminal.sn, acquirerCode: root.code, mid: mid, creditCode: profile.creditCode,
                                  settlementAccountMasked: profile.settlementAccountMasked,
                                  settlementAccountFingerprint: profile.settlementAccountFingerprint,
                                  placement: standing, boundAt: now, boundBy: principal.user.username)
            try await repos.bindings.insert(binding)
            terminal.merchantId = merchant.id
            terminal.storeId = request.storeId
            terminal.placement = standing
            return ["merchant": merchant.name, "mid": mid, "creditCode": profile.creditCode, "account": profile.settlementAccountMasked,
                    "acquirerCode": root.code]
        }
    }

    /// Ends a binding before installation (wrong merchant, changed element). Requires a reason.
    public func unbind(_ id: TerminalID, reason: String, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateBind)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await transitionAll([id], .unbind, reason: why, by: principal) { terminal, _, repos in
            try await closeBinding(&terminal, reason: why, by: principal, repos: repos)
        }[0]
    }

    // MARK: - Field work (装机 / 撤机)

    /// Records the installation at the merchant, optionally correcting the placement.
    public func install(_ id: TerminalID, installer: String, placement: Placement?, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateInstall)
        let who = try AccessRules.text(installer, field: "installer", max: 100)
        if let placement { try EstateRules.coordinates(latitude: placement.latitude, longitude: placement.longitude) }
        let now = clock.now()
        return try await transitionAll([id], .install, reason: nil, by: principal, ownerMustBeVisible: false) { terminal, _, _ in
            terminal.installer = who
            terminal.installedAt = now
            if let placement { terminal.placement = placement }
            return ["installer": who, "address": terminal.placement?.address ?? ""]
        }[0]
    }

    /// Puts an installed terminal in service.
    public func commission(_ id: TerminalID, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateInstall)
        return try await transitionAll([id], .commission, reason: nil, by: principal, ownerMustBeVisible: false) { _, _, _ in [:] }[0]
    }

    /// Takes a terminal away from the merchant (撤机). Requires a reason.
    public func remove(_ id: TerminalID, reason: String, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateInstall)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await transitionAll([id], .remove, reason: why, by: principal, ownerMustBeVisible: false) { _, _, _ in [:] }[0]
    }

    /// Returns a removed terminal to its owner's stock, closing the binding.
    public func returnToStock(_ id: TerminalID, reason: String?, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateManage)
        return try await transitionAll([id], .returnToStock, reason: reason, by: principal) { terminal, _, repos in
            try await closeBinding(&terminal, reason: reason ?? "returned to stock", by: principal, repos: repos)
        }[0]
    }

    // MARK: - Repair and scrap

    /// Sends a terminal in stock out for repair. Requires a reason.
    public func sendToRepair(_ id: TerminalID, reason: String, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateManage)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await transitionAll([id], .sendToRepair, reason: why, by: principal) { _, _, _ in [:] }[0]
    }

    /// Takes a repaired terminal back into stock.
    public func returnFromRepair(_ id: TerminalID, note: String?, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateManage)
        return try await transitionAll([id], .returnFromRepair, reason: note, by: principal) { _, _, _ in [:] }[0]
    }

    /// Scraps a terminal for good (报废). Requires a reason.
    public func scrap(_ id: TerminalID, reason: String, by principal: Principal) async throws -> Terminal {
        try principal.require(.estateManage)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await transitionAll([id], .scrap, reason: why, by: principal) { _, _, _ in [:] }[0]
    }

    // MARK: - Reading

    /// The dossier of a terminal the caller can see: owner, merchant, binding, full history.
    public func dossier(_ id: TerminalID, by principal: Principal) async throws -> Dossier {
        try principal.require(.estateRead)
        return try await store.read { repos in
            let (terminal, owner, merchant) = try await Self.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            guard let model = try await repos.models.find(terminal.modelId) else {
                throw DomainError.notFound(resource: "terminal_model", id: terminal.modelId.rawValue)
            }
            return Dossier(terminal: terminal, model: model, owner: owner, merchant: merchant,
                           binding: try await repos.bindings.active(for: id),
                           history: try await repos.terminals.history(id, limit: 500),
                           usage: try await repos.usage.list(id, limit: 200))
        }
    }

    /// The path of an organisation the caller can see, to narrow a search to its subtree (a region,
    /// an agent, a merchant); an invisible one is a field error.
    public func subtreePath(of id: OrgID, by principal: Principal) async throws -> String {
        guard let org = try await store.read({ try await $0.orgs.find(id) }), principal.sees(path: org.path) else {
            throw DomainError.invalid("orgId", "no such organisation in your part of the tree")
        }
        return org.path
    }

    /// Terminals the caller can see, filtered, newest first.
    public func search(_ filter: TerminalFilter, page: PageRequest, by principal: Principal) async throws -> Page<Terminal> {
        try principal.require(.estateRead)
        var filter = filter
        if let narrower = filter.orgPath, !narrower.hasPrefix(principal.orgPath) { filter.orgPath = nil }
        let scoped = filter
        return try await store.read { try await $0.terminals.search(visibleUnder: principal.orgPath, filter: scoped, page: page) }
    }

    // MARK: - The one transition path

    /// Applies one lifecycle action to each terminal in a single transaction: checks visibility
    /// and the state machine, lets `change` adjust the dossier, then stores it with a history
    /// line and an audit event. Any failure rolls back every terminal (bulk is all-or-nothing).
    func transitionAll(_ ids: [TerminalID], _ action: LifecycleAction, reason: String?, by principal: Principal,
                       ownerMustBeVisible: Bool = true,
                       _ change: @escaping @Sendable (inout Terminal, Organization, any Repositories) async throws -> [String: String]) async throws -> [Terminal] {
        let now = clock.now()
        let changed = try await store.write { repos in
            try await transitionAll(ids, action, reason: reason, by: principal, at: now, ownerMustBeVisible: ownerMustBeVisible,
                                    in: repos, change)
        }
        for terminal in changed { terminalContexts?.invalidate(terminal.id) }
        return changed
    }

    /// The same one path inside a transaction the caller already holds (a service-desk swap-out moves
    /// two terminals through several actions in one transaction). The caller drops the terminals from
    /// `terminalContexts` after its transaction commits.
    func transitionAll(_ ids: [TerminalID], _ action: LifecycleAction, reason: String?, by principal: Principal, at now: Date,
                       ownerMustBeVisible: Bool = true, in repos: any Repositories,
                       _ change: @escaping @Sendable (inout Terminal, Organization, any Repositories) async throws -> [String: String]) async throws -> [Terminal] {
        let why = reason.flatMap { Self.optionalText($0) }
        var results: [Terminal] = []
        for id in ids {
            var (terminal, owner, _) = try await Self.visible(id, repos: repos, principal: principal, ownerMustBeVisible: ownerMustBeVisible)
            let from = terminal.state
            let to: TerminalState
            do {
                to = try TerminalLifecycle.next(from: from, by: action)
            } catch DomainError.conflict(let message) {
                throw DomainError.conflict("\(terminal.sn): \(message)")
            }
            var details = try await change(&terminal, owner, repos)
            terminal.state = to
            terminal.updatedAt = now
            terminal.version += 1
            // The owner may have changed (receipt); paths are stored with the row for scoping.
            let newOwner = terminal.orgId == owner.id ? owner : try await repos.orgs.find(terminal.orgId) ?? owner
            let merchantPath = try await terminal.merchantId.asyncMap { try await repos.orgs.find($0)?.path } ?? nil
            try await repos.terminals.update(terminal, ownerPath: newOwner.path, merchantPath: merchantPath)
            try await repos.terminals.record(TerminalEvent(
                id: UUIDv7.make(now: now), terminalId: terminal.id, version: terminal.version, orgId: newOwner.id, at: now,
                action: action.rawValue,
                fromState: from, toState: to, actorName: principal.user.username, reason: why, details: details))
            details["sn"] = terminal.sn
            details["state"] = "\(from.rawValue) → \(to.rawValue)"
            if let why { details["reason"] = why }
            _ = try await repos.audit.append(
                AuditDraft(orgId: newOwner.id, actor: principal.actor, action: "terminal.\(action.rawValue)", resourceType: "terminal",
                           resourceId: terminal.id.rawValue, origin: principal.origin, summary: details),
                orgPath: merchantPath ?? newOwner.path, at: now)
            results.append(terminal)
        }
        return results
    }

    /// Closes the open binding and clears the merchant fields of the dossier.
    func closeBinding(_ terminal: inout Terminal, reason: String, by principal: Principal, repos: any Repositories) async throws -> [String: String] {
        var details: [String: String] = [:]
        if let binding = try await repos.bindings.active(for: terminal.id) {
            try await repos.bindings.close(binding.id, at: clock.now(), by: principal.user.username, reason: reason)
            details = ["mid": binding.mid, "unbound": "true"]
        }
        terminal.merchantId = nil
        terminal.storeId = nil
        terminal.placement = nil
        terminal.installer = nil
        terminal.installedAt = nil
        return details
    }

    /// A terminal the caller may act on: its owner in the caller's subtree, or (for field work,
    /// receipt and reading) its merchant or transfer destination.
    static func visible(_ id: TerminalID, repos: any Repositories, principal: Principal,
                        ownerMustBeVisible: Bool) async throws -> (Terminal, Organization, Organization?) {
        guard let terminal = try await repos.terminals.find(id), let owner = try await repos.orgs.find(terminal.orgId) else {
            throw DomainError.notFound(resource: "terminal", id: id.rawValue)
        }
        let merchant = try await terminal.merchantId.asyncMap { try await repos.orgs.find($0) } ?? nil
        var seen = principal.sees(path: owner.path)
        if !seen, !ownerMustBeVisible {
            // Field work and reading are open to the bound merchant's side; receipt to the destination.
            let destination = try await terminal.transitToOrgId.asyncMap { try await repos.orgs.find($0) } ?? nil
            seen = [merchant, destination].contains { $0.map { principal.sees(path: $0.path) } == true }
        }
        guard seen else { throw DomainError.notFound(resource: "terminal", id: id.rawValue) }
        return (terminal, owner, merchant)
    }

    static func optionalText(_ raw: String?) -> String? {
        guard let value = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): return try await transform(value)
        case .none: return nil
        }
    }
}
