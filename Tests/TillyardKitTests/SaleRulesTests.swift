import Foundation
import Testing
import TillyardKit

/// The pure rules of selling: cash rounding, settlement with change, masked card numbers,
/// order discount spreading and refund plans.
@Suite struct SaleRulesTests {
    @Test func cashRounding() {
        #expect(CashRounding.none.apply(2765) == 2765)
        #expect(CashRounding(step: 10, mode: .down).apply(2769) == 2760)
        #expect(CashRounding(step: 10, mode: .nearest).apply(2765) == 2770)
        #expect(CashRounding(step: 10, mode: .nearest).apply(2764) == 2760)
        #expect(CashRounding(step: 100, mode: .down).apply(2799) == 2700)
        #expect(CashRounding(step: 100, mode: .nearest).apply(2750) == 2800)
        #expect(throws: DomainError.self) { try CashRounding(step: 5).validate() }
    }

    @Test func settlementWithChangeRoundingAndMixedTenders() throws {
        let jiao = CashRounding(step: 10, mode: .down)
        let cash = try SaleRules.settle(due: 2765, tenders: [TenderInput(kind: .cash, tendered: 5000)], rounding: jiao)
        #expect(cash.total == 2760 && cash.rounding == -5 && cash.change == 2240)
        // Mixed: the card pays its part exactly; only the cash part is rounded.
        let mixed = try SaleRules.settle(due: 2765, tenders: [TenderInput(kind: .card, amount: 1000, maskedPan: "****1234", authCode: "A1"),
                                                              TenderInput(kind: .cash, tendered: 2000)], rounding: jiao)
        #expect(mixed.tenders.map(\.amount) == [1000, 1760] && mixed.change == 240 && mixed.total == 2760)
        #expect(mixed.tenders[0].maskedPan == "****1234")
        // No cash: the tenders must pay exactly, and are never rounded.
        let wallet = try SaleRules.settle(due: 2765, tenders: [TenderInput(kind: .wechat, amount: 2765, providerTransactionId: "T1")], rounding: jiao)
        #expect(wallet.total == 2765 && wallet.rounding == 0)
        #expect(throws: DomainError.invalid("tenders", "the tenders pay CNY 20.00 of CNY 27.65")) {
            _ = try SaleRules.settle(due: 2765, tenders: [TenderInput(kind: .alipay, amount: 2000, providerTransactionId: "T1")], rounding: .none)
        }
        #expect(throws: DomainError.invalid("tenders", "cash handed over is CNY 0.05 short of CNY 27.60")) {
            _ = try SaleRules.settle(due: 2765, tenders: [TenderInput(kind: .cash, tendered: 2755)], rounding: jiao)
        }
        #expect(throws: DomainError.self) {
            _ = try SaleRules.settle(due: 100, tenders: [TenderInput(kind: .card, amount: 200, maskedPan: "****1234", authCode: "A")], rounding: .none)
        }
        #expect(throws: DomainError.invalid("tenders.0.providerTransactionId", "is required")) {
            _ = try SaleRules.settle(due: 100, tenders: [TenderInput(kind: .wechat, amount: 100)], rounding: .none)
        }
    }

    @Test func maskedCardNumbersOnly() throws {
        #expect(try SaleRules.maskedPan("622202******1234") == "622202******1234")
        #expect(try SaleRules.maskedPan("6222 02XX XXXX 1234") == "622202******1234")
        #expect(try SaleRules.maskedPan("1234") == "****1234")
        for bad in ["6222021234561234", "6222021*****1234", "62220******12345", "62**02****1234", "abcd"] {
            #expect(throws: DomainError.self, "\(bad)") { _ = try SaleRules.maskedPan(bad) }
        }
    }

    @Test func orderDiscountSharesAddUp() {
        #expect(SaleRules.spread(100, over: [300, 300, 300]) == [34, 33, 33])
        #expect(SaleRules.spread(1, over: [50, 950]) == [0, 1])
        #expect(SaleRules.spread(0, over: [10]) == [0])
        let shares = SaleRules.spread(997, over: [1234, 5, 777, 3000])
        #expect(shares.reduce(0, +) == 997 && zip(shares, [1234, 5, 777, 3000]).allSatisfy { $0 <= $1 })
    }

    @Test func refundPlansNeverGiveBackMoreThanWasPaid() throws {
        let line = SaleLine(productId: .generate(), sku: "A", name: "A", quantity: 3000, weighed: false, unitPrice: 333, gross: 999, discount: 0,
                            promotionId: nil, promotionName: nil, manualDiscount: 0, orderDiscountShare: 0, taxRate: 1300, catalogChanged: false)
        let sale = Sale(id: .generate(), kind: .sale, status: .completed, merchantId: .generate(), storeId: .generate(), registerId: "R", registerSeq: 1,
                        shiftId: nil, receiptNumber: 1, cashierId: .generate(), cashier: "c", soldAt: Date(), recordedAt: Date(), lines: [line],
                        orderDiscount: 0, gross: 999, discount: 0, rounding: -9, total: 990,
                        tenders: [Tender(kind: .card, amount: 500, maskedPan: "****1234"), Tender(kind: .cash, amount: 490, tendered: 500)], change: 10,
                        memberId: nil, originalSaleId: nil, reason: nil, note: nil, approval: nil, exceptions: [], hash: nil, version: 1)
        // One of three: a third of the line; back to the card first.
        let first = try SaleRules.refundPlan(original: sale, earlier: [], lines: [RefundLineInput(line: 0, quantity: 1000)], tenders: nil)
        #expect(first.total == 333 && first.tenders.map(\.kind) == [.card] && first.rounding == 0)
        var refund = sale
        refund.kind = .refund
        refund.lines = first.lines
        refund.tenders = first.tenders
        // The rest: what is left of the line, plus the rounding; card has 167 left, cash the remainder.
        let rest = try SaleRules.refundPlan(original: sale, earlier: [refund], lines: [], tenders: nil)
        #expect(rest.total == 666 - 9 && rest.tenders.map(\.amount) == [167, 490])
        #expect(first.total + rest.total == sale.total)
        #expect(throws: DomainError.self) {
            _ = try SaleRules.refundPlan(original: sale, earlier: [refund], lines: [RefundLineInput(line: 0, quantity: 1000)],
                                         tenders: [TenderInput(kind: .card, amount: 333)])
        }
        #expect(throws: DomainError.self) {
            _ = try SaleRules.refundPlan(original: sale, earlier: [], lines: [RefundLineInput(line: 0, quantity: 1500)], tenders: nil)
        }
    }
}
