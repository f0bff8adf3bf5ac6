import Foundation

/// The one model every receipt output (ESC/POS, text, HTML) is rendered from.
///
/// Pure data: the sales domain maps a finished sale onto it, so the renderers never read a database
/// and a reprint renders exactly what was printed the first time (plus the copy mark).
/// Money is in fen (`Int64`), quantities in milli-units.
public struct Receipt: Codable, Sendable, Equatable {
    public var merchantName: String
    public var storeName: String
    public var storeCode: String
    public var storeAddress: String?
    /// Lines printed under the store's name (hotline, tax id, a greeting).
    public var headerLines: [String]
    /// Lines printed at the end (returns policy, thanks).
    public var footerLines: [String]
    public var receiptNumber: String
    public var kind: ReceiptKind
    /// The receipt a refund or void refers to.
    public var originalReceiptNumber: String?
    public var issuedAt: Date
    /// IANA time zone id of the store ("Asia/Shanghai"): times print in the store's local time,
    /// whatever zone the renderer runs in.
    public var timeZone: String
    public var cashier: String
    public var register: String
    public var lines: [ReceiptLine]
    /// Sum of the lines' gross amounts.
    public var gross: Int64
    /// Sum of the discounts (positive: money taken off).
    public var discount: Int64
    /// Signed adjustment added to reach `total` (−8 when 0.08 is rounded away, 抹零).
    public var rounding: Int64
    /// What the customer owes: gross − discount + rounding.
    public var total: Int64
    public var tenders: [ReceiptTender]
    /// Cash handed back.
    public var change: Int64
    /// VAT included in the total, by rate.
    public var taxes: [ReceiptTax]
    /// The member's masked number or name, when a member was recognised.
    public var member: String?
    /// The address where the customer opens this receipt (printed as a QR code).
    public var link: String?
    /// A reprint: marked "COPY 重印" and never opens the cash drawer.
    public var copy: Bool
    public var language: ReceiptLanguage

    /// A receipt; the fields a plain sale leaves empty have defaults.
    public init(merchantName: String, storeName: String, storeCode: String, storeAddress: String? = nil,
                headerLines: [String] = [], footerLines: [String] = [], receiptNumber: String,
                kind: ReceiptKind = .sale, originalReceiptNumber: String? = nil, issuedAt: Date, timeZone: String,
                cashier: String, register: String, lines: [ReceiptLine], gross: Int64, discount: Int64 = 0,
                rounding: Int64 = 0, total: Int64, tenders: [ReceiptTender], change: Int64 = 0,
                taxes: [ReceiptTax] = [], member: String? = nil, link: String? = nil, copy: Bool = false,
                language: ReceiptLanguage = .zh) {
        self.merchantName = merchantName
        self.storeName = storeName
        self.storeCode = storeCode
        self.storeAddress = storeAddress
        self.headerLines = headerLines
        self.footerLines = footerLines
        self.receiptNumber = receiptNumber
        self.kind = kind
        self.originalReceiptNumber = originalReceiptNumber
        self.issuedAt = issuedAt
        self.timeZone = timeZone
        self.cashier = cashier
        self.register = register
        self.lines = lines
        self.gross = gross
        self.discount = discount
        self.rounding = rounding
        self.total = total
        self.tenders = tenders
        self.change = change
        self.taxes = taxes
        self.member = member
        self.link = link
        self.copy = copy
        self.language = language
    }
}

extension Receipt {
    /// Decodes a receipt; the fields a plain sale usually leaves out (header and footer lines, kind, taxes,
    /// discount, rounding, change, copy, language) may be absent and take the initialiser's defaults,
    /// so a hand-written receipt file stays short.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            merchantName: try c.decode(String.self, forKey: .merchantName),
            storeName: try c.decode(String.self, forKey: .storeName),
            storeCode: try c.decode(String.self, forKey: .storeCode),
            storeAddress: try c.decodeIfPresent(String.self, forKey: .storeAddress),
            headerLines: try c.decodeIfPresent([String].self, forKey: .headerLines) ?? [],
            footerLines: try c.decodeIfPresent([String].self, forKey: .footerLines) ?? [],
            receiptNumber: try c.decode(String.self, forKey: .receiptNumber),
            kind: try c.decodeIfPresent(ReceiptKind.self, forKey: .kind) ?? .sale,
            originalReceiptNumber: try c.decodeIfPresent(String.self, forKey: .originalReceiptNumber),
            issuedAt: try c.decode(Date.self, forKey: .issuedAt),
            timeZone: try c.decode(String.self, forKey: .timeZone),
            cashier: try c.decode(String.self, forKey: .cashier),
            register: try c.decode(String.self, forKey: .register),
            lines: try c.decode([ReceiptLine].self, forKey: .lines),
            gross: try c.decode(Int64.self, forKey: .gross),
            discount: try c.decodeIfPresent(Int64.self, forKey: .discount) ?? 0,
            rounding: try c.decodeIfPresent(Int64.self, forKey: .rounding) ?? 0,
            total: try c.decode(Int64.self, forKey: .total),
            tenders: try c.decode([ReceiptTender].self, forKey: .tenders),
            change: try c.decodeIfPresent(Int64.self, forKey: .change) ?? 0,
            taxes: try c.decodeIfPresent([ReceiptTax].self, forKey: .taxes) ?? [],
            member: try c.decodeIfPresent(String.self, forKey: .member),
            link: try c.decodeIfPresent(String.self, forKey: .link),
            copy: try c.decodeIfPresent(Bool.self, forKey: .copy) ?? false,
            language: try c.decodeIfPresent(ReceiptLanguage.self, forKey: .language) ?? .zh)
    }
}

/// What a receipt records: a sale, a refund of an earlier sale, or the void of one.
public enum ReceiptKind: String, Codable, Sendable, CaseIterable {
    case sale
    case refund
    case void
}

/// The language of a receipt's labels (the data itself prints as given).
public enum ReceiptLanguage: String, Codable, Sendable, CaseIterable {
    case zh
    case en
}

/// One sold (or refunded) line.
public struct ReceiptLine: Codable, Sendable, Equatable {
    public var name: String
    public var sku: String
    /// Milli-units: 1000 is one piece, or one kilogram of weighed goods.
    public var quantity: Int64
    /// Weighed goods print their quantity in kilograms with three decimals.
    public var weighed: Bool
    /// Fen per piece, or per kilogram of weighed goods.
    public var unitPrice: Int64
    public var gross: Int64
    public var discount: Int64
    /// The promotion's name, printed beside the discount.
    public var discountLabel: String?
    public var net: Int64

    /// A line; counted goods without a promotion need no weighed flag or discount.
    public init(name: String, sku: String, quantity: Int64, weighed: Bool = false, unitPrice: Int64, gross: Int64,
                discount: Int64 = 0, discountLabel: String? = nil, net: Int64) {
        self.name = name
        self.sku = sku
        self.quantity = quantity
        self.weighed = weighed
        self.unitPrice = unitPrice
        self.gross = gross
        self.discount = discount
        self.discountLabel = discountLabel
        self.net = net
    }
}

/// One payment of a receipt. Card and wallet references are printed so a dispute can be traced;
/// a PAN only ever arrives masked.
public struct ReceiptTender: Codable, Sendable, Equatable {
    public var kind: TenderKind
    /// The part of the total this tender paid, in fen.
    public var amount: Int64
    /// Cash handed over (for cash, when more than `amount`).
    public var tendered: Int64?
    public var maskedPan: String?
    public var authCode: String?
    /// Retrieval reference number of a card payment.
    public var rrn: String?
    /// The wallet's (WeChat Pay, Alipay, UnionPay) transaction id.
    public var providerTransactionId: String?
    /// Any other reference (stored-value card number, voucher).
    public var reference: String?

    /// A tender; only what the payment method has is given.
    public init(kind: TenderKind, amount: Int64, tendered: Int64? = nil, maskedPan: String? = nil, authCode: String? = nil,
                rrn: String? = nil, providerTransactionId: String? = nil, reference: String? = nil) {
        self.kind = kind
        self.amount = amount
        self.tendered = tendered
        self.maskedPan = maskedPan
        self.authCode = authCode
        self.rrn = rrn
        self.providerTransactionId = providerTransactionId
        self.reference = reference
    }
}

/// VAT included in a receipt's total at one rate.
public struct ReceiptTax: Codable, Sendable, Equatable {
    /// Basis points: 1300 is 13%.
    public var rate: Int
    /// Fen of tax included in the total.
    public var amount: Int64

    /// Tax at `rate` basis points.
    public init(rate: Int, amount: Int64) {
        self.rate = rate
        self.amount = amount
    }
}

/// A shift report: X (a reading during the shift) or Z (the numbered, immutable report that closes it).
/// Rendered with the same machinery as receipts, so a Z report reprints exactly, marked as a copy.
public struct ShiftReport: Codable, Sendable, Equatable {
    public var merchantName: String
    public var storeName: String
    public var storeCode: String
    public var register: String
    public var cashier: String
    public var kind: ShiftReportKind
    /// The Z report's number in the register's unbroken sequence (nil for X reports).
    public var zNumber: Int?
    public var shiftNumber: Int
    public var openedAt: Date
    /// When the shift closed (nil while it is open, as on an X report).
    public var closedAt: Date?
    public var printedAt: Date
    /// IANA time zone id of the store.
    public var timeZone: String
    /// Cash in the drawer when the shift opened.
    public var openingFloat: Int64
    public var saleCount: Int
    /// Total of the shift's sales, in fen.
    public var saleAmount: Int64
    public var refundCount: Int
    /// Total refunded, in fen (positive; printed as money going out).
    public var refundAmount: Int64
    /// Discounts given (positive).
    public var discount: Int64
    /// Sum of the receipts' signed rounding adjustments.
    public var rounding: Int64
    /// Cash put into the drawer during the shift (not from sales).
    public var cashIn: Int64
    /// Cash taken out of the drawer during the shift (pick-ups, not refunds; positive).
    public var cashOut: Int64
    public var tenders: [ShiftTenderLine]
    public var copy: Bool
    public var language: ReceiptLanguage

    /// A shift report; the movements a quiet shift did not have default to zero.
    public init(merchantName: String, storeName: String, storeCode: String, register: String, cashier: String,
                kind: ShiftReportKind, zNumber: Int? = nil, shiftNumber: Int, openedAt: Date, closedAt: Date? = nil,
                printedAt: Date, timeZone: String, openingFloat: Int64 = 0, saleCount: Int, saleAmount: Int64,
                refundCount: Int = 0, refundAmount: Int64 = 0, discount: Int64 = 0, rounding: Int64 = 0,
                cashIn: Int64 = 0, cashOut: Int64 = 0, tenders: [ShiftTenderLine], copy: Bool = false,
                language: ReceiptLanguage = .zh) {
        self.merchantName = merchantName
        self.storeName = storeName
        self.storeCode = storeCode
        self.register = register
        self.cashier = cashier
        self.kind = kind
        self.zNumber = zNumber
        self.shiftNumber = shiftNumber
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.printedAt = printedAt
        self.timeZone = timeZone
        self.openingFloat = openingFloat
        self.saleCount = saleCount
        self.saleAmount = saleAmount
        self.refundCount = refundCount
        self.refundAmount = refundAmount
        self.discount = discount
        self.rounding = rounding
        self.cashIn = cashIn
        self.cashOut = cashOut
        self.tenders = tenders
        self.copy = copy
        self.language = language
    }
}

/// X: a reading that leaves the shift open; Z: the report that closes the shift.
public enum ShiftReportKind: String, Codable, Sendable, CaseIterable {
    case x
    case z
}

/// One tender's takings in a shift: what the register expects, what was counted at the close, and the
/// difference (counted − expected; negative when short).
public struct ShiftTenderLine: Codable, Sendable, Equatable {
    public var kind: TenderKind
    public var expected: Int64
    public var counted: Int64?
    public var difference: Int64?

    /// A tender's line; `counted` and `difference` stay nil until the drawer is counted.
    public init(kind: TenderKind, expected: Int64, counted: Int64? = nil, difference: Int64? = nil) {
        self.kind = kind
        self.expected = expected
        self.counted = counted
        self.difference = difference
    }
}
