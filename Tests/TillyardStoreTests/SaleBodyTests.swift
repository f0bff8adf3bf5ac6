import Foundation
import Testing
import TillyardKit
@testable import TillyardStore

/// A sale's stored body as the repository writes it (`SaleJSON`, with its lines and tenders encoded
/// ahead, outside the single writer) is byte for byte `JSONColumn`'s, whatever its text fields hold.
@Suite struct SaleBodyTests {
    static func sale(note: String?, lineName: String, exceptions: [String]) -> Sale {
        let line = SaleLine(productId: ProductID(rawValue: "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"), sku: "SKU-1", name: lineName, quantity: 1500,
                            weighed: true, unitPrice: 1999, gross: 2999, discount: 100, promotionId: nil, promotionName: #"买一送一 "lines":[]"#,
                            manualDiscount: 0, orderDiscountShare: 1, taxRate: 1300, catalogChanged: false)
        return Sale(id: .generate(), kind: .sale, status: .completed, merchantId: OrgID(rawValue: "m"), storeId: OrgID(rawValue: "s"),
                    registerId: "R1", registerSeq: 7, shiftId: ShiftID(rawValue: "sh"), receiptNumber: 42, cashierId: UserID(rawValue: "u"),
                    cashier: "cashier", soldAt: Date(timeIntervalSince1970: 1_765_000_000.123), recordedAt: Date(timeIntervalSince1970: 1_765_000_001),
                    lines: [line, line], orderDiscount: 1, gross: 5998, discount: 202, rounding: -6, total: 5790,
                    tenders: [Tender(kind: .cash, amount: 5790, tendered: 10_000)], change: 4210, memberId: nil, originalSaleId: nil,
                    reason: .priceAdjustment, note: note,
                    approval: Approval(approverId: UserID(rawValue: "mgr"), approver: "manager", reason: .priceAdjustment, at: Date(timeIntervalSince1970: 5)),
                    exceptions: exceptions, hash: String(repeating: "ab", count: 32), version: 1)
    }

    @Test(arguments: [nil, "plain", #""lines":[] and "tenders":[]"#, #"{"lines":[],"tenders":[]}"#, "引号 \" \\ \u{1}"])
    func bodyFromContentIsTheWholeEncoding(note: String?) throws {
        for sale in [Self.sale(note: note, lineName: note ?? "name", exceptions: [note ?? "", #""tenders":[]"#]),
                     Self.sale(note: note, lineName: "x", exceptions: [])] {
            let content = SaleRules.JournalContent(sale)
            #expect(SaleJSON.encode(sale, style: .column, lines: content.lines, tenders: content.tenders) == (try JSONColumn.encode(sale)))
        }
    }
}
