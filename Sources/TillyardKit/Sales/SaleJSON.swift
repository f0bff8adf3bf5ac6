import Foundation

/// Sales written as JSON by hand, byte for byte what `JSONEncoder` with sorted keys writes for
/// them: the stored document (dates as epoch milliseconds, slashes escaped), the API's form
/// (ISO 8601 dates, slashes as they are) and the journal link's lines and tenders.
///
/// Why: a completed sale was encoded three times by `JSONEncoder` (its journal content before the
/// transaction, its stored document inside the single writer, its response), about a sixth of
/// the server's time per sale. The journal link hashes the lines' and tenders' bytes, so they
/// must stay exactly the generic encoder's: every string this writer cannot prove plain (a quote,
/// a backslash, a control character, or a slash where slashes are escaped) is written by that
/// encoder, and `SaleJSONTests` compares the two forms over many sales.
public enum SaleJSON {
    /// How dates and slashes are written.
    public struct Style: Sendable {
        /// Dates as `JSONEncoder`'s `.millisecondsSince1970` (the stored documents) or as
        /// `Date.iso8601` strings (`WireJSON`, the API).
        public enum Dates: Sendable { case millis, iso8601 }
        public let dates: Dates
        /// Whether "/" is written "\/" (`JSONEncoder`'s default; `WireJSON` turns it off).
        public let escapesSlashes: Bool

        /// The stored document's form (`JSONColumn`): sorted keys, epoch-millisecond dates.
        public static let column = Style(dates: .millis, escapesSlashes: true)
        /// The API's form (`WireJSON.encoder()`): sorted keys, ISO 8601 dates, slashes unescaped.
        public static let wire = Style(dates: .iso8601, escapesSlashes: false)
        /// The journal link's lines and tenders (sorted keys; they hold no dates).
        public static let journal = column
    }

    /// `sale` as JSON; `lines` and `tenders` are its lists already written in `style` (the journal
    /// content, encoded before the transaction) or nil to write them here.
    public static func encode(_ sale: Sale, style: Style, lines: String? = nil, tenders: String? = nil) -> String {
        var out = Writer(style: style)
        out.raw("{")
        if let approval = sale.approval {
            out.key("approval", first: true)
            out.raw("{")
            out.key("approver", first: true); out.string(approval.approver)
            out.key("approverId"); out.string(approval.approverId.rawValue)
            out.key("at"); out.date(approval.at)
            out.key("reason"); out.string(approval.reason.rawValue)
            out.raw("}")
        }
        out.key("cashier", first: sale.approval == nil); out.string(sale.cashier)
        out.key("cashierId"); out.string(sale.cashierId.rawValue)
        out.key("change"); out.integer(sale.change)
        out.key("discount"); out.integer(sale.discount)
        out.key("exceptions")
        out.raw("[")
        for (index, text) in sale.exceptions.enumerated() {
            if index > 0 { out.raw(",") }
            out.string(text)
        }
        out.raw("]")
        out.key("gross"); out.integer(sale.gross)
        if let hash = sale.hash { out.key("hash"); out.string(hash) }
        out.key("id"); out.string(sale.id.rawValue)
        out.key("kind"); out.string(sale.kind.rawValue)
        out.key("lines")
        if let lines { out.raw(lines) } else { out.lines(sale.lines) }
        if let member = sale.memberId { out.key("memberId"); out.string(member) }
        out.key("merchantId"); out.string(sale.merchantId.rawValue)
        if let note = sale.note { out.key("note"); out.string(note) }
        out.key("orderDiscount"); out.integer(sale.orderDiscount)
        if let original = sale.originalSaleId { out.key("originalSaleId"); out.string(original.rawValue) }
        if let reason = sale.reason { out.key("reason"); out.string(reason.rawValue) }
        if let receipt = sale.receiptNumber { out.key("receiptNumber"); out.integer(receipt) }
        out.key("recordedAt"); out.date(sale.recordedAt)
        out.key("registerId"); out.string(sale.registerId)
        if let seq = sale.registerSeq { out.key("registerSeq"); out.integer(seq) }
        out.key("rounding"); out.integer(sale.rounding)
        if let shift = sale.shiftId { out.key("shiftId"); out.string(shift.rawValue) }
        out.key("soldAt"); out.date(sale.soldAt)
        out.key("status"); out.string(sale.status.rawValue)
        out.key("storeId"); out.string(sale.storeId.rawValue)
        out.key("tenders")
        if let tenders { out.raw(tenders) } else { out.tenders(sale.tenders) }
        out.key("total"); out.integer(sale.total)
        out.key("version"); out.integer(Int64(sale.version))
        out.raw("}")
        return out.text
    }

    /// The lines as JSON in `style`.
    public static func lines(_ lines: [SaleLine], style: Style = .journal) -> String {
        var out = Writer(style: style)
        out.lines(lines)
        return out.text
    }

    /// The tenders as JSON in `style`.
    public static func tenders(_ tenders: [Tender], style: Style = .journal) -> String {
        var out = Writer(style: style)
        out.tenders(tenders)
        return out.text
    }

    /// Appends JSON pieces to a byte buffer.
    private struct Writer {
        let style: Style
        var bytes: [UInt8] = []

        init(style: Style) {
            self.style = style
            bytes.reserveCapacity(1_024)
        }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

        /// `"name":`, after a comma unless it is the object's first member (keys here are plain ASCII).
        mutating func key(_ name: StaticString, first: Bool = false) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(UInt8(ascii: ":"))
        }

        mutating func integer(_ value: Int64) { raw(String(value)) }

        mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }

        mutating func date(_ date: Date) {
            switch style.dates {
            case .millis:
                // `.millisecondsSince1970` writes this double; its shortest form is what Swift prints.
                let millis = 1000.0 * date.timeIntervalSince1970
                var text = "\(millis)"
                if text.hasSuffix(".0") { text.removeLast(2) }
                raw(text)
            case .iso8601:
                string(date.iso8601)
            }
        }

        /// A string: copied between quotes when no byte needs escaping, else written by the generic
        /// encoder (so escapes are exactly its own).
        mutating func string(_ text: String) {
            var plain = true
            for byte in text.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                || (byte == UInt8(ascii: "/") && style.escapesSlashes) {
                plain = false
                break
            }
            guard plain else {
                bytes.append(contentsOf: Self.escaped(text, slashes: style.escapesSlashes).utf8)
                return
            }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
        }

        mutating func lines(_ lines: [SaleLine]) {
            raw("[")
            for (index, line) in lines.enumerated() {
                if index > 0 { raw(",") }
                raw("{")
                key("catalogChanged", first: true); bool(line.catalogChanged)
                key("discount"); integer(line.discount)
                key("gross"); integer(line.gross)
                key("manualDiscount"); integer(line.manualDiscount)
                key("name"); string(line.name)
                key("orderDiscountShare"); integer(line.orderDiscountShare)
                if let original = line.originalLine { key("originalLine"); integer(Int64(original)) }
                key("productId"); string(line.productId.rawValue)
                if let promotion = line.promotionId { key("promotionId"); string(promotion.rawValue) }
                if let name = line.promotionName { key("promotionName"); string(name) }
                key("quantity"); integer(line.quantity)
                key("sku"); string(line.sku)
                key("taxRate"); integer(Int64(line.taxRate))
                key("unitPrice"); integer(line.unitPrice)
                key("weighed"); bool(line.weighed)
                raw("}")
            }
            raw("]")
        }

        mutating func tenders(_ tenders: [Tender]) {
            raw("[")
            for (index, tender) in tenders.enumerated() {
                if index > 0 { raw(",") }
                raw("{")
                key("amount", first: true); integer(tender.amount)
                if let code = tender.authCode { key("authCode"); string(code) }
                key("kind"); string(tender.kind.rawValue)
                if let pan = tender.maskedPan { key("maskedPan"); string(pan) }
                if let id = tender.providerTransactionId { key("providerTransactionId"); string(id) }
                if let reference = tender.reference { key("reference"); string(reference) }
                if let rrn = tender.rrn { key("rrn"); string(rrn) }
                if let tendered = tender.tendered { key("tendered"); integer(tendered) }
                raw("}")
            }
            raw("]")
        }

        /// A string as `JSONEncoder` writes it (a top-level fragment).
        static func escaped(_ text: String, slashes: Bool) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = slashes ? [.sortedKeys] : [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? WireJSON.quoted(text)
        }
    }
}
