import Foundation
import Testing
@testable import TillyardKit

/// Receipts and shift reports as printer bytes, text and HTML, checked byte for byte where a printer
/// would notice.
@Suite struct ReceiptRendererTests {
    // 2025-03-01 14:05:09 in Shanghai.
    static let issued = Date(timeIntervalSince1970: 1_740_809_109)

    static func receipt(tenders: [ReceiptTender] = [ReceiptTender(kind: .cash, amount: 2372, tendered: 5000)],
                        copy: Bool = false, link: String? = "https://pos.example.com/r/R20250301-0042",
                        language: ReceiptLanguage = .zh) -> Receipt {
        Receipt(
            merchantName: "莲花超市", storeName: "莲花超市 徐汇店", storeCode: "S-LOTUS-XH",
            storeAddress: "上海市徐汇区漕溪北路 88 号", headerLines: ["客服热线 400-820-8820"],
            footerLines: ["凭小票 7 日内退换", "Thank you!"], receiptNumber: "R20250301-0042",
            issuedAt: issued, timeZone: "Asia/Shanghai", cashier: "王芳", register: "POS-03",
            lines: [
                ReceiptLine(name: "可口可乐", sku: "6901234567892", quantity: 2000, unitPrice: 350, gross: 700, net: 700),
                ReceiptLine(name: "Fuji apples 红富士苹果 特级 Premium grade, Yantai, Shandong 山东烟台", sku: "2100001",
                            quantity: 1532, weighed: true, unitPrice: 1280, gross: 1961, discount: 200,
                            discountLabel: "会员价 Member price", net: 1761),
            ],
            gross: 2661, discount: 200, rounding: -89, total: 2372, tenders: tenders, change: 2628,
            taxes: [ReceiptTax(rate: 1300, amount: 81), ReceiptTax(rate: 900, amount: 146)],
            member: "138****0000", link: link, copy: copy, language: language)
    }

    static let zReport = ShiftReport(
        merchantName: "莲花超市", storeName: "莲花超市 徐汇店", storeCode: "S-LOTUS-XH", register: "POS-03", cashier: "王芳",
        kind: .z, zNumber: 118, shiftNumber: 2031, openedAt: issued.addingTimeInterval(-8 * 3600), closedAt: issued,
        printedAt: issued.addingTimeInterval(60), timeZone: "Asia/Shanghai", openingFloat: 20000, saleCount: 153,
        saleAmount: 1_234_500, refundCount: 2, refundAmount: 3_990, discount: 12_000, rounding: -420, cashIn: 0,
        cashOut: 50_000,
        tenders: [ShiftTenderLine(kind: .cash, expected: 345_600, counted: 345_400, difference: -200),
                  ShiftTenderLine(kind: .wechat, expected: 600_000)])

    static let prefix: [UInt8] = [0x1B, 0x40, 0x1B, 0x4D, 0x00, 0x1C, 0x26]
    static let drawerKick: [UInt8] = [0x1B, 0x70, 0x00, 0x19, 0xFA]
    static let cut: [UInt8] = [0x1C, 0x2E, 0x1D, 0x56, 0x42, 0x03]

    /// Columns as a printer in Chinese mode uses them: ASCII one, anything else two.
    static func columns(_ line: Substring) -> Int {
        line.unicodeScalars.reduce(0) { $0 + ($1.isASCII ? 1 : 2) }
    }

    @Test func gb18030KnownBytes() {
        #expect(GB18030.encode("可乐") == [0xBF, 0xC9, 0xC0, 0xD6])
        #expect(GB18030.encode("¥") == [0x81, 0x30, 0x84, 0x36])            // four-byte area
        #expect(GB18030.encode("￥") == [0xA3, 0xA4])
        #expect(GB18030.encode("𠀀") == [0x95, 0x32, 0x82, 0x36])           // U+20000, supplementary plane
        #expect(GB18030.encode("𝄞") == [0x94, 0x32, 0xBE, 0x34])
        #expect(GB18030.encode("Tillyard 0-9 ~") == Array("Tillyard 0-9 ~".utf8))
        #expect(GB18030.encode("ḿ") == [0xA8, 0xBC])                        // the 2005 mapping
    }

    @Test func escPosFramesTheReceiptInChineseModeAndCuts() {
        for paper in PaperWidth.allCases {
            let bytes = ReceiptRenderer.escPos(Self.receipt(), paper: paper)
            // ESC @, font A, FS &, then the drawer kick for the cash tender.
            #expect(Array(bytes.prefix(12)) == Self.prefix + Self.drawerKick)
            #expect(Array(bytes.suffix(6)) == Self.cut)
            #expect(bytes.contains([0xBF, 0xC9, 0xBF, 0xDA, 0xBF, 0xC9, 0xC0, 0xD6]))  // 可口可乐
            // Store name centred, bold, double size.
            #expect(bytes.contains([0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01, 0x1D, 0x21, 0x11] + GB18030.encode("莲花超市")))
            #expect(bytes.contains(GB18030.encode("1.532kg x 12.80/kg")))
            #expect(!bytes.contains(GB18030.encode("重印")))
        }
    }

    @Test func drawerOpensOnlyForCashOriginals() {
        let card = ReceiptTender(kind: .card, amount: 2372, maskedPan: "6222 **** **** 1234", authCode: "123456", rrn: "501234567890")
        let cardOnly = ReceiptRenderer.escPos(Self.receipt(tenders: [card]), paper: .mm58)
        #expect(Array(cardOnly.prefix(7)) == Self.prefix)
        #expect(!cardOnly.contains(Self.drawerKick))

        let copy = ReceiptRenderer.escPos(Self.receipt(copy: true), paper: .mm58)
        #expect(!copy.contains(Self.drawerKick))
        #expect(copy.contains([0x1D, 0x21, 0x11] + GB18030.encode("COPY 重印")))

        let mixed = ReceiptRenderer.escPos(Self.receipt(tenders: [card, ReceiptTender(kind: .cash, amount: 0, tendered: 5000)]), paper: .mm80)
        #expect(mixed.contains(Self.drawerKick))
        #expect(!ReceiptRenderer.escPos(Self.zReport, paper: .mm58).contains(Self.drawerKick))
    }

    @Test func controlCharactersInDataNeverReachThePrinter() {
        var receipt = Self.receipt(tenders: [ReceiptTender(kind: .alipay, amount: 2372)], link: nil)
        receipt.lines[0].name = "Cola\u{1B}p\u{0}\u{19}\u{FA}\u{1D}V\u{0}\u{202E}"
        let bytes = ReceiptRenderer.escPos(receipt, paper: .mm58)
        #expect(!bytes.contains([0x1B, 0x70]))
        #expect(bytes.contains(Array("Cola p".utf8)))
        // The only GS bytes are the renderer's own size and cut commands.
        let gsCommands = bytes.indices.filter { bytes[$0] == 0x1D }.map { bytes[$0 + 1] }
        #expect(Set(gsCommands).isSubset(of: [0x21, 0x56]))
    }

    @Test func textNeverRunsPastThePaper() {
        var receipt = Self.receipt(tenders: [
            ReceiptTender(kind: .wechat, amount: 1000, providerTransactionId: "4200001234202503011234567890"),
            ReceiptTender(kind: .unionpayQR, amount: 1372, reference: "UPQR-ref-with-a-long-name-and-中文-inside-it"),
        ])
        receipt.lines.append(ReceiptLine(name: String(repeating: "超长商品名称ABC", count: 9) + " Extra-long-English-word-without-any-break-at-all",
                                         sku: "X", quantity: 12_345_000, unitPrice: 9_999_999_99, gross: 123_449_999_877_55,
                                         discount: 1_000_000, discountLabel: "满100减10 Spend 100 save 10 on everything today", net: 1))
        receipt.headerLines.append(String(repeating: "很长的标题", count: 12))
        receipt.link = "https://pos.example.com/r/" + String(repeating: "a", count: 300)
        for language in ReceiptLanguage.allCases {
            receipt.language = language
            for paper in PaperWidth.allCases {
                let text = ReceiptRenderer.text(receipt, paper: paper)
                for line in text.split(separator: "\n") {
                    #expect(Self.columns(line) <= paper.columns, "\(paper) \(line)")
                }
                #expect(text.contains("4200001234202503011234567890"))
                let report = ReceiptRenderer.text(Self.zReport, paper: paper)
                for line in report.split(separator: "\n") { #expect(Self.columns(line) <= paper.columns) }
            }
        }
    }

    /// The whole 58 mm receipt, column for column: what the cashier hands over.
    @Test func textLayoutOf58mm() {
        let expected = """
                    莲花超市 徐汇店
                        莲花超市
               上海市徐汇区漕溪北路 88 号
                 客服热线 400-820-8820
            --------------------------------
            单号              R20250301-0042
            时间         2025-03-01 14:05:09
            门店                  S-LOTUS-XH
            收银机                    POS-03
            收银员                      王芳
            会员                 138****0000
            --------------------------------
            可口可乐
              2 x 3.50                  7.00
            Fuji apples 红富士苹果 特级
            Premium grade, Yantai, Shandong
            山东烟台
              1.532kg x 12.80/kg       19.61
              会员价 Member price      -2.00
            --------------------------------
            小计                       26.61
            优惠                       -2.00
            抹零                       -0.89
            合计                       23.72
            现金                       50.00
            实收                       50.00
            找零                       26.28
            税额 13%                    0.81
            税额 9%                     1.46
            --------------------------------
                   凭小票 7 日内退换
                       Thank you!
            https://pos.example.com/r/R20250
            301-0042
                    扫码查看电子小票
            """
        #expect(ReceiptRenderer.text(Self.receipt(), paper: .mm58) == expected + "\n")
    }

    @Test func refundsAndEnglishLabels() {
        var refund = Self.receipt(language: .en)
        refund.kind = .refund
        refund.originalReceiptNumber = "R20250228-0007"
        let text = ReceiptRenderer.text(refund, paper: .mm80)
        #expect(text.contains("退货 REFUND"))
        #expect(text.contains("Original No.") && text.contains("R20250228-0007"))
        #expect(text.contains("Refunded"))
        for label in ["Total", "Discount", "Rounding", "Change", "Cash", "Cashier", "Tax 13%", "Tax 9%"] {
            #expect(text.contains(label), "\(label)")
        }
        #expect(ReceiptRenderer.escPos(refund, paper: .mm80).contains(GB18030.encode("退货 REFUND")))
        #expect(!ReceiptRenderer.text(Self.receipt(), paper: .mm58).contains("REFUND"))
    }

    @Test func qrCodeOfTheLink() {
        let link = "https://pos.example.com/r/R20250301-0042"
        let data = Array(link.utf8)
        let bytes = ReceiptRenderer.escPos(Self.receipt(link: link), paper: .mm58)
        let expected: [UInt8] = [0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]   // model 2
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06]                          // module size 6
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]                          // level M
            + [0x1D, 0x28, 0x6B, UInt8(data.count + 3), 0x00, 0x31, 0x50, 0x30] + data  // store
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]                          // print
        #expect(bytes.contains(expected))
        let without = ReceiptRenderer.escPos(Self.receipt(link: nil), paper: .mm58)
        #expect(!without.contains([0x1D, 0x28, 0x6B]))
    }

    @Test func htmlIsEscapedStandaloneAndScriptFree() {
        var receipt = Self.receipt()
        receipt.lines[0].name = "<script>alert('x')</script> & \"cola\""
        receipt.link = "javascript:alert(1)"
        let html = ReceiptRenderer.html(receipt)
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"zh-CN\">"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;cola&quot;"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("style=") && !html.contains("<style"))
        #expect(!html.contains("href=\"javascript"))
        #expect(html.contains("<link rel=\"stylesheet\" href=\"/static/receipt.css\">"))
        #expect(html.contains("<h1>莲花超市 徐汇店</h1>"))
        #expect(html.contains("<tr class=\"strong\"><td>合计</td><td class=\"value\">23.72</td></tr>"))
        #expect(html.hasSuffix("</html>\n"))

        let linked = ReceiptRenderer.html(Self.receipt(copy: true, language: .en), stylesheet: nil)
        #expect(linked.contains("<a href=\"https://pos.example.com/r/R20250301-0042\">"))
        #expect(linked.contains("<p class=\"banner\">COPY 重印</p>"))
        #expect(linked.contains("<html lang=\"en\">") && !linked.contains("<link"))
    }

    @Test func zReportShowsExpectedCountedAndDifference() {
        let text = ReceiptRenderer.text(Self.zReport, paper: .mm58)
        let expected = """
                    莲花超市 徐汇店
                        莲花超市
                         Z 报表
            --------------------------------
            Z 号                         118
            班次                        2031
            门店                  S-LOTUS-XH
            收银机                    POS-03
            收银员                      王芳
            开班         2025-03-01 06:05:09
            交班         2025-03-01 14:05:09
            打印         2025-03-01 14:06:09
            --------------------------------
            备用金                    200.00
            销售 153 笔             12345.00
            退货 2 笔                 -39.90
            优惠                     -120.00
            抹零                       -4.20
            存入                        0.00
            取出                     -500.00
            --------------------------------
            现金
              应有                   3456.00
              实点                   3454.00
              差额                     -2.00
            微信支付
              应有                   6000.00
            --------------------------------
            收银员签字          ____________
            """
        #expect(text == expected + "\n")

        var english = Self.zReport
        english.language = .en
        english.copy = true
        english.tenders[0].difference = 150
        let bytes = ReceiptRenderer.escPos(english, paper: .mm80)
        #expect(Array(bytes.prefix(7)) == Self.prefix && Array(bytes.suffix(6)) == Self.cut)
        #expect(bytes.contains(GB18030.encode("COPY 重印")))
        let englishText = ReceiptRenderer.text(english, paper: .mm80)
        #expect(englishText.contains("Z REPORT") && englishText.contains("Expected") && englishText.contains("Counted"))
        #expect(englishText.contains("Difference") && englishText.contains("+1.50"))
        #expect(ReceiptRenderer.html(Self.zReport).contains("<td>差额</td><td class=\"value\">-2.00</td>"))
    }

    @Test func modelDecodesISO8601WithDefaults() throws {
        let json = """
            {"merchantName":"M","storeName":"S","storeCode":"C","receiptNumber":"1","issuedAt":"2025-03-01T06:05:09Z",
             "timeZone":"Asia/Shanghai","cashier":"c","register":"r","gross":100,"total":100,"lines":[],
             "tenders":[{"kind":"unionpay_qr","amount":100}]}
            """
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let receipt = try decoder.decode(Receipt.self, from: Data(json.utf8))
        #expect(receipt.language == .zh && receipt.kind == .sale && !receipt.copy && receipt.taxes.isEmpty)
        #expect(receipt.issuedAt == Self.issued && receipt.tenders[0].kind == .unionpayQR)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        #expect(try decoder.decode(Receipt.self, from: encoder.encode(Self.receipt())) == Self.receipt())
        #expect(TenderKind.allCases.map(\.rawValue) == ["cash", "card", "wechat", "alipay", "unionpay_qr", "stored_value", "points"])
    }
}
