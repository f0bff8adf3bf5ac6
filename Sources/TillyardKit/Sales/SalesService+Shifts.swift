import Foundation

/// Shifts, cash movements, X and Z reports, register settings and stock.
extension SalesService {
    // MARK: - Shifts

    /// Opens a shift at a register with the cash float counted into the drawer.
    public func openShift(storeId: OrgID?, registerId raw: String, openingFloat: Int64, by principal: Principal) async throws -> Shift {
        try principal.require(.salesSell)
        let registerId = try SaleRules.registerId(raw)
        let float = try SaleRules.amount(openingFloat, field: "openingFloat")
        let now = clock.now()
        return try await store.write { repos in
            let (storeOrg, merchant) = try await Self.store(storeId, repos: repos, principal: principal)
            var head = try await repos.sales.lockJournal(store: storeOrg.id)
            if let open = try await repos.shifts.open(register: registerId) {
                throw DomainError.conflict("register \(registerId) already has shift \(open.number) open since \(open.openedAt.iso8601)")
            }
            if let device = try await repos.sales.register(registerId), device.storeId != storeOrg.id {
                throw DomainError.conflict("register \(registerId) belongs to another store")
            }
            head.shiftNumber += 1
            let shift = Shift(id: .generate(now: now), merchantId: merchant.id, storeId: storeOrg.id, registerId: registerId, number: head.shiftNumber,
                              status: .open, openedById: principal.user.id, openedBy: principal.user.username, openedAt: now, openingFloat: float)
            try await repos.shifts.insert(shift, orgPath: storeOrg.path)
            try await repos.sales.saveJournal(store: storeOrg.id, head: head)
            try await Self.auditShift("shift.open", shift, org: storeOrg, principal: principal, repos: repos, at: now,
                                 summary: ["register": registerId, "number": String(shift.number), "float": Money(minorUnits: float).description])
            return shift
        }
    }

    /// Records cash paid into or out of the drawer during an open shift, with its reason.
    public func cashMovement(shiftId: ShiftID, direction: CashMovement.Direction, amount: Int64, reason: String,
                             by principal: Principal) async throws -> CashMovement {
        try principal.require(.salesSell)
        guard amount > 0 else { throw DomainError.invalid("amount", "must be more than 0") }
        _ = try SaleRules.amount(amount, field: "amount")
        let why = try AccessRules.text(reason, field: "reason", max: 100)
        let now = clock.now()
        return try await store.write { repos in
            let (shift, org) = try await Self.visibleShift(shiftId, repos: repos, principal: principal)
            return try await Self.moveCash(shift, store: org, direction: direction, amount: amount, reason: why, principal: principal, repos: repos, at: now)
        }
    }

    /// Cash into or out of an open shift's drawer inside the caller's transaction: the movement,
    /// the running totals and the audit event. Also used by member top-ups paid in cash at a till,
    /// so the drawer expects the money it holds.
    static func moveCash(_ shift: Shift, store org: Organization, direction: CashMovement.Direction, amount: Int64, reason: String,
                         principal: Principal, repos: any Repositories, at now: Date) async throws -> CashMovement {
        guard shift.status == .open else { throw DomainError.conflict("shift \(shift.number) is closed") }
        let movement = CashMovement(id: UUIDv7.make(now: now), shiftId: shift.id, direction: direction, amount: amount, reason: reason,
                                    by: principal.user.username, at: now)
        try await repos.shifts.insertMovement(movement)
        var delta = ShiftDelta()
        if direction == .in { delta.cashIn = amount } else { delta.cashOut = amount }
        try await repos.shifts.apply(delta, to: shift.id)
        try await auditShift("shift.cash_\(direction.rawValue)", shift, org: org, principal: principal, repos: repos, at: now,
                             summary: ["amount": Money(minorUnits: amount).description, "reason": reason])
        return movement
    }

    /// One shift the caller may see, with its running totals.
    public func shift(_ id: ShiftID, by principal: Principal) async throws -> Shift {
        try principal.require(.salesRead)
        return try await store.read { try await Self.visibleShift(id, repos: $0, principal: principal).0 }
    }

    /// The cash movements of a shift.
    public func movements(of id: ShiftID, by principal: Principal) async throws -> [CashMovement] {
        try principal.require(.salesRead)
        return try await store.read { repos in
            _ = try await Self.visibleShift(id, repos: repos, principal: principal)
            return try await repos.shifts.movements(of: id)
        }
    }

    /// Shifts in the caller's subtree (or one store), newest first.
    public func shifts(storeId: OrgID?, page: PageRequest, by principal: Principal) async throws -> Page<Shift> {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let path = try await Self.scope(storeId, repos: repos, principal: principal)
            return try await repos.shifts.list(under: path, store: storeId, page: page)
        }
    }

    /// The X report: where the shift stands now, expected amounts per tender. Changes nothing.
    public func xReport(_ id: ShiftID, by principal: Principal) async throws -> ShiftSummary {
        try principal.require(.salesRead)
        let now = clock.now()
        return try await store.read { repos in
            let (shift, _) = try await Self.visibleShift(id, repos: repos, principal: principal)
            return ShiftSummary(id: nil, kind: .x, zNumber: nil, shift: shift, counted: [:], printedAt: now, closedBy: nil)
        }
    }

    /// Closes a shift with the amounts counted per tender and stores its Z report (numbered per store,
    /// never changed). Reads the running totals only, so it takes the same time after years of sales.
    /// Refused while the register has sequence numbers that never arrived, unless `force`.
    public func closeShift(_ id: ShiftID, counted: [TenderKind: Int64], force: Bool, by principal: Principal) async throws -> ShiftSummary {
        try principal.require(.salesSell)
        for (kind, amount) in counted { _ = try SaleRules.amount(amount, field: "counted.\(kind.rawValue)") }
        let now = clock.now()
        return try await store.write { repos in
            let (shift, org) = try await Self.visibleShift(id, repos: repos, principal: principal)
            var head = try await repos.sales.lockJournal(store: shift.storeId)
            guard let current = try await repos.shifts.find(id), current.status == .open else {
                throw DomainError.conflict("shift \(shift.number) is already closed")
            }
            if !force, let device = try await repos.sales.register(current.registerId), device.received < device.lastSeq {
                let gaps = try await repos.sales.gaps(register: current.registerId, limit: 5)
                let text = gaps.map { $0.from == $0.to ? "\($0.from)" : "\($0.from)–\($0.to)" }.joined(separator: ", ")
                throw DomainError.conflict("register \(current.registerId) has not sent sequence \(text) yet; upload them first, or close with force")
            }
            head.zNumber += 1
            try await repos.shifts.close(id, by: principal.user.username, at: now, zNumber: head.zNumber)
            var closed = current
            closed.status = .closed
            closed.closedAt = now
            closed.closedBy = principal.user.username
            closed.zNumber = head.zNumber
            closed.version += 1
            let report = ShiftSummary(id: .generate(now: now), kind: .z, zNumber: head.zNumber, shift: closed, counted: counted, printedAt: now,
                                      closedBy: principal.user.username)
            try await repos.shifts.insertReport(report, storeId: closed.storeId, orgPath: org.path)
            try await repos.sales.saveJournal(store: closed.storeId, head: head)
            let cash = report.tenders.first { $0.kind == .cash }
            try await Self.auditShift("shift.close", closed, org: org, principal: principal, repos: repos, at: now,
                                 summary: ["z": String(head.zNumber), "sales": String(closed.saleCount),
                                           "cashExpected": Money(minorUnits: cash?.expected ?? 0).description,
                                           "cashCounted": cash?.counted.map { Money(minorUnits: $0).description } ?? "-",
                                           "forced": force ? "yes" : "no"])
            return report
        }
    }

    /// A stored Z report (reprints are the same report, marked as a copy by the renderer).
    public func zReport(_ id: ZReportID, by principal: Principal) async throws -> ShiftSummary {
        try principal.require(.salesRead)
        return try await store.read { repos in
            guard let (report, path) = try await repos.shifts.report(id), principal.sees(path: path) else {
                throw DomainError.notFound(resource: "z-report", id: id.rawValue)
            }
            return report
        }
    }

    /// Z reports in the caller's subtree (or one store), newest first.
    public func zReports(storeId: OrgID?, page: PageRequest, by principal: Principal) async throws -> Page<ShiftSummary> {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let path = try await Self.scope(storeId, repos: repos, principal: principal)
            return try await repos.shifts.reports(under: path, store: storeId, page: page)
        }
    }

    // MARK: - Settings

    /// A store's register settings (defaults until a manager saves some).
    public func settings(storeId: OrgID?, by principal: Principal) async throws -> RegisterSettings {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let (storeOrg, _) = try await Self.store(storeId, repos: repos, principal: principal)
            return try await repos.registerSettings.find(store: storeOrg.id) ?? RegisterSettings(storeId: storeOrg.id)
        }
    }

    /// Saves a store's register settings (optimistic: `expectedVersion` is the version read, 0 for defaults).
    public func updateSettings(_ input: RegisterSettings, expectedVersion: Int, by principal: Principal) async throws -> RegisterSettings {
        try principal.require(.salesApprove)
        try input.validate()
        let now = clock.now()
        // Sales read settings through a short-lived cache: forget it once this commits.
        defer { access.saleContext.removeAll() }
        return try await store.write { repos in
            let (storeOrg, _) = try await Self.store(input.storeId, repos: repos, principal: principal)
            let stored = try await repos.registerSettings.find(store: storeOrg.id)
            guard (stored?.version ?? 0) == expectedVersion else {
                throw DomainError.conflict("the settings were changed by someone else (version \(stored?.version ?? 0)); reload them")
            }
            var settings = input
            settings.version = expectedVersion + 1
            try await repos.registerSettings.save(settings)
            _ = try await repos.audit.append(
                AuditDraft(orgId: storeOrg.id, actor: principal.actor, action: "register_settings.update", resourceType: "store",
                           resourceId: storeOrg.id.rawValue, origin: principal.origin,
                           summary: ["rounding": "\(settings.cashRounding.step)/\(settings.cashRounding.mode.rawValue)",
                                     "cashierDiscountLimit": String(settings.cashierDiscountLimit), "timeZone": settings.timeZone]),
                orgPath: storeOrg.path, at: now)
            return settings
        }
    }

    // MARK: - Stock

    /// Stock levels of a store, by product.
    public func stock(storeId: OrgID, page: PageRequest, by principal: Principal) async throws -> Page<StockLevel> {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let (storeOrg, _) = try await Self.store(storeId, repos: repos, principal: principal)
            return try await repos.stock.list(store: storeOrg.id, page: page)
        }
    }

    /// Changes a store's stock of a product: by a delta (goods received, breakage) or to a counted
    /// quantity (stocktake), with the reason in the audit trail.
    public func adjustStock(storeId: OrgID, productId: ProductID, delta: Int64?, counted: Int64?, reason: String,
                            by principal: Principal) async throws -> StockLevel {
        try principal.require(.stockManage)
        guard (delta == nil) != (counted == nil) else { throw DomainError.invalid("delta", "give either delta or counted") }
        if let counted, counted < 0 { throw DomainError.invalid("counted", "must be 0 or more") }
        if let delta, delta == 0 || abs(delta) > 1_000_000_000 { throw DomainError.invalid("delta", "must be a non-zero quantity in milli-units") }
        let why = try AccessRules.text(reason, field: "reason", max: 100)
        let now = clock.now()
        return try await store.write { repos in
            let (storeOrg, merchant) = try await Self.store(storeId, repos: repos, principal: principal)
            guard let product = try await repos.products.find(productId), product.merchantId == merchant.id else {
                throw DomainError.notFound(resource: "product", id: productId.rawValue)
            }
            let before = try await repos.stock.levels(store: storeOrg.id, products: [productId])[productId] ?? 0
            let change = delta ?? ((counted ?? 0) - before)
            if change != 0 { try await repos.stock.adjust(store: storeOrg.id, product: productId, by: change, at: now) }
            _ = try await repos.audit.append(
                AuditDraft(orgId: storeOrg.id, actor: principal.actor, action: "stock.adjust", resourceType: "product",
                           resourceId: productId.rawValue, origin: principal.origin,
                           summary: ["sku": product.sku, "store": storeOrg.code, "quantity": "\(before) → \(before + change)", "reason": why]),
                orgPath: storeOrg.path, at: now)
            return StockLevel(storeId: storeOrg.id, productId: productId, quantity: before + change, updatedAt: now)
        }
    }

    // MARK: - Helpers

    /// The path a list is limited to: one store the caller sees, or the caller's subtree.
    static func scope(_ storeId: OrgID?, repos: any Repositories, principal: Principal) async throws -> String {
        guard let storeId else { return principal.orgPath }
        guard let org = try await repos.orgs.find(storeId), org.kind == .store, principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "store", id: storeId.rawValue)
        }
        return org.path
    }

    /// A shift and its store, if the caller sees the store.
    static func visibleShift(_ id: ShiftID, repos: any Repositories, principal: Principal) async throws -> (Shift, Organization) {
        guard let shift = try await repos.shifts.find(id), let org = try await repos.orgs.find(shift.storeId), principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "shift", id: id.rawValue)
        }
        return (shift, org)
    }

    private static func auditShift(_ action: String, _ shift: Shift, org: Organization, principal: Principal, repos: any Repositories, at now: Date,
                            summary: [String: String]) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: org.id, actor: principal.actor, action: action, resourceType: "shift", resourceId: shift.id.rawValue,
                       origin: principal.origin, summary: summary),
            orgPath: org.path, at: now)
    }
}
