import Foundation
import Testing
@testable import TillyardKit

/// The hand-written sale JSON must be byte for byte the generic encoder's, in each of its three
/// forms: the journal link hashes the lines' and tenders' bytes, and a stored document or a
/// response is compared and cached by others.
@Suite struct SaleJSONTests {
    /// Texts a register or a cashier may send: plain, Chinese, emoji, and every character the
    /// generic encoder escapes (quotes, backslashes, slashes, control characters).
    static let texts = ["Milk 1L", "康师傅 红烧牛肉面 5 连包", "🍜 noodles", #"say "hi""#, #"back\slash"#, "1/2 kg", "tab\there", "line\nbreak",
                        "\u{1}\u{1F}\u{7F}", "é\u{301}", "</script>", ""]

    static func sale(_ round: Int, using generator: inout some RandomNumberGenerator) -> Sale {
        func text(_ offset: Int) -> String { texts[(round + offset) % texts.count] }
        func date() -> Date {
            // Whole milliseconds, sub-millisecond fractions and whole seconds.
            switch round % 3 {
            case 0: return Date(timeIntervalSince1970: Double(Int64.random(in: 1_600_000_000_000...1_900_000_000_000, using: &generator)) / 1000)
            case 1: return Date(timeIntervalSince1970: Double.random(in: 1_600_000_000...1_900_000_000, using: &generator))
            default: return Date(timeIntervalSince1970: Double(Int.random(in: 1_600_000_000...1_900_000_000, using: &generator)))
            }
        }
        let lines = (0..<(round % 5)).map { index in
            SaleLine(productId: ProductID(rawValue: "p-\(round)-\(index)"), sku: text(index), name: text(index + 3),
                     quantity: Int64.random(in: 1...99_999, using: &generator), weighed: index % 2 == 0, unitPrice: Int64(index * 1_234),
                     gross: Int64.random(in: -9_999...9_999_999, using: &generator), discount: Int64(index), promotionId: index % 3 == 0 ? nil : PromotionID(rawValue: "promo/\(index)"),
                     promotionName: index % 2 == 0 ? nil : text(index + 5), manualDiscount: Int64(-index), orderDiscountShare: Int64(index * 7),
                     taxRate: index * 300, catalogChanged: round % 2 == 0, originalLine: round % 4 == 0 ? index : nil)
        }
        let tenders = (0..<(round % 4)).map { index in
            Tender(kind: TenderKind.allCases[(round + index) % TenderKind.allCases.count], amount: Int64(round * 100 + index),
                   tendered: index == 0 ? Int64(round * 1_000) : nil, maskedPan: index == 1 ? "622848******1234" : nil,
                   authCode: index == 1 ? text(index) : nil, rrn: index == 2 ? "123456789012" : nil,
                   providerTransactionId: index == 2 ? "4200/\(round)" : nil, reference: index == 3 ? text(index + 1) : nil)
        }
        let approval = round % 3 == 0 ? nil : Approval(approverId: UserID(rawValue: "u-\(round)"), approver: text(2),
                                                     reason: SaleReason.allCases[round % SaleReason.allCases.count], at: date())
        return Sale(id: SaleID(rawValue: "0193-\(round)"), kind: round % 5 == 0 ? .refund : .sale, status: SaleStatus.allCases[round % 3],
                    merchantId: OrgID(rawValue: "m-\(round)"), storeId: OrgID(rawValue: "s-\(round)"), registerId: text(4),
                    registerSeq: round % 2 == 0 ? nil : Int64(round), shiftId: round % 6 == 0 ? nil : ShiftID(rawValue: "sh-\(round)"),
                    receiptNumber: round % 7 == 0 ? nil : Int64(round * 3), cashierId: UserID(rawValue: "c-\(round)"), cashier: text(1),
                    soldAt: date(), recordedAt: date(), lines: lines, orderDiscount: Int64(round % 11), gross: Int64(round * 99),
                    discount: Int64(round), rounding: Int64(round % 3) - 1, total: Int64(round * 97), tenders: tenders, change: Int64(round % 10),
                    memberId: round % 4 == 1 ? text(6) : nil, originalSaleId: round % 5 == 0 ? SaleID(rawValue: "0192-\(round)") : nil,
                    reason: round % 5 == 0 ? .customerReturn : nil, note: round % 3 == 1 ? text(7) : nil, approval: approval,
                    exceptions: (0..<(round % 3)).map { text($0 + 8) }, hash: round % 8 == 0 ? nil : String(repeating: "ab", count: 32),
                    version: round % 4 + 1)
    }

    @Test func everyFormIsTheGenericEncodersBytes() throws {
        let column = JSONEncoder()
        column.outputFormatting = .sortedKeys
        column.dateEncodingStrategy = .millisecondsSince1970
        let wire = WireJSON.encoder()
        let journal = JSONEncoder()
        journal.outputFormatting = .sortedKeys
        func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<600 {
            let sale = Self.sale(round, using: &generator)
            #expect(SaleJSON.encode(sale, style: .column) == text(try column.encode(sale)), "stored form of sale \(round)")
            #expect(SaleJSON.encode(sale, style: .wire) == text(try wire.encode(sale)), "API form of sale \(round)")
            #expect(SaleJSON.lines(sale.lines) == text(try journal.encode(sale.lines)), "journal lines of sale \(round)")
            #expect(SaleJSON.tenders(sale.tenders) == text(try journal.encode(sale.tenders)), "journal tenders of sale \(round)")
            // The lists encoded ahead (the journal content) give the same document.
            let content = SaleRules.JournalContent(sale)
            #expect(SaleJSON.encode(sale, style: .column, lines: content.lines, tenders: content.tenders) == text(try column.encode(sale)))
        }
    }

    @Test func theStoredFormReadsBackAsTheSale() throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        var generator = SystemRandomNumberGenerator()
        for round in 0..<100 {
            let sale = Self.sale(round, using: &generator)
            let back = try decoder.decode(Sale.self, from: Data(SaleJSON.encode(sale, style: .column).utf8))
            #expect(back.lines == sale.lines && back.tenders == sale.tenders && back.exceptions == sale.exceptions && back.note == sale.note)
            #expect(EpochMillis.from(back.soldAt) == EpochMillis.from(sale.soldAt))
        }
    }
}
