import Foundation
import TillyardKit

/// Two weeks of trading at Lotus Xuhui for the demo: a shift a day on register POS-01 with a float,
/// a mix of cash (rounded to the jiao), WeChat Pay, Alipay and card sales of the demo catalog, a few
/// refunds, and a Z report each evening. About a third of the sales name one of the demo members
/// (priced at their tier, points and visits posted by the sale). Made through `SalesService` with a clock that walks through
/// the days, so every total, receipt number and journal link is what real trading would have left.
enum DemoSales {
    /// A clock the seeding moves by hand.
    final class WalkingClock: @unchecked Sendable {
        private let lock = NSLock()
        private var current: Date
        init(_ start: Date) { current = start }
        func set(_ date: Date) { lock.withLock { current = date } }
        var clock: Clock { Clock { [self] in lock.withLock { current } } }
    }

    /// A small deterministic generator (the demo is the same every time).
    struct Dice {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    static func seed(_ services: AppServices, store: OrgID, days: Int = 14, salesPerDay: Int = 150, members: [MemberID] = []) async throws {
        let owner = try await services.access.principal(commandLineUser: "lotus.owner")
        let cashier = try await services.access.principal(commandLineUser: "lotus.cashier")
        var settings = try await services.sales.settings(storeId: store, by: owner)
        settings.cashRounding = CashRounding(step: 10, mode: .down)
        settings.receiptFooter = ["谢谢惠顾 欢迎再来", "Thank you for shopping at Lotus"]
        _ = try await services.sales.updateSettings(settings, expectedVersion: settings.version, by: owner)

        let products = try await services.catalog.search(ProductFilter(activeOnly: true), merchantId: nil, page: PageRequest(limit: 200), by: owner).items
        let clock = WalkingClock(Date())
        let sales = SalesService(store: services.store, access: services.access, payments: SimulatedPaymentProvider(), clock: clock.clock)
        // The register prices with the promotions the server knows, as the browser register does through POST /carts/price.
        let promotions = try await services.promotions.list(merchantId: nil, status: nil, page: PageRequest(limit: 200), by: owner).items.map(\.promotion)
        var dice = Dice(state: 20_261_123)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let today = calendar.startOfDay(for: Date())
        var seq: Int64 = 0
        for day in stride(from: days, through: 1, by: -1) {
            let opening = calendar.date(byAdding: .hour, value: 9, to: calendar.date(byAdding: .day, value: -day, to: today)!)!
            clock.set(opening)
            let shift = try await sales.openShift(storeId: store, registerId: "POS-01", openingFloat: 50_000, by: cashier)
            var sold: [Sale] = []
            for index in 0..<salesPerDay {
                // Spread over 09:00–21:00.
                clock.set(opening.addingTimeInterval(Double(index * 12 * 3600 / salesPerDay + dice.next(200))))
                seq += 1
                let lines = (0...dice.next(3)).map { _ -> SaleLineInput in
                    let product = products[dice.next(products.count)]
                    let quantity: Int64 = product.unit == .weight ? Int64(200 + dice.next(1300)) : Int64(1 + dice.next(3)) * 1000
                    return SaleLineInput(productId: product.id, quantity: quantity)
                }
                let id = SaleID.generate(now: clock.clock.now())
                // The register prices the cart itself, as the browser register does (the server checks it).
                let byId = Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0) })
                let cart = lines.compactMap { line in byId[line.productId]?.cartLine(quantity: line.quantity) }
                // A member is priced by their tier: the server's quote at the sale's instant, as the browser register asks it.
                let member = !members.isEmpty && dice.next(3) == 0 ? members[dice.next(members.count)] : nil
                let due = member == nil
                    ? PricingEngine.price(cart, promotions: promotions, context: PricingContext.at(clock.clock.now(), timeZone: calendar.timeZone,
                                                                                                 storeId: store)).net
                    : try await sales.quote(CartQuoteInput(storeId: store, lines: lines, memberId: member?.rawValue, at: clock.clock.now()), by: cashier).total
                let tender: TenderInput
                switch dice.next(20) {
                case 0..<9:
                    // Customers hand over round notes.
                    let notes: Int64 = due <= 2000 ? 2000 : due <= 5000 ? 5000 : (due / 10_000 + 1) * 10_000
                    tender = TenderInput(kind: .cash, tendered: notes)
                case 9..<14:
                    let paid = try await sales.chargeWallet(saleId: id, storeId: store, method: .wechat, amount: due,
                                                            authCode: String(format: "13%016d", 1_000_000 + seq), by: cashier)
                    tender = TenderInput(kind: .wechat, amount: due, providerTransactionId: paid.providerTransactionId)
                case 14..<18:
                    let paid = try await sales.chargeWallet(saleId: id, storeId: store, method: .alipay, amount: due,
                                                            authCode: String(format: "28%016d", 2_000_000 + seq), by: cashier)
                    tender = TenderInput(kind: .alipay, amount: due, providerTransactionId: paid.providerTransactionId)
                default:
                    tender = TenderInput(kind: .card, amount: due, maskedPan: String(format: "622202******%04d", dice.next(10_000)),
                                         authCode: String(format: "%06d", dice.next(1_000_000)), rrn: String(format: "%012d", seq))
                }
                sold.append(try await sales.complete(SaleInput(id: id, storeId: store, registerId: "POS-01", registerSeq: seq, shiftId: shift.id,
                                                               lines: lines, tenders: [tender], memberId: member?.rawValue), by: cashier))
            }
            // A return or two a day, approved by the owner (the manager).
            for sale in sold.prefix(dice.next(3)) where sale.tenders.first?.kind == .cash {
                seq += 1
                clock.set(clock.clock.now().addingTimeInterval(60))
                _ = try await sales.refund(sale.id, RefundInput(id: .generate(now: clock.clock.now()), registerId: "POS-01", registerSeq: seq,
                                                                shiftId: shift.id, lines: [RefundLineInput(line: 0, quantity: sale.lines[0].quantity)],
                                                                reason: .customerReturn), by: owner)
            }
            clock.set(opening.addingTimeInterval(12.5 * 3600))
            let report = try await sales.xReport(shift.id, by: cashier)
            var counted: [TenderKind: Int64] = [:]
            for line in report.tenders { counted[line.kind] = line.expected }
            // Now and then the drawer is a little short.
            if day % 5 == 0 { counted[.cash] = (counted[.cash] ?? 0) - 100 }
            _ = try await sales.closeShift(shift.id, counted: counted, force: false, by: cashier)
        }
    }
}
