import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The register on both engines: exactly-once upload, receipts, stock, shift totals, refunds within
/// limits, approvals, wallet payments, register gaps, Z reports and the store journal.
@Suite struct SalesStoreTests {
    /// A store with a small catalog, a cashier and an owner.
    struct Shop {
        let services: AppServices
        let fixtures: Fixtures
        let clock: TestClock
        let owner: Principal
        let cashier: Principal
        let cola: Product
        let pork: Product
        var sales: SalesService { services.sales }

        static func with(_ backend: TestBackend, _ body: (Shop) async throws -> Void) async throws {
            try await TestDatabase.with(backend) { database in
                let clock = TestClock()
                let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock)
                let fixtures = try await Fixtures.make(services.access)
                let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
                let cashier = try await services.access.principal(commandLineUser: "storeA.cashier")
                let cola = try await services.catalog.create(ProductInput(sku: "COLA", barcodes: ["6901234567892"], nameZh: "可口可乐", price: 350),
                                                             merchantId: nil, by: owner)
                let pork = try await services.catalog.create(ProductInput(sku: "PORK", nameZh: "五花肉", unit: .weight, price: 3280, taxRate: 900),
                                                             merchantId: nil, by: owner)
                clock.advance(60)
                try await body(Shop(services: services, fixtures: fixtures, clock: clock, owner: owner, cashier: cashier, cola: cola, pork: pork))
            }
        }

        func sale(_ seq: Int64, id: SaleID = .generate(), lines: [SaleLineInput]? = nil, tenders: [TenderInput] = [TenderInput(kind: .cash, tendered: 10_000)],
                  soldAt: Date? = nil, orderDiscount: Int64 = 0, approval: ApprovalInput? = nil) -> SaleInput {
            SaleInput(id: id, registerId: "R1", registerSeq: seq, soldAt: soldAt,
                      lines: lines ?? [SaleLineInput(productId: cola.id, quantity: 3000), SaleLineInput(productId: pork.id, quantity: 523)],
                      orderDiscount: orderDiscount, tenders: tenders, approval: approval)
        }

        func head() async throws -> JournalHead {
            let store = fixtures.storeA
            return try await services.store.read { try await $0.sales.journalHead(store: store) }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func saleRefundShiftAndJournal(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let sales = shop.sales
            // Jiao rounding in the customer's favour (抹分).
            var settings = try await sales.settings(storeId: shop.fixtures.storeA, by: shop.owner)
            settings.cashRounding = CashRounding(step: 10, mode: .down)
            _ = try await sales.updateSettings(settings, expectedVersion: 0, by: shop.owner)

            await #expect(throws: DomainError.conflict("open a shift at register R1 first")) { _ = try await sales.complete(shop.sale(1), by: shop.cashier) }
            let shift = try await sales.openShift(storeId: nil, registerId: "R1", openingFloat: 20_000, by: shop.cashier)
            #expect(shift.number == 1)

            // 3 cola (10.50) + 523 g of pork (17.15) = 27.65, rounded down to 27.60 in cash; 100.00 given.
            let input = shop.sale(1)
            let sale = try await sales.complete(input, by: shop.cashier)
            #expect(sale.receiptNumber == 1 && sale.total == 2760 && sale.rounding == -5 && sale.change == 7240)
            #expect(sale.lines.map(\.net) == [1050, 1715] && sale.tenders == [Tender(kind: .cash, amount: 2760, tendered: 10_000)])

            // The same upload again (a retry after a lost answer): the same sale, nothing counted twice.
            let again = try await sales.complete(input, by: shop.cashier)
            #expect(again == sale)
            #expect(try await shop.head().receiptNumber == 1)
            let afterOne = try await sales.shift(shift.id, by: shop.cashier)
            #expect(afterOne.saleCount == 1 && afterOne.saleAmount == 2760)
            let stock = try await sales.stock(storeId: shop.fixtures.storeA, page: PageRequest(), by: shop.owner).items
            #expect(Dictionary(uniqueKeysWithValues: stock.map { ($0.productId, $0.quantity) }) == [shop.cola.id: -3000, shop.pork.id: -523])

            // A different sale under a used id or sequence is refused.
            await #expect(throws: DomainError.conflict("sale \(input.id) was already stored with different content")) {
                _ = try await sales.complete(shop.sale(2, id: input.id, lines: [SaleLineInput(productId: shop.pork.id, quantity: 100)]), by: shop.cashier)
            }
            await #expect(throws: DomainError.self) { _ = try await sales.complete(shop.sale(1), by: shop.cashier) }

            // A card tender never carries a full card number.
            await #expect(throws: DomainError.self) {
                _ = try await sales.complete(shop.sale(2, tenders: [TenderInput(kind: .card, amount: 2765, maskedPan: "6222021234567890", authCode: "A1")]),
                                             by: shop.cashier)
            }
            let card = try await sales.complete(shop.sale(2, tenders: [TenderInput(kind: .card, amount: 2765, maskedPan: "622202******7890", authCode: "123456", rrn: "000111222333")]),
                                                by: shop.cashier)
            #expect(card.receiptNumber == 2 && card.total == 2765 && card.rounding == 0)

            // Sequence 3 is lost on the way; 4 arrives (made offline an hour ago).
            shop.clock.advance(3600)
            let late = try await sales.complete(shop.sale(4, soldAt: shop.clock.clock.now().addingTimeInterval(-3000)), by: shop.cashier)
            #expect(late.receiptNumber == 3)
            let sync = try await sales.registerSync("R1", by: shop.cashier)
            #expect(sync.lastSeq == 4 && sync.received == 3 && sync.missing == [SequenceGap(from: 3, to: 3)])

            // Refunds need a manager: the owner's credentials typed at the till.
            let refundOne = RefundInput(id: .generate(), registerId: "R1", registerSeq: 5, lines: [RefundLineInput(line: 0, quantity: 1000)],
                                        reason: .customerReturn)
            await #expect(throws: DomainError.forbidden("a refund needs a manager's approval")) { _ = try await sales.refund(sale.id, refundOne, by: shop.cashier) }
            var wrong = refundOne
            wrong.approval = ApprovalInput(username: "merchantA.owner", password: "nope", reason: .customerReturn)
            await #expect(throws: DomainError.unauthenticated("wrong username or password")) { _ = try await sales.refund(sale.id, wrong, by: shop.cashier) }
            var approved = refundOne
            approved.approval = ApprovalInput(username: "merchantA.owner", password: Fixtures.password, reason: .customerReturn)
            let refund = try await sales.refund(sale.id, approved, by: shop.cashier)
            #expect(refund.kind == .refund && refund.total == 350 && refund.receiptNumber == 4 && refund.approval?.approver == "merchanta.owner")
            #expect(try await sales.refund(sale.id, approved, by: shop.cashier) == refund, "a repeated refund is the same refund")

            // Never more of a line than is left, never more by a tender than it paid.
            await #expect(throws: DomainError.invalid("lines.0.quantity", "only 2000 of COLA is left to refund (sold 3000)")) {
                _ = try await sales.refund(sale.id, RefundInput(id: .generate(), registerId: "R1", registerSeq: 6,
                                                                lines: [RefundLineInput(line: 0, quantity: 3000)], reason: .damaged), by: shop.owner)
            }
            await #expect(throws: DomainError.self) {
                _ = try await sales.refund(sale.id, RefundInput(id: .generate(), registerId: "R1", registerSeq: 6, lines: [RefundLineInput(line: 1, quantity: 523)],
                                                                tenders: [TenderInput(kind: .card, amount: 1715)], reason: .damaged), by: shop.owner)
            }
            // The rest of the sale: the last refund also gives back the rounding, so refunds add up to what was paid.
            let rest = try await sales.refund(sale.id, RefundInput(id: .generate(), registerId: "R1", registerSeq: 6, lines: [], reason: .damaged,
                                                                   restock: false), by: shop.owner)
            #expect(rest.total == 2760 - 350 && rest.rounding == -5)
            await #expect(throws: DomainError.conflict("everything on this sale has already been refunded")) {
                _ = try await sales.refund(sale.id, RefundInput(id: .generate(), registerId: "R1", registerSeq: 7, lines: [], reason: .damaged), by: shop.owner)
            }

            // Cash paid out, then the X report: expected cash = float + cash taken − cash given back + in − out.
            _ = try await sales.cashMovement(shiftId: shift.id, direction: .out, amount: 5000, reason: "bank drop", by: shop.cashier)
            let x = try await sales.xReport(shift.id, by: shop.cashier)
            let expectedCash: Int64 = 20_000 + 2760 + 2760 - 2760 - 5000
            #expect(x.tenders.first { $0.kind == .cash }?.expected == expectedCash)
            #expect(x.tenders.first { $0.kind == .card }?.expected == 2765)
            #expect(x.shift.saleCount == 3 && x.shift.refundCount == 2)

            // Closing waits for the missing sequence number, unless forced.
            await #expect(throws: DomainError.conflict("register R1 has not sent sequence 3 yet; upload them first, or close with force")) {
                _ = try await sales.closeShift(shift.id, counted: [.cash: expectedCash], force: false, by: shop.cashier)
            }
            let z = try await sales.closeShift(shift.id, counted: [.cash: expectedCash - 100, .card: 2765], force: true, by: shop.cashier)
            #expect(z.zNumber == 1 && z.tenders.first { $0.kind == .cash }?.difference == -100)
            await #expect(throws: DomainError.self) { _ = try await sales.closeShift(shift.id, counted: [:], force: true, by: shop.cashier) }
            #expect(try await sales.zReport(try #require(z.id), by: shop.owner) == z)

            // The journal is intact; editing a stored sale is found.
            let store = shop.fixtures.storeA
            #expect(try await sales.verifyJournal(store: store, by: shop.owner) == JournalVerification(checked: 5, firstBroken: nil, problem: nil))
            try await shop.services.database.transaction { db in
                let body = try #require(try await db.raw("SELECT body FROM sales WHERE receipt_number = 2").first()?.decode(column: "body", as: String.self))
                try await db.raw("UPDATE sales SET body = \(bind: body.replacingOccurrences(of: "2765", with: "1765")) WHERE receipt_number = 2").run()
            }
            #expect(try await sales.verifyJournal(store: store, by: shop.owner).firstBroken == 2)
        }
    }

    /// Sales read their store, settings, products and promotions through a short-lived cache
    /// (`SaleContextCache`); a change made through the services reaches the very next sale, and a
    /// promotion's window opens at its instant even while its list is cached.
    @Test(arguments: TestBackend.allCases)
    func changesReachTheNextSaleAtOnce(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let sales = shop.sales
            _ = try await sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: shop.cashier)
            var seq: Int64 = 0
            func sell() async throws -> Sale {
                seq += 1
                return try await sales.complete(shop.sale(seq, lines: [SaleLineInput(productId: shop.cola.id, quantity: 3000)]), by: shop.cashier)
            }
            #expect(try await sell().total == 1_050)
            _ = try await shop.services.catalog.update(shop.cola.id, ProductInput(sku: "COLA", barcodes: ["6901234567892"], nameZh: "可口可乐", price: 415),
                                                       expectedVersion: shop.cola.version, by: shop.owner)
            #expect(try await sell().total == 1_245)
            var settings = try await sales.settings(storeId: shop.fixtures.storeA, by: shop.owner)
            settings.cashRounding = CashRounding(step: 10, mode: .down)
            _ = try await sales.updateSettings(settings, expectedVersion: settings.version, by: shop.owner)
            #expect(try await sell().total == 1_240)
            let percent = try await shop.services.promotions.create(PromotionInput(name: "九折", rule: .percentOff(basisPoints: 1_000), skus: ["COLA"]),
                                                                    merchantId: nil, by: shop.owner)
            let discounted = try await sell()
            #expect(discounted.lines[0].promotionId == percent.promotion.id && discounted.total < 1_240)
            _ = try await shop.services.promotions.end(percent.promotion.id, expectedVersion: percent.version, by: shop.owner)
            let ended = try await sell()
            #expect(ended.lines[0].promotionId == nil && ended.total == 1_240)
            let later = try await shop.services.promotions.create(
                PromotionInput(name: "特价", rule: .fixedPrice(fenPerUnit: 200), skus: ["COLA"], startsAt: shop.clock.clock.now().addingTimeInterval(1)),
                merchantId: nil, by: shop.owner)
            let before = try await sell()
            #expect(before.lines[0].promotionId == nil && before.total == 1_240)
            shop.clock.advance(1.5)
            let after = try await sell()
            #expect(after.lines[0].promotionId == later.promotion.id && after.total == 600)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func discountsNeedAManagerBeyondTheLimit(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            _ = try await shop.sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: shop.cashier)
            let lines = [SaleLineInput(productId: shop.cola.id, quantity: 10_000, manualDiscount: 100)]
            // 10% of 35.00 is the cashier's limit: 1.00 + 3.00 off is beyond it.
            await #expect(throws: DomainError.self) {
                _ = try await shop.sales.complete(shop.sale(1, lines: lines, orderDiscount: 300), by: shop.cashier)
            }
            let within = try await shop.sales.complete(shop.sale(1, lines: lines, orderDiscount: 200), by: shop.cashier)
            #expect(within.total == 3200 && within.approval == nil && within.lines[0].orderDiscountShare == 200)
            let approved = try await shop.sales.complete(
                shop.sale(2, lines: lines, orderDiscount: 900, approval: ApprovalInput(username: "merchantA.owner", password: Fixtures.password, reason: .loyalty)),
                by: shop.cashier)
            #expect(approved.total == 2500 && approved.approval?.reason == .loyalty)
            // Made offline long ago: kept (the customer paid), flagged for review.
            let offline = try await shop.sales.complete(shop.sale(3, lines: lines, soldAt: shop.clock.clock.now().addingTimeInterval(-3600), orderDiscount: 900),
                                                        by: shop.cashier)
            #expect(offline.exceptions.count == 1 && offline.total == 2500)
            // The register's price is kept when the catalog changed after the sale.
            var input = ProductInput(sku: "COLA", barcodes: ["6901234567892"], nameZh: "可口可乐", price: 400)
            input.barcodes = shop.cola.barcodes
            _ = try await shop.services.catalog.update(shop.cola.id, input, expectedVersion: 1, by: shop.owner)
            let before = shop.clock.clock.now().addingTimeInterval(-600)
            shop.clock.advance(1)
            let old = try await shop.sales.complete(shop.sale(4, lines: [SaleLineInput(productId: shop.cola.id, quantity: 1000, unitPrice: 350)], soldAt: before),
                                                    by: shop.cashier)
            #expect(old.total == 350 && old.lines[0].catalogChanged && old.exceptions.isEmpty)
            await #expect(throws: DomainError.self) {
                _ = try await shop.sales.complete(shop.sale(5, lines: [SaleLineInput(productId: shop.cola.id, quantity: 1000, unitPrice: 350)]), by: shop.cashier)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func walletPaymentsAndVoids(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let sales = shop.sales
            _ = try await sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: shop.cashier)
            let orderId = SaleID.generate()
            let order = try await sales.hold(OrderInput(id: orderId, registerId: "R1", lines: [SaleLineInput(productId: shop.cola.id, quantity: 2000)]),
                                             by: shop.cashier)
            #expect(order.status == .open && order.total == 700 && order.receiptNumber == nil)
            let declined = try await sales.chargeWallet(saleId: orderId, storeId: nil, method: .wechat, amount: 700, authCode: "134567890123450000", by: shop.cashier)
            #expect(!declined.approved)
            let paid = try await sales.chargeWallet(saleId: orderId, storeId: nil, method: .wechat, amount: 700, authCode: "134567890123456789", by: shop.cashier)
            #expect(paid.approved && paid.authCodeMasked == "1345**********6789")
            #expect(try await sales.chargeWallet(saleId: orderId, storeId: nil, method: .wechat, amount: 700, authCode: "134567890123456789", by: shop.cashier) == paid)
            // A wallet tender must be an approved charge of the order, for its amount.
            await #expect(throws: DomainError.self) {
                _ = try await sales.complete(shop.sale(1, id: orderId, lines: [SaleLineInput(productId: shop.cola.id, quantity: 2000)],
                                                       tenders: [TenderInput(kind: .wechat, amount: 700, providerTransactionId: "SIMCFORGED")]), by: shop.cashier)
            }
            let sale = try await sales.complete(shop.sale(1, id: orderId, lines: [SaleLineInput(productId: shop.cola.id, quantity: 2000)],
                                                          tenders: [TenderInput(kind: .wechat, amount: 700, providerTransactionId: paid.providerTransactionId)]),
                                                by: shop.cashier)
            #expect(sale.status == .completed && sale.receiptNumber == 1 && sale.version == 2)
            await #expect(throws: DomainError.self) { _ = try await sales.void(orderId, reason: .customerLeft, approval: nil, by: shop.owner) }

            // Voiding an open order with goods needs a manager; its wallet charge is refunded.
            let other = SaleID.generate()
            _ = try await sales.hold(OrderInput(id: other, registerId: "R1", lines: [SaleLineInput(productId: shop.cola.id, quantity: 1000)]), by: shop.cashier)
            _ = try await sales.chargeWallet(saleId: other, storeId: nil, method: .alipay, amount: 350, authCode: "281234567890123456", by: shop.cashier)
            await #expect(throws: DomainError.forbidden("voiding an order with goods needs a manager's approval")) {
                _ = try await sales.void(other, reason: .customerLeft, approval: nil, by: shop.cashier)
            }
            let voided = try await sales.void(other, reason: .customerLeft,
                                              approval: ApprovalInput(username: "merchantA.owner", password: Fixtures.password, reason: .customerLeft),
                                              by: shop.cashier)
            #expect(voided.status == .voided && voided.approval?.approver == "merchanta.owner")
            let records = try await shop.services.store.read { try await $0.payments.payments(of: other) }
            #expect(Set(records.map(\.kind)) == [.charge, .refund])
            // Another merchant cannot see the order.
            let ownerB = try await shop.services.access.principal(commandLineUser: "merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "sale", id: other.rawValue)) { _ = try await sales.sale(other, by: ownerB) }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentUploadsStayExactlyOnceAndGapFree(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let sales = shop.sales
            let shift = try await sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: shop.cashier)
            let repeated = shop.sale(1)
            let cashier = shop.cashier
            // The same sale uploaded eight times at once, and 24 other sales, all in parallel.
            let others = (2...25).map { shop.sale(Int64($0)) }
            let stored = try await withThrowingTaskGroup(of: Sale.self) { group in
                for _ in 0..<8 { group.addTask { try await sales.complete(repeated, by: cashier) } }
                for input in others { group.addTask { try await sales.complete(input, by: cashier) } }
                return try await group.reduce(into: [Sale]()) { $0.append($1) }
            }
            #expect(Set(stored.filter { $0.id == repeated.id }.map(\.receiptNumber)).count == 1)
            #expect(Set(stored.compactMap(\.receiptNumber)) == Set(1...25))
            let totals = try await sales.shift(shift.id, by: cashier)
            #expect(totals.saleCount == 25 && totals.saleAmount == 25 * 2765)
            #expect(try await sales.verifyJournal(store: shop.fixtures.storeA, by: shop.owner).firstBroken == nil)
            let levels = try await sales.stock(storeId: shop.fixtures.storeA, page: PageRequest(), by: shop.owner).items
            #expect(levels.first { $0.productId == shop.cola.id }?.quantity == -75_000)
        }
    }
}
