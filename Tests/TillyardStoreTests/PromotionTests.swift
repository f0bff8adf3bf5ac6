import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Promotions on both engines: made, listed by status, changed only before they start, ended; the
/// server prices sales and quotes with the ones running when the sale was made.
@Suite struct PromotionStoreTests {
    typealias Shop = SalesStoreTests.Shop

    @Test(arguments: TestBackend.allCases)
    func promotionsPriceSalesAndKeepTheirHistory(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let promotions = shop.services.promotions
            let sales = shop.sales
            let now = shop.clock.clock.now()
            let colaOff = try await promotions.create(PromotionInput(name: "可乐八折", rule: .percentOff(basisPoints: 2000), skus: ["COLA"]),
                                                      merchantId: nil, by: shop.owner)
            let porkLater = try await promotions.create(PromotionInput(name: "Pork at 9.90", rule: .fixedPrice(fenPerUnit: 990), skus: ["PORK"],
                                                                       startsAt: now.addingTimeInterval(86_400)),
                                                        merchantId: nil, by: shop.owner)
            #expect(colaOff.status(at: now) == .running && porkLater.status(at: now) == .scheduled)
            let running = try await promotions.list(merchantId: nil, status: .running, page: PageRequest(), by: shop.cashier).items
            let scheduled = try await promotions.list(merchantId: nil, status: .scheduled, page: PageRequest(), by: shop.owner).items
            #expect(running.map(\.promotion.id) == [colaOff.promotion.id] && scheduled.map(\.promotion.id) == [porkLater.promotion.id])

            // The quote: 3 cola at 3.50 less 20% (2.10 off), 523 g of pork at list price.
            let cart = [SaleLineInput(productId: shop.cola.id, quantity: 3000), SaleLineInput(productId: shop.pork.id, quantity: 523)]
            let quote = try await sales.quote(CartQuoteInput(lines: cart), by: shop.cashier)
            #expect(quote.lines.map(\.discount) == [210, 0] && quote.lines[0].promotionName == "可乐八折" && quote.total == 2555)

            // A server-priced sale gets the same price; a register claiming more than the promotion gives is refused online.
            _ = try await sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: shop.cashier)
            let sale = try await sales.complete(shop.sale(1, lines: cart), by: shop.cashier)
            #expect(sale.total == quote.total && sale.lines[0].promotionId == colaOff.promotion.id && sale.exceptions.isEmpty)
            let greedy = [SaleLineInput(productId: shop.cola.id, quantity: 3000, unitPrice: 350, discount: 300, promotionId: colaOff.promotion.id)]
            await #expect(throws: DomainError.self) { _ = try await sales.complete(shop.sale(2, lines: greedy), by: shop.cashier) }

            // A promotion that has started is never edited (sales were priced by it); a scheduled one may be.
            let changed = PromotionInput(name: "可乐七折", rule: .percentOff(basisPoints: 3000), skus: ["COLA"])
            await #expect(throws: DomainError.self) {
                _ = try await promotions.update(colaOff.promotion.id, changed, expectedVersion: 1, by: shop.owner)
            }
            let moved = try await promotions.update(porkLater.promotion.id,
                                                    PromotionInput(name: "Pork at 9.90", rule: .fixedPrice(fenPerUnit: 990), skus: ["PORK"],
                                                                   startsAt: now.addingTimeInterval(7200)),
                                                    expectedVersion: 1, by: shop.owner)
            #expect(moved.version == 2 && moved.promotion.window.startsAt == now.addingTimeInterval(7200))
            await #expect(throws: DomainError.conflict("the promotion was changed by someone else (version 2); reload it")) {
                _ = try await promotions.end(porkLater.promotion.id, expectedVersion: 1, by: shop.owner)
            }

            // Ended: new carts pay list price, but a sale made offline while it ran keeps its discount without exception.
            shop.clock.advance(600)
            let ended = try await promotions.end(colaOff.promotion.id, expectedVersion: 1, by: shop.owner)
            #expect(ended.status(at: shop.clock.clock.now()) == .ended && ended.endedAt == shop.clock.clock.now())
            #expect(try await sales.quote(CartQuoteInput(lines: cart), by: shop.cashier).total == 2765)
            // What counts against the cap of live promotions: the scheduled one, not the ended one.
            let merchantA = shop.fixtures.merchantA, endedAt = shop.clock.clock.now()
            #expect(try await shop.services.store.read { try await $0.promotions.liveCount(merchant: merchantA, at: endedAt) } == 1)
            shop.clock.advance(600)
            let offline = [SaleLineInput(productId: shop.cola.id, quantity: 3000, unitPrice: 350, discount: 210, promotionId: colaOff.promotion.id,
                                         promotionName: "可乐八折")]
            let late = try await sales.complete(shop.sale(2, lines: offline, soldAt: now.addingTimeInterval(300)), by: shop.cashier)
            #expect(late.total == 840 && late.exceptions.isEmpty)
            // Asked about that instant, the quote agrees.
            #expect(try await sales.quote(CartQuoteInput(lines: [offline[0]], at: now.addingTimeInterval(300)), by: shop.cashier).total == 840)
            await #expect(throws: DomainError.conflict("promotion 可乐八折 has already ended")) {
                _ = try await promotions.end(colaOff.promotion.id, expectedVersion: 2, by: shop.owner)
            }

            // Every change is in the audit trail.
            let merchant = shop.fixtures.merchantA
            let actions = try await shop.services.store.read { repos in
                let path = try await repos.orgs.find(merchant)?.path ?? "-"
                return try await repos.audit.list(under: path, filter: AuditFilter(resourceType: "promotion"), page: PageRequest(limit: 20)).items.map(\.action)
            }
            #expect(actions.sorted() == ["promotion.create", "promotion.create", "promotion.end", "promotion.update"])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func badPromotionsAreRefusedAndOtherMerchantsSeeNothing(backend: TestBackend) async throws {
        try await Shop.with(backend) { shop in
            let promotions = shop.services.promotions
            let now = shop.clock.clock.now()
            func refused(_ input: PromotionInput, field: String) async {
                do {
                    _ = try await promotions.create(input, merchantId: nil, by: shop.owner)
                    Issue.record("\(input.name) was accepted")
                } catch DomainError.validation(let fields) {
                    #expect(fields.map(\.field) == [field])
                } catch {
                    Issue.record("\(input.name): \(error)")
                }
            }
            await refused(PromotionInput(name: "unknown", rule: .percentOff(basisPoints: 1000), skus: ["NOPE"]), field: "skus.0")
            await refused(PromotionInput(name: "zero", rule: .percentOff(basisPoints: 0)), field: "rule.basisPoints")
            await refused(PromotionInput(name: "free lunch", rule: .buyXGetY(buy: 0, free: 1)), field: "rule")
            await refused(PromotionInput(name: "backwards", rule: .amountOff(fenPerUnit: 50), startsAt: now.addingTimeInterval(7200),
                                         endsAt: now.addingTimeInterval(3600)), field: "window.endsAt")
            await refused(PromotionInput(name: "past", rule: .amountOff(fenPerUnit: 50), endsAt: now.addingTimeInterval(-1)), field: "endsAt")
            await refused(PromotionInput(name: "hours", rule: .amountOff(fenPerUnit: 50), hours: "late"), field: "hours")
            await refused(PromotionInput(name: "days", rule: .amountOff(fenPerUnit: 50), weekdays: [0]), field: "window.weekdays")
            await refused(PromotionInput(name: "elsewhere", rule: .amountOff(fenPerUnit: 50), storeIds: [shop.fixtures.storeB]), field: "storeIds.0")
            await refused(PromotionInput(name: " ", rule: .amountOff(fenPerUnit: 50)), field: "name")
            await #expect(throws: DomainError.self) {
                _ = try await promotions.create(PromotionInput(name: "cashier", rule: .percentOff(basisPoints: 500)), merchantId: nil, by: shop.cashier)
            }
            let mine = try await promotions.create(PromotionInput(name: "store only", rule: .amountOff(fenPerUnit: 50), storeIds: [shop.fixtures.storeA],
                                                                  membersOnly: true),
                                                   merchantId: nil, by: shop.owner)
            let other = try await shop.services.access.principal(commandLineUser: "merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "promotion", id: mine.promotion.id.rawValue)) {
                _ = try await promotions.promotion(mine.promotion.id, by: other)
            }
            #expect(try await promotions.list(merchantId: nil, status: nil, page: PageRequest(), by: other).items.isEmpty)
            // Members only: a member's cart gets it, another's does not.
            let cart = [SaleLineInput(productId: shop.cola.id, quantity: 2000)]
            #expect(try await shop.sales.quote(CartQuoteInput(lines: cart, isMember: true), by: shop.cashier).discount == 100)
            #expect(try await shop.sales.quote(CartQuoteInput(lines: cart), by: shop.cashier).discount == 0)
        }
    }
}
