import Foundation
import Testing
import TillyardKit

/// The pure parts of the reports: business days as dates, ranges and the period before, the
/// rollup arithmetic of a sale and a refund, transaction figures and the merchant blocks.
@Suite struct ReportRulesTests {
    @Test func businessDaysAreShanghaiDates() {
        // 2026-12-06T16:30Z is 00:30 on the 7th in Shanghai.
        let instant = Date(timeIntervalSince1970: 1_796_574_600)
        let day = RiskClock.day(of: instant)
        #expect(ReportDay.text(day) == "2026-12-07")
        #expect(ReportDay.parse("2026-12-07") == day)
        #expect(SalesRollup.hour(of: instant) == 0)
        #expect(ReportDay.parse("2026-02-30") == nil && ReportDay.parse("2026-1-01") == nil && ReportDay.parse("yesterday") == nil)
    }

    @Test func rangesAndThePeriodBefore() throws {
        let today = ReportDay.parse("2026-12-07")!
        let range = try ReportRange.parse(from: "2026-12-01", to: "2026-12-07", today: today)
        #expect(range.days == 7 && ReportDay.text(range.previous.from) == "2026-11-24" && ReportDay.text(range.previous.to) == "2026-11-30")
        let defaulted = try ReportRange.parse(from: nil, to: nil, today: today, defaultDays: 30)
        #expect(defaulted.to == today && defaulted.days == 30)
        #expect(throws: DomainError.self) { try ReportRange.parse(from: "2026-12-08", to: "2026-12-07", today: today) }
        #expect(throws: DomainError.self) { try ReportRange.parse(from: "2020-01-01", to: "2026-12-07", today: today) }
        #expect(SalesReportRow.change(7500, from: 2500) == 200.0 && SalesReportRow.change(1000, from: 2500) == -60.0)
        #expect(SalesReportRow.change(5, from: 0) == nil)
    }

    @Test func aSaleAndItsRefundRollUpPerDimension() throws {
        let now = Date(timeIntervalSince1970: 1_796_605_200)  // 2026-12-07 09:00 in Shanghai
        let merchant = OrgID.generate(now: now), store = OrgID.generate(now: now)
        func product(_ sku: String, cost: Int64?, category: String?) -> Product {
            Product(id: ProductID(rawValue: UUIDv7.make(now: now)), merchantId: merchant, sku: sku, barcodes: [], nameZh: sku, nameEn: nil,
                    category: category, unit: .piece, price: 1000, memberPrice: nil, taxRate: 1300, cost: cost, scaleCode: nil, active: true,
                    createdAt: now, updatedAt: now)
        }
        let tea = product("TEA", cost: 333, category: "drinks"), cake = product("CAKE", cost: nil, category: nil)
        func line(_ item: Product, quantity: Int64, net: Int64) -> SaleLine {
            SaleLine(productId: item.id, sku: item.sku, name: item.nameZh, quantity: quantity, weighed: false, unitPrice: 1000, gross: net, discount: 0,
                     promotionId: nil, promotionName: nil, manualDiscount: 0, orderDiscountShare: 0, taxRate: 1300, catalogChanged: false)
        }
        var sale = Sale(id: SaleID(rawValue: UUIDv7.make(now: now)), kind: .sale, status: .completed, merchantId: merchant, storeId: store,
                        registerId: "POS-1", registerSeq: 1, shiftId: nil, receiptNumber: 1, cashierId: UserID(rawValue: UUIDv7.make(now: now)),
                        cashier: "amy", soldAt: now, recordedAt: now, lines: [line(tea, quantity: 1500, net: 1500), line(cake, quantity: 1000, net: 1000)],
                        orderDiscount: 0, gross: 2500, discount: 0, rounding: 0, total: 2500,
                        tenders: [Tender(kind: .cash, amount: 2000), Tender(kind: .wechat, amount: 500)], change: 0, memberId: "m-1",
                        originalSaleId: nil, reason: nil, note: nil, approval: nil, exceptions: [], hash: nil, version: 1)
        let products = [tea.id: tea, cake.id: cake]
        let deltas = SalesRollup.deltas(of: sale, storePath: "/a/b/", products: products)
        func find(_ list: [SalesRollupDelta], _ dimension: SalesRollupDimension, _ key: String) -> SalesFigures? {
            list.first { $0.dimension == dimension && $0.key == key }?.figures
        }
        // 1.5 × 3.33 = 4.995 → 5.00 (half away from zero).
        #expect(find(deltas, .product, tea.id.rawValue) == SalesFigures(amount: 1500, quantity: 1500, cost: 500, costedAmount: 1500))
        #expect(find(deltas, .category, "") == SalesFigures(amount: 1000, quantity: 1000))
        #expect(find(deltas, .total, "") == SalesFigures(sales: 1, amount: 2500, quantity: 2500, cost: 500, costedAmount: 1500))
        #expect(find(deltas, .tender, "wechat") == SalesFigures(sales: 1, amount: 500))
        #expect(find(deltas, .hour, "09")?.sales == 1 && find(deltas, .member, "member")?.amount == 2500 && find(deltas, .cashier, sale.cashierId.rawValue) != nil)
        #expect(deltas.allSatisfy { $0.day == RiskClock.day(of: now) && $0.orgPath == "/a/b/" })

        sale.kind = .refund
        sale.lines = [line(tea, quantity: 1000, net: 1000)]
        sale.total = 1000
        sale.tenders = [Tender(kind: .cash, amount: 1000)]
        let back = SalesRollup.deltas(of: sale, storePath: "/a/b/", products: products)
        #expect(find(back, .product, tea.id.rawValue) == SalesFigures(refundAmount: 1000, refundQuantity: 1000, cost: -333, costedAmount: -1000))
        #expect(find(back, .total, "") == SalesFigures(refunds: 1, refundAmount: 1000, refundQuantity: 1000, cost: -333, costedAmount: -1000))
        #expect(find(back, .tender, "cash") == SalesFigures(refunds: 1, refundAmount: 1000))
        let net = find(deltas, .total, "")! + find(back, .total, "")!
        #expect(net.net == 1500 && net.margin == 500 - 167)
        sale.status = .voided
        #expect(SalesRollup.deltas(of: sale, storePath: "/a/b/", products: products).isEmpty)
    }

    @Test func transactionFiguresAndMerchantBlocks() {
        let at = Date(timeIntervalSince1970: 1_796_605_200)
        let figures = [TerminalTransaction(id: "1", at: at, amount: 1000, approved: true, responseCode: "00"),
                       TerminalTransaction(id: "2", at: at, kind: .refund, amount: 300, approved: true, responseCode: "00"),
                       TerminalTransaction(id: "3", at: at, amount: 9000, approved: false, responseCode: "51"),
                       TerminalTransaction(id: "4", at: at, kind: .preAuth, amount: 5000, approved: true, responseCode: "00")]
            .reduce(TransactionFigures()) { $0 + .of($1) }
        #expect(figures == TransactionFigures(count: 4, approved: 3, amount: 1000, refundAmount: 300) && figures.approvalBasisPoints == 7500)
        // Any range is covered exactly once by aligned blocks, at most 10 of them for 90 days.
        for from in stride(from: 20_000, to: 20_130, by: 7) {
            let blocks = TransactionRollup.blocks(from: from, to: from + 89)
            #expect(blocks.count <= 10)
            #expect(blocks.flatMap { Array($0.start..<($0.start + $0.span)) } == Array(from...(from + 89)))
            #expect(blocks.allSatisfy { $0.start % $0.span == 0 })
        }
    }
}
