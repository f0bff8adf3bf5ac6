import Foundation

/// Renders receipts and shift reports to ESC/POS printer bytes, plain text and HTML.
///
/// Pure: no clock, no I/O. Each receipt or report becomes one list of blocks (what it says), which the
/// three outputs lay out (how it looks), so a printed receipt, its text and the page behind its QR code
/// always agree.
public enum ReceiptRenderer {
    /// ESC/POS bytes for a thermal printer (GB18030 text, Chinese mode, QR code of the link, drawer kick
    /// when cash moved and this is not a copy, partial cut).
    public static func escPos(_ receipt: Receipt, paper: PaperWidth) -> [UInt8] {
        EscPos.bytes(document(receipt), paper: paper)
    }

    /// ESC/POS bytes of an X or Z report (never opens the drawer).
    public static func escPos(_ report: ShiftReport, paper: PaperWidth) -> [UInt8] {
        EscPos.bytes(document(report), paper: paper)
    }

    /// The receipt as UTF-8 text with the paper's line breaks (the link in place of its QR code).
    public static func text(_ receipt: Receipt, paper: PaperWidth) -> String {
        ReceiptLayout.text(document(receipt), columns: paper.columns)
    }

    /// An X or Z report as UTF-8 text with the paper's line breaks.
    public static func text(_ report: ShiftReport, paper: PaperWidth) -> String {
        ReceiptLayout.text(document(report), columns: paper.columns)
    }

    /// The receipt as a standalone printable page (what the customer's link opens). `stylesheet` is a
    /// same-origin address (default `defaultStylesheet`), or nil for a page without one.
    public static func html(_ receipt: Receipt, stylesheet: String? = ReceiptRenderer.defaultStylesheet) -> String {
        ReceiptHTML.page(document(receipt), stylesheet: stylesheet)
    }

    /// An X or Z report as a standalone printable page.
    public static func html(_ report: ShiftReport, stylesheet: String? = ReceiptRenderer.defaultStylesheet) -> String {
        ReceiptHTML.page(document(report), stylesheet: stylesheet)
    }

    /// Where the server serves the receipt pages' stylesheet (same origin, as the console's CSP requires).
    public static let defaultStylesheet = "/static/receipt.css"

    // MARK: - Receipts

    static let copyBanner = "COPY 重印"

    static func document(_ receipt: Receipt) -> ReceiptDocument {
        let t = Labels(receipt.language)
        var blocks = header(merchant: receipt.merchantName, store: receipt.storeName, copy: receipt.copy)
        if let address = receipt.storeAddress, !address.isEmpty { blocks.append(.centered(address)) }
        blocks += receipt.headerLines.map(ReceiptBlock.centered)
        switch receipt.kind {
        case .sale: break
        case .refund: blocks.append(.banner("退货 REFUND"))
        case .void: blocks.append(.banner("作废 VOID"))
        }

        blocks.append(.rule)
        blocks.append(.row(t("单号", "No."), receipt.receiptNumber))
        if let original = receipt.originalReceiptNumber {
            blocks.append(.row(t("原单号", "Original No."), original))
        }
        blocks.append(.row(t("时间", "Time"), localTime(receipt.issuedAt, timeZone: receipt.timeZone)))
        blocks += place(store: receipt.storeCode, register: receipt.register, cashier: receipt.cashier, t)
        if let member = receipt.member { blocks.append(.row(t("会员", "Member"), member)) }

        blocks.append(.rule)
        for line in receipt.lines {
            blocks.append(.text(line.name))
            blocks.append(.row(quantityAndPrice(line), amount(line.gross), indent: 2))
            if line.discount != 0 {
                blocks.append(.row(line.discountLabel ?? t("优惠", "Discount"), amount(-line.discount), indent: 2))
            }
        }

        blocks.append(.rule)
        blocks.append(.row(t("小计", "Subtotal"), amount(receipt.gross)))
        if receipt.discount != 0 { blocks.append(.row(t("优惠", "Discount"), amount(-receipt.discount))) }
        if receipt.rounding != 0 { blocks.append(.row(t("抹零", "Rounding"), amount(receipt.rounding))) }
        blocks.append(.row(t("合计", "Total"), amount(receipt.total), strong: true))
        for tender in receipt.tenders {
            blocks.append(.row(t.tender(tender.kind), amount(tender.tendered ?? tender.amount)))
            let references: [(String, String?)] = [
                (t("卡号", "Card"), tender.maskedPan), (t("授权码", "Auth code"), tender.authCode),
                (t("参考号", "RRN"), tender.rrn), (t("交易号", "Transaction"), tender.providerTransactionId),
                (t("凭证号", "Reference"), tender.reference),
            ]
            for case let (label, value?) in references { blocks.append(.row(label, value, indent: 2)) }
        }
        let received = receipt.tenders.reduce(Int64(0)) { $0 + ($1.tendered ?? $1.amount) }
        blocks.append(.row(receipt.kind == .sale ? t("实收", "Paid") : t("退款", "Refunded"), amount(received)))
        if receipt.change != 0 { blocks.append(.row(t("找零", "Change"), amount(receipt.change))) }
        for tax in receipt.taxes {
            blocks.append(.row("\(t("税额", "Tax")) \(percent(tax.rate))", amount(tax.amount)))
        }

        if !receipt.footerLines.isEmpty {
            blocks.append(.rule)
            blocks += receipt.footerLines.map(ReceiptBlock.centered)
        }
        if let link = receipt.link, !link.isEmpty {
            blocks.append(.qr(link, caption: t("扫码查看电子小票", "Scan to open this receipt")))
        }
        let cashMoved = receipt.tenders.contains { $0.kind == .cash }
        return ReceiptDocument(title: "\(receipt.storeName) \(receipt.receiptNumber)", language: receipt.language,
                               opensDrawer: cashMoved && !receipt.copy, blocks: blocks)
    }

    // MARK: - Shift reports

    static func document(_ report: ShiftReport) -> ReceiptDocument {
        let t = Labels(report.language)
        let name = report.kind == .z ? t("Z 报表", "Z REPORT") : t("X 报表", "X REPORT")
        var blocks = header(merchant: report.merchantName, store: report.storeName, copy: report.copy)
        blocks.append(.banner(name))

        blocks.append(.rule)
        if let number = report.zNumber { blocks.append(.row(t("Z 号", "Z No."), String(number))) }
        blocks.append(.row(t("班次", "Shift"), String(report.shiftNumber)))
        blocks += place(store: report.storeCode, register: report.register, cashier: report.cashier, t)
        blocks.append(.row(t("开班", "Opened"), localTime(report.openedAt, timeZone: report.timeZone)))
        blocks.append(.row(t("交班", "Closed"),
                           report.closedAt.map { localTime($0, timeZone: report.timeZone) } ?? t("未交班", "still open")))
        blocks.append(.row(t("打印", "Printed"), localTime(report.printedAt, timeZone: report.timeZone)))

        blocks.append(.rule)
        blocks.append(.row(t("备用金", "Opening float"), amount(report.openingFloat)))
        blocks.append(.row(t("销售 \(report.saleCount) 笔", "Sales (\(report.saleCount))"), amount(report.saleAmount)))
        blocks.append(.row(t("退货 \(report.refundCount) 笔", "Refunds (\(report.refundCount))"), amount(-report.refundAmount)))
        blocks.append(.row(t("优惠", "Discount"), amount(-report.discount)))
        blocks.append(.row(t("抹零", "Rounding"), amount(report.rounding)))
        blocks.append(.row(t("存入", "Cash in"), amount(report.cashIn)))
        blocks.append(.row(t("取出", "Cash out"), amount(-report.cashOut)))

        blocks.append(.rule)
        for tender in report.tenders {
            blocks.append(.text(t.tender(tender.kind)))
            blocks.append(.row(t("应有", "Expected"), amount(tender.expected), indent: 2))
            if let counted = tender.counted { blocks.append(.row(t("实点", "Counted"), amount(counted), indent: 2)) }
            if let difference = tender.difference {
                // An explicit + tells "over" from "short" at a glance.
                blocks.append(.row(t("差额", "Difference"), (difference > 0 ? "+" : "") + amount(difference), indent: 2, strong: difference != 0))
            }
        }
        if report.kind == .z {
            blocks.append(.rule)
            blocks.append(.row(t("收银员签字", "Cashier signature"), "____________"))
        }
        let number = report.zNumber.map { " Z\($0)" } ?? ""
        return ReceiptDocument(title: "\(report.storeName) \(name)\(number)", language: report.language,
                               opensDrawer: false, blocks: blocks)
    }

    // MARK: - Shared pieces

    /// The top of every document: the store's name large, the merchant under it, the copy mark.
    static func header(merchant: String, store: String, copy: Bool) -> [ReceiptBlock] {
        var blocks: [ReceiptBlock] = [.title(store)]
        if !merchant.isEmpty && merchant != store { blocks.append(.centered(merchant)) }
        if copy { blocks.append(.banner(copyBanner)) }
        return blocks
    }

    /// Where and by whom: store code, register, cashier.
    static func place(store: String, register: String, cashier: String, _ t: Labels) -> [ReceiptBlock] {
        [.row(t("门店", "Store"), store), .row(t("收银机", "Register"), register), .row(t("收银员", "Cashier"), cashier)]
    }

    /// Fen as yuan with two decimals ("12.50", "-0.08").
    static func amount(_ fen: Int64) -> String { Money(minorUnits: fen).decimalText }

    /// "2 x 3.50", "0.532kg x 12.80/kg": counted goods in pieces (three decimals only when a piece is split),
    /// weighed goods in kilograms with three decimals.
    static func quantityAndPrice(_ line: ReceiptLine) -> String {
        if line.weighed { return "\(milli(line.quantity))kg x \(amount(line.unitPrice))/kg" }
        let pieces = line.quantity % 1000 == 0 ? String(line.quantity / 1000) : milli(line.quantity)
        return "\(pieces) x \(amount(line.unitPrice))"
    }

    /// Milli-units with three decimals ("0.532", "-1.250").
    static func milli(_ value: Int64) -> String {
        let magnitude = value.magnitude
        let fraction = String(magnitude % 1000)
        return "\(value < 0 ? "-" : "")\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// Basis points as a percentage without trailing zeros: 1300 → "13%", 950 → "9.5%".
    static func percent(_ basisPoints: Int) -> String {
        let whole = basisPoints / 100, fraction = abs(basisPoints % 100)
        guard fraction != 0 else { return "\(whole)%" }
        let digits = fraction % 10 == 0 ? String(fraction / 10) : (fraction < 10 ? "0\(fraction)" : String(fraction))
        return "\(basisPoints < 0 && whole == 0 ? "-" : "")\(whole).\(digits)%"
    }

    /// "2025-03-01 14:05:09" in the store's time zone. An unknown zone id prints in UTC, marked so,
    /// rather than silently in the renderer's own zone.
    static func localTime(_ date: Date, timeZone identifier: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        let zone = TimeZone(identifier: identifier)
        calendar.timeZone = zone ?? TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : String(n) }
        return "\(c.year ?? 0)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)):\(two(c.second))"
            + (zone == nil ? " UTC" : "")
    }
}

/// The labels of a document in its language; data prints as given.
struct Labels {
    let language: ReceiptLanguage

    init(_ language: ReceiptLanguage) { self.language = language }

    /// The Chinese or the English label.
    func callAsFunction(_ zh: String, _ en: String) -> String { language == .zh ? zh : en }

    /// The name of a way to pay.
    func tender(_ kind: TenderKind) -> String {
        switch kind {
        case .cash: self("现金", "Cash")
        case .card: self("银行卡", "Card")
        case .wechat: self("微信支付", "WeChat Pay")
        case .alipay: self("支付宝", "Alipay")
        case .unionpayQR: self("云闪付", "UnionPay QR")
        case .storedValue: self("储值", "Stored value")
        case .points: self("积分抵扣", "Points")
        }
    }
}
