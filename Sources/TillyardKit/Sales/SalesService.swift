import Crypto
import Foundation

/// The cloud register: open orders, sales uploaded exactly once, refunds and voids with a manager's
/// approval, wallet payments through a `PaymentProvider`, stock per store and the store's gap-free,
/// hash-chained journal of receipts.
///
/// Completing a sale is one transaction: the sale with its receipt number and journal link, the
/// register's sequence, the shift's running totals and the stock of every line. A repeated upload of
/// the same sale id answers the stored sale and changes nothing.
public struct SalesService: Sendable {
    public let store: any Persistence
    public let access: AccessService
    public let payments: any PaymentProvider
    public let clock: Clock
    /// A sale made longer ago than this was made offline: it is kept even when it breaks a rule
    /// (the customer has paid and gone), and flagged instead.
    public let offlineAfter: TimeInterval
    /// Keys the tokens of customer receipt links.
    let receiptKey: SymmetricKey

    /// `secret` keys the customer links printed on receipts (the installation key; random by default,
    /// which suits tests and tools whose links need not outlive them).
    public init(store: any Persistence, access: AccessService, payments: any PaymentProvider = SimulatedPaymentProvider(), clock: Clock = .system,
                offlineAfter: TimeInterval = 120, secret: Data = Data((0..<32).map { _ in UInt8.random(in: 0...255) })) {
        self.store = store
        self.access = access
        self.payments = payments
        self.clock = clock
        self.offlineAfter = offlineAfter
        self.receiptKey = SymmetricKey(data: secret)
    }

    // MARK: - Sales

    /// Stores a completed sale, exactly once: the same id again answers the stored sale unchanged
    /// (a different sale under a used id or register sequence is a conflict).
    ///
    /// Everything the sale is priced and checked with (store, merchant, settings, products, promotions,
    /// the shift, wallet charges) is read before the write transaction, on a reader: the single SQLite
    /// writer only runs what must be consistent with the write (journal head and receipt number, the
    /// id and sequence checks, shift and stock totals). What is read early may be a moment old, which is
    /// acceptable: a product deactivated or repriced meanwhile is sold at the price read (the customer
    /// saw that price), and settings changed meanwhile apply from the next sale. The shift is the one
    /// thing re-checked inside: its totals only grow while it is open.
    public func complete(_ input: SaleInput, by principal: Principal) async throws -> Sale {
        try principal.require(.salesSell)
        let registerId = try SaleRules.registerId(input.registerId)
        guard input.registerSeq >= 1 else { throw DomainError.invalid("registerSeq", "must be 1 or more") }
        let now = clock.now()
        let soldAt = min(input.soldAt ?? now, now)
        let offline = now.timeIntervalSince(soldAt) > offlineAfter
        let wallet = input.tenders.contains { $0.kind.isQR }
        let cache = access.saleContext
        let read = try await store.read { repos -> SaleReading in
            if let stored = try await Self.stored(input.id, repos: repos, principal: principal), stored.status != .open {
                return .replay(stored)
            }
            // Store, merchant, settings, products and promotions come through the short-lived cache.
            let (storeOrg, merchant) = try await Self.store(input.storeId, repos: repos, principal: principal, cache: cache)
            let settings = try await cache.settings(store: storeOrg.id, repos: repos) ?? RegisterSettings(storeId: storeOrg.id)
            let catalog = try await CatalogSnapshot.load(input.lines, merchant: merchant, at: soldAt, now: now, repos: repos, cache: cache)
            let (shift, late) = try await Self.shift(input.shiftId, registerId: registerId, storeId: storeOrg.id, offline: offline, repos: repos)
            let charges = wallet ? try await repos.payments.payments(of: input.id) : []
            let member = try await MemberPosting.load(input.memberId, merchant: merchant, storeId: storeOrg.id, repos: repos)
            return .sell(SaleContext(storeOrg: storeOrg, merchant: merchant, settings: settings, catalog: catalog, shift: shift, late: late,
                                     charges: charges, member: member))
        }
        guard case .sell(let context) = read else {
            guard case .replay(let stored) = read else { preconditionFailure("a reading is a replay or a sale") }
            return try Self.replay(stored, input: input, registerId: registerId)
        }
        let (storeOrg, merchant, settings) = (context.storeOrg, context.merchant, context.settings)
        let approval = try await approve(input.approval, principal: principal, storeId: input.storeId, at: now)
        var exceptions: [String] = []
        // A recognised member is priced by their tier (member prices, the tier's percent off).
        var catalog = context.catalog
        catalog.promotions += context.member?.promotions ?? []
        var lines = try priceLines(input.lines, merchant: merchant, storeId: storeOrg.id, settings: settings, soldAt: soldAt,
                                   isMember: context.member?.memberPrice ?? input.isMember, offline: offline, exceptions: &exceptions, catalog: catalog)
        let orderDiscount = try SaleRules.amount(input.orderDiscount, field: "orderDiscount")
        let afterLines = lines.reduce(0) { $0 + $1.net }
        guard orderDiscount <= afterLines else { throw DomainError.invalid("orderDiscount", "is more than the order costs") }
        for (index, share) in SaleRules.spread(orderDiscount, over: lines.map(\.net)).enumerated() { lines[index].orderDiscountShare = share }
        let manual = lines.reduce(0) { $0 + $1.manualDiscount } + orderDiscount
        let recordedApproval = try checkDiscountLimit(manual: manual, base: afterLines + lines.reduce(0) { $0 + $1.manualDiscount },
                                                      settings: settings, approval: approval, offline: offline, principal: principal,
                                                      exceptions: &exceptions)
        let due = afterLines - orderDiscount
        let settlement = try SaleRules.settle(due: due, tenders: input.tenders, rounding: settings.cashRounding)
        if let expected = input.expectedTotal, expected != settlement.total {
            if offline {
                exceptions.append("register showed \(Money(minorUnits: expected)), server computed \(Money(minorUnits: settlement.total))")
            } else {
                throw DomainError.invalid("expectedTotal", "the register shows \(Money(minorUnits: expected)) but the total is \(Money(minorUnits: settlement.total)); reload prices")
            }
        }
        try Self.checkWalletPayments(settlement.tenders, charges: context.charges)
        let memberPlan = try MemberPosting.plan(settlement.tenders, lines: lines, products: context.catalog.products, member: context.member)
        // The sale as far as it is known before the transaction; the journal, the shift and the
        // version are filled in under the journal lock.
        let draft = Sale(id: input.id, kind: .sale, status: .completed, merchantId: merchant.id, storeId: storeOrg.id, registerId: registerId,
                         registerSeq: input.registerSeq, shiftId: nil, receiptNumber: nil, cashierId: principal.user.id,
                         cashier: principal.user.username, soldAt: soldAt, recordedAt: now, lines: lines, orderDiscount: orderDiscount,
                         gross: lines.reduce(0) { $0 + $1.gross },
                         discount: lines.reduce(0) { $0 + $1.discount + $1.manualDiscount + $1.orderDiscountShare },
                         rounding: settlement.rounding, total: settlement.total, tenders: settlement.tenders, change: settlement.change,
                         memberId: try SaleRules.optionalText(input.memberId, field: "memberId", max: 64), originalSaleId: nil,
                         reason: recordedApproval?.reason, note: try SaleRules.optionalText(input.note, field: "note", max: 200),
                         approval: recordedApproval, exceptions: [], hash: nil, version: 1)
        let priced = exceptions
        // Encoded here, in parallel with other requests, not in the single writer: the journal link's
        // lines and tenders, and the rollup additions (none depends on what the transaction assigns).
        let content = SaleRules.JournalContent(draft)
        let rollup = SalesRollup.deltas(of: draft, storePath: storeOrg.path, products: context.catalog.products)
        return try await store.write { repos in
            var head = try await repos.sales.lockJournal(store: storeOrg.id)
            // Checked again under the journal lock: a concurrent upload of the same sale has committed by now.
            let (byId, bySequence) = try await repos.sales.find(input.id, orRegister: registerId, seq: input.registerSeq)
            var existing: Sale?
            if let byId { existing = try await Self.visible(byId, repos: repos, principal: principal) }
            if let existing, existing.status != .open {
                return try Self.replay(existing, input: input, registerId: registerId)
            }
            if let existing, existing.storeId != storeOrg.id || existing.registerId != registerId {
                throw DomainError.conflict("order \(input.id) is open at another register")
            }
            if let other = bySequence {
                throw DomainError.conflict("sequence \(input.registerSeq) of register \(registerId) is already sale \(other.id)")
            }
            var exceptions = priced
            let (shift, late) = try await Self.countInShift(draft, in: context.shift, late: context.late, shiftId: input.shiftId, offline: offline, repos: repos)
            if late { exceptions.append("arrived after shift \(shift?.number ?? 0) closed") }
            if shift == nil { exceptions.append("no open shift at register \(registerId)") }
            head.receiptNumber += 1
            var sale = draft
            sale.shiftId = shift?.id
            sale.receiptNumber = head.receiptNumber
            sale.exceptions = exceptions
            sale.version = (existing?.version ?? 0) + 1
            sale.hash = SaleRules.hash(sale, previous: head.hash, content: content)
            head.hash = sale.hash ?? ""
            if existing != nil {
                try await repos.sales.update(sale)
            } else {
                try await repos.sales.insert(sale, orgPath: storeOrg.path, content: content)
            }
            try await record(sale, head: head, restock: true, repos: repos, at: now)
            if !rollup.isEmpty { try await repos.reports.addSales(rollup) }
            if let memberPlan {
                try await MemberPosting.post(sale, plan: memberPlan, orgPath: merchant.path, actor: principal.user.username, repos: repos)
            }
            if recordedApproval != nil || !exceptions.isEmpty {
                try await audit(recordedApproval != nil ? "sale.approved_discount" : "sale.exception", sale: sale, org: storeOrg, principal: principal,
                                repos: repos, at: now, summary: ["receipt": String(head.receiptNumber), "total": Money(minorUnits: sale.total).description,
                                                                 "exceptions": exceptions.joined(separator: "; ")])
            }
            return sale
        }
    }

    /// Counts a sale in its shift inside the write transaction and answers the shift it counted in.
    ///
    /// The shift read before the transaction is used when it is still open (one conditional
    /// UPDATE); if it closed meanwhile, or none was open then, the shift is chosen again here, under
    /// the journal lock, which opening and closing a shift take too.
    static func countInShift(_ sale: Sale, in read: Shift?, late readLate: Bool, shiftId: ShiftID?, offline: Bool,
                      repos: any Repositories) async throws -> (Shift?, Bool) {
        let delta = ShiftDelta.of(sale)
        if let read, !readLate, try await repos.shifts.applyIfOpen(delta, to: read.id) { return (read, false) }
        // A closed shift never reopens: a sale late for it stays late.
        let (shift, late) = readLate ? (read, true)
            : try await Self.shift(shiftId, registerId: sale.registerId, storeId: sale.storeId, offline: offline, repos: repos)
        if let shift {
            if late { try await repos.shifts.countLate(shift.id) } else { try await repos.shifts.apply(delta, to: shift.id) }
        }
        return (shift, late)
    }

    /// Holds an order open at a register (parked cart, or waiting for a wallet payment); calling it
    /// again with the same id replaces the lines while the order is open.
    public func hold(_ input: OrderInput, by principal: Principal) async throws -> Sale {
        try principal.require(.salesSell)
        let registerId = try SaleRules.registerId(input.registerId)
        let now = clock.now()
        return try await store.write { repos in
            let (storeOrg, merchant) = try await Self.store(input.storeId, repos: repos, principal: principal)
            let existing = try await repos.sales.find(input.id)
            if let existing {
                guard existing.status == .open, existing.storeId == storeOrg.id else {
                    throw DomainError.conflict("order \(input.id) is already \(existing.status.rawValue)")
                }
            }
            let settings = try await repos.registerSettings.find(store: storeOrg.id) ?? RegisterSettings(storeId: storeOrg.id)
            var exceptions: [String] = []
            let catalog = try await CatalogSnapshot.load(input.lines, merchant: merchant, at: now, repos: repos)
            let lines = try priceLines(input.lines, merchant: merchant, storeId: storeOrg.id, settings: settings, soldAt: now,
                                       isMember: input.isMember, offline: false, exceptions: &exceptions, catalog: catalog)
            let gross = lines.reduce(0) { $0 + $1.gross }
            let net = lines.reduce(0) { $0 + $1.net }
            let order = Sale(id: input.id, kind: .sale, status: .open, merchantId: merchant.id, storeId: storeOrg.id, registerId: registerId,
                             registerSeq: nil, shiftId: nil, receiptNumber: nil, cashierId: principal.user.id, cashier: principal.user.username,
                             soldAt: now, recordedAt: now, lines: lines, orderDiscount: 0, gross: gross, discount: gross - net, rounding: 0,
                             total: net, tenders: [], change: 0, memberId: try SaleRules.optionalText(input.memberId, field: "memberId", max: 64),
                             originalSaleId: nil, reason: nil, note: try SaleRules.optionalText(input.note, field: "note", max: 200),
                             approval: nil, exceptions: [], hash: nil, version: (existing?.version ?? 0) + 1)
            if existing != nil { try await repos.sales.update(order) } else { try await repos.sales.insert(order, orgPath: storeOrg.path) }
            return order
        }
    }

    /// Voids an open order. With goods on it, a cashier needs a manager's approval; wallet payments
    /// already taken for it are refunded through the provider.
    public func void(_ id: SaleID, reason: SaleReason, approval input: ApprovalInput?, by principal: Principal) async throws -> Sale {
        try principal.require(.salesSell)
        let now = clock.now()
        let order = try await store.read { repos in try await Self.visibleSale(id, repos: repos, principal: principal).0 }
        guard order.status == .open else { throw DomainError.conflict("only open orders can be voided; this one is \(order.status.rawValue) (refund it instead)") }
        var given: Approval?
        if !order.lines.isEmpty, !principal.can(.salesApprove) {
            guard let input else { throw DomainError.forbidden("voiding an order with goods needs a manager's approval") }
            given = try await approve(input, principal: principal, storeId: order.storeId, at: now)
        }
        let approval = given
        let taken = try await store.read { try await $0.payments.payments(of: id) }
        try await refundWallets(taken, saleId: id, storeId: order.storeId, now: now)
        return try await store.write { repos in
            let (stored, storeOrg) = try await Self.visibleSale(id, repos: repos, principal: principal)
            guard stored.status == .open else { throw DomainError.conflict("order \(id) is already \(stored.status.rawValue)") }
            var voided = stored
            voided.status = .voided
            voided.reason = reason
            voided.approval = approval
            voided.recordedAt = now
            voided.version = stored.version + 1
            try await repos.sales.update(voided)
            try await audit("order.void", sale: voided, org: storeOrg, principal: principal, repos: repos, at: now,
                            summary: ["reason": reason.rawValue, "lines": String(stored.lines.count),
                                      "total": Money(minorUnits: stored.total).description, "approvedBy": approval?.approver ?? principal.user.username])
            return voided
        }
    }

    /// Refunds part or all of a completed sale: never more of a line than was sold, never more on a
    /// tender than it paid (less what earlier refunds gave back). Needs a manager (or their approval).
    public func refund(_ saleId: SaleID, _ input: RefundInput, by principal: Principal) async throws -> Sale {
        try principal.require(.salesSell)
        let registerId = try SaleRules.registerId(input.registerId)
        guard input.registerSeq >= 1 else { throw DomainError.invalid("registerSeq", "must be 1 or more") }
        if let stored = try await store.read({ try await Self.stored(input.id, repos: $0, principal: principal) }) {
            guard stored.kind == .refund, stored.originalSaleId == saleId, stored.registerId == registerId,
                  stored.registerSeq == input.registerSeq else {
                throw DomainError.conflict("id \(input.id) is already used by another document")
            }
            return stored
        }
        let now = clock.now()
        let (original, _) = try await store.read { repos in try await Self.visibleSale(saleId, repos: repos, principal: principal) }
        guard original.kind == .sale, original.status == .completed else { throw DomainError.conflict("only completed sales can be refunded") }
        var given: Approval?
        if !principal.can(.salesApprove) {
            guard let typed = input.approval else { throw DomainError.forbidden("a refund needs a manager's approval") }
            given = try await approve(typed, principal: principal, storeId: original.storeId, at: now)
        }
        let approval = given
        let earlier = try await store.read { try await $0.sales.refunds(of: saleId) }
        let plan = try SaleRules.refundPlan(original: original, earlier: earlier, lines: input.lines, tenders: input.tenders)
        // Wallet money goes back through the provider first, keyed by this refund's id: a retry after a
        // failure below asks the provider again and gets the same refund, never a second one.
        var tenders = plan.tenders
        for index in tenders.indices where tenders[index].kind.isQR {
            guard let charge = original.tenders.first(where: { $0.kind == tenders[index].kind })?.providerTransactionId else { continue }
            let answer = try await payments.refund(QRRefund(method: tenders[index].kind, providerTransactionId: charge, amount: tenders[index].amount,
                                                            reference: "\(input.id.rawValue)-\(index)"))
            guard answer.approved else { throw DomainError.conflict("the \(tenders[index].kind.rawValue) refund was refused: \(answer.message)") }
            tenders[index].providerTransactionId = answer.transactionId
        }
        let finalTenders = tenders
        // Costs and categories of the refunded goods, for the report rollup (read before the write).
        let refundProducts = try await store.read { repos in
            Dictionary(try await repos.products.find(ids: plan.lines.map(\.productId)).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
        return try await store.write { repos in
            let (stored, storeOrg) = try await Self.visibleSale(saleId, repos: repos, principal: principal)
            var head = try await repos.sales.lockJournal(store: stored.storeId)
            if let done = try await repos.sales.find(input.id) { return done }
            // Refunds made meanwhile are re-checked under the journal lock.
            let current = try await repos.sales.refunds(of: saleId)
            if current.count != earlier.count {
                _ = try SaleRules.refundPlan(original: stored, earlier: current, lines: input.lines, tenders: input.tenders)
            }
            if let other = try await repos.sales.find(register: registerId, seq: input.registerSeq) {
                throw DomainError.conflict("sequence \(input.registerSeq) of register \(registerId) is already \(other.id)")
            }
            let (shift, late) = try await Self.shift(input.shiftId, registerId: registerId, storeId: stored.storeId, offline: false, repos: repos)
            guard let shift, !late else { throw DomainError.conflict("open a shift at register \(registerId) before refunding") }
            head.receiptNumber += 1
            var refund = Sale(id: input.id, kind: .refund, status: .completed, merchantId: stored.merchantId, storeId: stored.storeId,
                              registerId: registerId, registerSeq: input.registerSeq, shiftId: shift.id, receiptNumber: head.receiptNumber,
                              cashierId: principal.user.id, cashier: principal.user.username, soldAt: now, recordedAt: now, lines: plan.lines,
                              orderDiscount: 0, gross: plan.lines.reduce(0) { $0 + $1.gross }, discount: 0, rounding: plan.rounding,
                              total: plan.total, tenders: finalTenders, change: 0, memberId: stored.memberId, originalSaleId: saleId,
                              reason: input.reason, note: try SaleRules.optionalText(input.note, field: "note", max: 200), approval: approval,
                              exceptions: [], hash: nil, version: 1)
            refund.hash = SaleRules.hash(refund, previous: head.hash)
            head.hash = refund.hash ?? ""
            try await repos.sales.insert(refund, orgPath: storeOrg.path)
            try await repos.shifts.apply(.of(refund), to: shift.id)
            try await record(refund, head: head, restock: input.restock, repos: repos, at: now)
            try await SalesRollup.record(refund, storePath: storeOrg.path, products: refundProducts, repos: repos)
            if stored.memberId != nil, let merchant = try await repos.orgs.find(stored.merchantId) {
                try await MemberPosting.reverse(refund, original: stored, orgPath: merchant.path, actor: principal.user.username, repos: repos)
            }
            try await audit("sale.refund", sale: refund, org: storeOrg, principal: principal, repos: repos, at: now,
                            summary: ["original": String(stored.receiptNumber ?? 0), "receipt": String(head.receiptNumber),
                                      "total": Money(minorUnits: refund.total).description, "reason": input.reason.rawValue,
                                      "approvedBy": approval?.approver ?? principal.user.username])
            return refund
        }
    }

    /// One sale, refund or order the caller may see.
    public func sale(_ id: SaleID, by principal: Principal) async throws -> Sale {
        try principal.require(.salesRead)
        return try await store.read { try await Self.visibleSale(id, repos: $0, principal: principal).0 }
    }

    /// The refunds of a sale.
    public func refunds(of id: SaleID, by principal: Principal) async throws -> [Sale] {
        try principal.require(.salesRead)
        return try await store.read { repos in
            _ = try await Self.visibleSale(id, repos: repos, principal: principal)
            return try await repos.sales.refunds(of: id)
        }
    }

    /// Sales in the caller's subtree (one store's when the filter says so), newest first.
    public func sales(_ filter: SaleFilter, page: PageRequest, by principal: Principal) async throws -> Page<Sale> {
        try principal.require(.salesRead)
        return try await store.read { repos in
            var path = principal.orgPath
            if let storeId = filter.storeId {
                guard let org = try await repos.orgs.find(storeId), principal.sees(path: org.path) else {
                    throw DomainError.notFound(resource: "store", id: storeId.rawValue)
                }
                path = org.path
            }
            return try await repos.sales.list(under: path, filter: filter, page: page)
        }
    }

    /// What the server has of a register's numbering, which sequence numbers never arrived, and its open shift.
    public func registerSync(_ registerId: String, by principal: Principal) async throws -> RegisterSync {
        try principal.require(.salesSell)
        let id = try SaleRules.registerId(registerId)
        return try await store.read { repos in
            // A shift can be open before the register's first sale (no `registers` row yet).
            var openShift: Shift?
            if let open = try await repos.shifts.open(register: id), let org = try await repos.orgs.find(open.storeId), principal.sees(path: org.path) {
                openShift = open
            }
            guard let device = try await repos.sales.register(id), let org = try await repos.orgs.find(device.storeId),
                  principal.sees(path: org.path) else {
                return RegisterSync(registerId: id, lastSeq: 0, received: 0, missing: [], openShift: openShift)
            }
            let missing = device.received < device.lastSeq ? try await repos.sales.gaps(register: id, limit: 100) : []
            return RegisterSync(registerId: id, lastSeq: device.lastSeq, received: device.received, missing: missing, openShift: openShift)
        }
    }

    /// Walks a store's journal in receipt order and names the first entry whose link does not match.
    public func verifyJournal(store storeId: OrgID, by principal: Principal) async throws -> JournalVerification {
        try principal.require(.salesRead)
        return try await store.read { repos in
            guard let org = try await repos.orgs.find(storeId), org.kind == .store, principal.sees(path: org.path) else {
                throw DomainError.notFound(resource: "store", id: storeId.rawValue)
            }
            var previous = ""
            var after: Int64 = 0
            var checked = 0
            while true {
                let batch = try await repos.sales.journal(store: storeId, after: after, limit: 1000)
                for entry in batch {
                    if entry.receiptNumber != after + 1 {
                        return JournalVerification(checked: checked, firstBroken: after + 1, problem: "receipt \(after + 1) is missing")
                    }
                    if SaleRules.hash(entry, previous: previous) != entry.hash {
                        return JournalVerification(checked: checked, firstBroken: entry.receiptNumber, problem: "receipt \(entry.receiptNumber ?? 0) was changed")
                    }
                    previous = entry.hash ?? ""
                    after += 1
                    checked += 1
                }
                if batch.count < 1000 { break }
            }
            let head = try await repos.sales.journalHead(store: storeId)
            if head.receiptNumber != after || head.hash != previous {
                return JournalVerification(checked: checked, firstBroken: after + 1, problem: "the journal ends at \(after) but the store counted \(head.receiptNumber)")
            }
            return JournalVerification(checked: checked, firstBroken: nil, problem: nil)
        }
    }

    // MARK: - Wallet payments

    /// Charges a customer's wallet payment code for an order, once: the same order and code again
    /// answer the recorded payment without a second charge.
    public func chargeWallet(saleId: SaleID, storeId: OrgID?, method: TenderKind, amount: Int64, authCode: String,
                             by principal: Principal) async throws -> Payment {
        try principal.require(.salesSell)
        guard method.isQR else { throw DomainError.invalid("method", "must be wechat, alipay or unionpay_qr") }
        guard amount > 0, amount <= CatalogRules.maxPrice else { throw DomainError.invalid("amount", "must be more than 0") }
        let code = authCode.trimmingCharacters(in: .whitespaces)
        guard (10...32).contains(code.count), code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw DomainError.invalid("authCode", "scan the customer's payment code (digits)")
        }
        let reference = "\(saleId.rawValue)-\(code.suffix(6))"
        let storeOrg = try await store.read { repos in try await Self.store(storeId, repos: repos, principal: principal).0 }
        if let done = try await store.read({ try await $0.payments.find(reference: reference) }) {
            guard done.saleId == saleId, done.amount == amount, done.method == method else {
                throw DomainError.conflict("this payment code was already used for another amount")
            }
            return done
        }
        if let order = try await store.read({ try await $0.sales.find(saleId) }), order.status != .open {
            throw DomainError.conflict("order \(saleId) is already \(order.status.rawValue)")
        }
        let answer = try await payments.charge(QRCharge(method: method, amount: amount, authCode: code, reference: reference,
                                                        description: storeOrg.name))
        let now = clock.now()
        let payment = Payment(id: .generate(now: now), kind: .charge, saleId: saleId, storeId: storeOrg.id, method: method, amount: amount,
                              authCodeMasked: SaleRules.maskCode(code), reference: reference, provider: payments.name, approved: answer.approved,
                              providerTransactionId: answer.transactionId, message: answer.message, createdAt: now)
        try await store.write { repos in
            if try await repos.payments.find(reference: reference) == nil {
                try await repos.payments.insert(payment, orgPath: storeOrg.path)
            }
        }
        return payment
    }

    // MARK: - Helpers

    /// A repeated upload: the same sale answers itself; anything else under its id is a conflict.
    static func replay(_ stored: Sale, input: SaleInput, registerId: String) throws -> Sale {
        if stored.status == .voided { throw DomainError.conflict("order \(stored.id) was voided") }
        guard stored.kind == .sale, stored.registerId == registerId, stored.registerSeq == input.registerSeq,
              stored.lines.count <= input.lines.count, Set(stored.lines.map(\.productId)) == Set(input.lines.map(\.productId)) else {
            throw DomainError.conflict("sale \(stored.id) was already stored with different content")
        }
        return stored
    }

    /// A stored document under an id, if any. One the caller may not see means the id is taken.
    static func stored(_ id: SaleID, repos: any Repositories, principal: Principal) async throws -> Sale? {
        guard let sale = try await repos.sales.find(id) else { return nil }
        return try await visible(sale, repos: repos, principal: principal)
    }

    /// A stored document found under an id the caller uses: it, if the caller sees its store; else the id is taken.
    static func visible(_ sale: Sale, repos: any Repositories, principal: Principal) async throws -> Sale {
        guard let org = try await repos.orgs.find(sale.storeId), principal.sees(path: org.path) else {
            throw DomainError.conflict("id \(sale.id) is already used")
        }
        return sale
    }

    /// The store a register document belongs to, and its merchant: the given store if the caller sees
    /// it, else the caller's own store.
    /// `cache`, when given, answers the two organisations from recent readings (`SaleContextCache`).
    static func store(_ id: OrgID?, repos: any Repositories, principal: Principal,
                      cache: SaleContextCache? = nil) async throws -> (Organization, Organization) {
        func find(_ id: OrgID) async throws -> Organization? {
            if let cache { return try await cache.org(id, repos: repos) }
            return try await repos.orgs.find(id)
        }
        let storeOrg: Organization
        if let id {
            guard let org = try await find(id), org.kind == .store, principal.sees(path: org.path) else {
                throw DomainError.notFound(resource: "store", id: id.rawValue)
            }
            storeOrg = org
        } else {
            guard principal.orgKind == .store, let org = try await repos.orgs.find(principal.user.orgId) else {
                throw DomainError.invalid("storeId", "is required: say which store sells")
            }
            storeOrg = org
        }
        guard let parent = storeOrg.parentId, let merchant = try await find(parent) else {
            throw DomainError.conflict("store \(storeOrg.code) has no merchant")
        }
        return (storeOrg, merchant)
    }

    /// A sale and its store, if the caller sees the store.
    static func visibleSale(_ id: SaleID, repos: any Repositories, principal: Principal) async throws -> (Sale, Organization) {
        guard let sale = try await repos.sales.find(id), let org = try await repos.orgs.find(sale.storeId), principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "sale", id: id.rawValue)
        }
        return (sale, org)
    }

    /// The shift a document counts in: the one named (if it is this register's), else the register's
    /// open shift. A named shift that has closed makes the document late (kept, not in that Z report).
    static func shift(_ id: ShiftID?, registerId: String, storeId: OrgID, offline: Bool, repos: any Repositories) async throws -> (Shift?, Bool) {
        if let id {
            guard let shift = try await repos.shifts.find(id), shift.registerId == registerId, shift.storeId == storeId else {
                throw DomainError.invalid("shiftId", "is not a shift of register \(registerId)")
            }
            return (shift, shift.status == .closed)
        }
        if let open = try await repos.shifts.open(register: registerId) { return (open, false) }
        guard offline else { throw DomainError.conflict("open a shift at register \(registerId) first") }
        return (nil, false)
    }

    /// Prices the lines: by the register (its prices are kept, checked against the catalog) or, when
    /// it sent none, by the catalog and the running promotions.
    private func priceLines(_ inputs: [SaleLineInput], merchant: Organization, storeId: OrgID, settings: RegisterSettings, soldAt: Date,
                            isMember: Bool, offline: Bool, exceptions: inout [String], catalog: CatalogSnapshot) throws -> [SaleLine] {
        let registerPriced = inputs.contains { $0.unitPrice != nil }
        guard inputs.allSatisfy({ ($0.unitPrice != nil) == registerPriced }) else {
            throw DomainError.invalid("lines", "give a unitPrice on every line or on none")
        }
        let (products, priced) = try Self.enginePrice(inputs, storeId: storeId, settings: settings, at: soldAt, isMember: isMember, catalog: catalog)
        guard registerPriced else {
            // Server-priced: the engine merged lines of the same product; each priced line keeps its product.
            return try priced.lines.map { line in
                guard let product = products.values.first(where: { $0.sku == line.sku }) else {
                    throw DomainError.invalid("lines", "unknown SKU \(line.sku)")
                }
                let manual = try inputs.filter { $0.productId == product.id }.reduce(Int64(0)) {
                    $0 + (try SaleRules.amount($1.manualDiscount ?? 0, field: "manualDiscount"))
                }
                guard manual <= line.net else { throw DomainError.invalid("lines", "the manual discount on \(line.sku) is more than the line") }
                return SaleLine(productId: product.id, sku: product.sku, name: product.nameZh, quantity: line.quantity, weighed: product.unit == .weight,
                                unitPrice: line.unitPrice, gross: line.gross, discount: line.discount, promotionId: line.promotionId,
                                promotionName: line.promotionName, manualDiscount: manual, orderDiscountShare: 0, taxRate: product.taxRate,
                                catalogChanged: false)
            }
        }
        let allowed = Dictionary(priced.lines.map { ($0.sku, $0.discount) }, uniquingKeysWith: +)
        var claimed: [String: Int64] = [:]
        var lines: [SaleLine] = []
        for (index, input) in inputs.enumerated() {
            let product = products[input.productId]!
            let field = "lines.\(index)"
            let unitPrice = try CatalogRules.price(input.unitPrice ?? product.price, field: "\(field).unitPrice")
            var changed = false
            if unitPrice != product.price {
                if product.updatedAt > soldAt {
                    changed = true
                } else if offline {
                    exceptions.append("\(product.sku) charged at \(Money(minorUnits: unitPrice)), catalog price \(Money(minorUnits: product.price))")
                } else {
                    throw DomainError.invalid("\(field).unitPrice", "\(product.sku) costs \(Money(minorUnits: product.price)) in the catalog; give a manual discount instead")
                }
            }
            let gross = PricingEngine.amount(unitPrice, input.quantity)
            let discount = try SaleRules.amount(input.discount ?? 0, field: "\(field).discount")
            let manual = try SaleRules.amount(input.manualDiscount ?? 0, field: "\(field).manualDiscount")
            guard discount + manual <= gross else { throw DomainError.invalid(field, "discounts are more than the line") }
            claimed[product.sku, default: 0] += discount
            lines.append(SaleLine(productId: product.id, sku: product.sku, name: product.nameZh, quantity: input.quantity,
                                  weighed: product.unit == .weight, unitPrice: unitPrice, gross: gross, discount: discount,
                                  promotionId: input.promotionId, promotionName: try SaleRules.optionalText(input.promotionName, field: "\(field).promotionName", max: 60),
                                  manualDiscount: manual, orderDiscountShare: 0, taxRate: product.taxRate, catalogChanged: changed))
        }
        for (sku, discount) in claimed where discount > (allowed[sku] ?? 0) {
            let changedSince = lines.contains { $0.sku == sku && $0.catalogChanged }
            if offline || changedSince {
                exceptions.append("promotion discount on \(sku) is \(Money(minorUnits: discount)), running promotions give \(Money(minorUnits: allowed[sku] ?? 0))")
            } else {
                throw DomainError.invalid("lines", "the promotion discount on \(sku) is more than the running promotions give (\(Money(minorUnits: allowed[sku] ?? 0)))")
            }
        }
        return lines
    }

    /// The engine's pricing of the lines with the catalog read for them (quantities checked) at that
    /// instant in the store's time zone: what the server charges, and the most promotion discount a
    /// register may claim. Pure: the snapshot was read before (`CatalogSnapshot.load`).
    static func enginePrice(_ inputs: [SaleLineInput], storeId: OrgID, settings: RegisterSettings, at: Date, isMember: Bool,
                            catalog: CatalogSnapshot) throws -> (products: [ProductID: Product], priced: PricedCart) {
        let timeZone = TimeZone(identifier: settings.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let context = PricingContext.at(at, timeZone: timeZone, storeId: storeId, isMember: isMember)
        var cart: [CartLine] = []
        for (index, input) in inputs.enumerated() {
            guard let product = catalog.products[input.productId] else {
                throw DomainError.invalid("lines.\(index).productId", "is not a product of this merchant")
            }
            try SaleRules.quantity(input.quantity, unit: product.unit, field: "lines.\(index).quantity")
            cart.append(product.cartLine(quantity: input.quantity))
        }
        return (catalog.products, PricingEngine.price(cart, promotions: catalog.promotions, context: context))
    }

    /// Manual discounts beyond the cashier's limit need a manager: the caller is one, or approved
    /// at the till. An offline sale past the limit is kept and flagged (it has been paid).
    private func checkDiscountLimit(manual: Int64, base: Int64, settings: RegisterSettings, approval: Approval?, offline: Bool,
                                    principal: Principal, exceptions: inout [String]) throws -> Approval? {
        guard manual > 0 else { return nil }
        let limit = PricingEngine.roundedDivision(base * Int64(settings.cashierDiscountLimit), by: 10_000)
        guard manual > limit, !principal.can(.salesApprove) else { return nil }
        if let approval { return approval }
        let text = "manual discounts of \(Money(minorUnits: manual)) exceed the cashier limit of \(Money(minorUnits: limit))"
        guard offline else { throw DomainError.forbidden("\(text); a manager must approve (approval.username, approval.password, approval.reason)") }
        exceptions.append(text)
        return nil
    }

    /// Checks a manager's credentials given at the till (outside any transaction: bcrypt is slow).
    private func approve(_ input: ApprovalInput?, principal: Principal, storeId: OrgID?, at now: Date) async throws -> Approval? {
        guard let input else { return nil }
        let storePath = try await store.read { repos -> String in
            try await Self.store(storeId, repos: repos, principal: principal).0.path
        }
        let manager = try await access.verifyApprover(username: input.username, password: input.password, permission: .salesApprove,
                                                      path: storePath, origin: principal.origin)
        return Approval(approverId: manager.id, approver: manager.username, reason: input.reason, at: now)
    }

    /// Every wallet tender must be an approved charge of this order, for its amount.
    private static func checkWalletPayments(_ tenders: [Tender], charges payments: [Payment]) throws {
        let wallet = tenders.filter(\.kind.isQR)
        guard !wallet.isEmpty else { return }
        let charges = payments.filter { $0.kind == .charge && $0.approved }
        for tender in wallet {
            guard let charge = charges.first(where: { $0.providerTransactionId == tender.providerTransactionId }),
                  charge.method == tender.kind, charge.amount == tender.amount else {
                throw DomainError.invalid("tenders", "\(tender.kind.rawValue) \(tender.providerTransactionId ?? "") is not an approved charge of this order for \(Money(minorUnits: tender.amount))")
            }
        }
    }

    /// Refunds the approved wallet charges of a voided order.
    private func refundWallets(_ taken: [Payment], saleId: SaleID, storeId: OrgID, now: Date) async throws {
        for charge in taken where charge.kind == .charge && charge.approved {
            let reference = "void-\(charge.reference)"
            if try await store.read({ try await $0.payments.find(reference: reference) }) != nil { continue }
            let answer = try await payments.refund(QRRefund(method: charge.method, providerTransactionId: charge.providerTransactionId ?? "",
                                                            amount: charge.amount, reference: reference))
            guard answer.approved else { throw DomainError.conflict("the \(charge.method.rawValue) refund was refused: \(answer.message)") }
            let refund = Payment(id: .generate(now: now), kind: .refund, saleId: saleId, storeId: storeId, method: charge.method,
                                 amount: charge.amount, authCodeMasked: charge.authCodeMasked, reference: reference, provider: payments.name,
                                 approved: true, providerTransactionId: answer.transactionId, message: answer.message, createdAt: now)
            try await store.write { repos in
                guard let org = try await repos.orgs.find(storeId) else { return }
                try await repos.payments.insert(refund, orgPath: org.path)
            }
        }
    }

    /// The bookkeeping every completed document does in its transaction besides its shift: journal
    /// head, register sequence and stock (all lines in one statement).
    private func record(_ sale: Sale, head: JournalHead, restock: Bool, repos: any Repositories, at now: Date) async throws {
        try await repos.sales.saveJournal(store: sale.storeId, head: head)
        if let seq = sale.registerSeq { try await repos.sales.recordSequence(register: sale.registerId, store: sale.storeId, seq: seq, at: now) }
        guard sale.kind == .sale || restock else { return }
        let sign: Int64 = sale.kind == .sale ? -1 : 1
        var byProduct: [ProductID: Int64] = [:]
        for line in sale.lines { byProduct[line.productId, default: 0] += line.quantity }
        // Sorted: concurrent PostgreSQL transactions then lock a store's stock rows in one order.
        let deltas = byProduct.sorted { $0.key < $1.key }.map { (product: $0.key, delta: sign * $0.value) }
        try await repos.stock.adjust(store: sale.storeId, deltas: deltas, at: now)
    }

    func audit(_ action: String, sale: Sale, org: Organization, principal: Principal, repos: any Repositories, at now: Date,
               summary: [String: String]) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: org.id, actor: principal.actor, action: action, resourceType: "sale", resourceId: sale.id.rawValue,
                       origin: principal.origin, summary: summary),
            orgPath: org.path, at: now)
    }
}

/// What pricing a cart needs from the catalog: the lines' products (the merchant's only) and the
/// promotions running at the instant priced.
struct CatalogSnapshot: Sendable {
    var products: [ProductID: Product]
    var promotions: [Promotion]

    /// Reads the products of the lines (refusing an empty or overlong cart) and the running promotions.
    /// With `cache`, products and promotions come from recent readings (`now` is the service clock's instant).
    static func load(_ inputs: [SaleLineInput], merchant: Organization, at: Date, now: Date? = nil, repos: any Repositories,
                     cache: SaleContextCache? = nil) async throws -> CatalogSnapshot {
        guard !inputs.isEmpty else { throw DomainError.invalid("lines", "a sale needs at least one line") }
        guard inputs.count <= SaleRules.maxLines else { throw DomainError.invalid("lines", "at most \(SaleRules.maxLines) lines") }
        let ids = inputs.map(\.productId)
        let found = if let cache { try await cache.products(ids, repos: repos) } else { try await repos.products.find(ids: ids) }
        var products: [ProductID: Product] = [:]
        for product in found where product.merchantId == merchant.id {
            products[product.id] = product
        }
        let promotions = if let cache {
            try await cache.running(merchant: merchant.id, at: at, now: now ?? at, repos: repos)
        } else {
            try await repos.promotions.running(merchant: merchant.id, at: at)
        }
        return CatalogSnapshot(products: products, promotions: promotions)
    }
}

/// What `complete` reads before its transaction: the stored sale to answer again, or what selling needs.
enum SaleReading: Sendable {
    case replay(Sale)
    case sell(SaleContext)
}

/// The store, catalog, shift and wallet charges a sale is made with, read before its transaction.
struct SaleContext: Sendable {
    var storeOrg: Organization
    var merchant: Organization
    var settings: RegisterSettings
    var catalog: CatalogSnapshot
    /// The shift chosen at reading (re-checked in the transaction) and whether the sale is late for it.
    var shift: Shift?
    var late: Bool
    /// The sale's wallet payments (read only when it has a wallet tender).
    var charges: [Payment]
    /// The member the sale names, when it is a member of this merchant.
    var member: MemberAtSale?
}

/// The result of walking a store's journal.
public struct JournalVerification: Codable, Sendable, Equatable {
    public var checked: Int
    /// The first receipt number that is missing or does not match its link; nil when intact.
    public var firstBroken: Int64?
    public var problem: String?

    public init(checked: Int, firstBroken: Int64?, problem: String?) {
        self.checked = checked
        self.firstBroken = firstBroken
        self.problem = problem
    }
}
