import Crypto
import Foundation

/// Tag for sale ids.
public enum SaleTag {}
/// Id of a sale, refund or open order: a UUIDv7 the register makes, so an upload can be repeated safely.
public typealias SaleID = Identifier<SaleTag>

/// A sale, or a refund of an earlier sale (both take a receipt number from the same gap-free sequence).
public enum SaleKind: String, Codable, Sendable, CaseIterable {
    case sale
    case refund
}

/// Where an order stands: open (held at the register, e.g. waiting for a QR payment), completed, or voided.
public enum SaleStatus: String, Codable, Sendable, CaseIterable {
    case open
    case completed
    case voided
}

/// Why a refund, void or over-limit discount was done: a fixed list, so reports can count them.
public enum SaleReason: String, Codable, Sendable, CaseIterable {
    case customerReturn = "customer_return"
    case damaged
    case wrongItem = "wrong_item"
    case priceAdjustment = "price_adjustment"
    case customerLeft = "customer_left"
    case cashierError = "cashier_error"
    case loyalty
    case other
}

/// One line of a sale, as the customer paid it.
public struct SaleLine: Codable, Sendable, Equatable {
    public var productId: ProductID
    public var sku: String
    public var name: String
    /// Milli-units: 1000 is one piece, or one kilogram of weighed goods.
    public var quantity: Int64
    public var weighed: Bool
    /// Tax-included price per piece or kilogram, fen, as charged.
    public var unitPrice: Int64
    /// List amount, fen.
    public var gross: Int64
    /// Promotion discount, fen.
    public var discount: Int64
    public var promotionId: PromotionID?
    public var promotionName: String?
    /// Discount the cashier gave on this line, fen.
    public var manualDiscount: Int64
    /// This line's share of the order discount, fen (shares add up to the order discount exactly).
    public var orderDiscountShare: Int64
    public var taxRate: Int
    /// The register charged a price that is no longer the catalog's, because the catalog changed after the sale.
    public var catalogChanged: Bool
    /// On a refund: the index of the line of the original sale it gives back.
    public var originalLine: Int?

    /// What the customer paid for the line, fen.
    public var net: Int64 { gross - discount - manualDiscount - orderDiscountShare }

    public init(productId: ProductID, sku: String, name: String, quantity: Int64, weighed: Bool, unitPrice: Int64, gross: Int64,
                discount: Int64, promotionId: PromotionID?, promotionName: String?, manualDiscount: Int64, orderDiscountShare: Int64,
                taxRate: Int, catalogChanged: Bool, originalLine: Int? = nil) {
        self.productId = productId
        self.sku = sku
        self.name = name
        self.quantity = quantity
        self.weighed = weighed
        self.unitPrice = unitPrice
        self.gross = gross
        self.discount = discount
        self.promotionId = promotionId
        self.promotionName = promotionName
        self.manualDiscount = manualDiscount
        self.orderDiscountShare = orderDiscountShare
        self.taxRate = taxRate
        self.catalogChanged = catalogChanged
        self.originalLine = originalLine
    }
}

/// A manager's approval given at the till (supervisor override), recorded with the sale.
public struct Approval: Codable, Sendable, Equatable {
    public var approverId: UserID
    public var approver: String
    public var reason: SaleReason
    public var at: Date

    public init(approverId: UserID, approver: String, reason: SaleReason, at: Date) {
        self.approverId = approverId
        self.approver = approver
        self.reason = reason
        self.at = at
    }
}

/// A sale or refund: an entry of the store's journal once completed (immutable from then on).
public struct Sale: Codable, Sendable, Equatable {
    public var id: SaleID
    public var kind: SaleKind
    public var status: SaleStatus
    public var merchantId: OrgID
    public var storeId: OrgID
    /// The register (browser register or terminal) that made it, and its sequence number there.
    public var registerId: String
    public var registerSeq: Int64?
    public var shiftId: ShiftID?
    /// Gap-free per store, given when the sale completes.
    public var receiptNumber: Int64?
    public var cashierId: UserID
    public var cashier: String
    /// When the register made the sale (may be long before the upload, offline).
    public var soldAt: Date
    /// When the server stored it.
    public var recordedAt: Date
    public var lines: [SaleLine]
    /// Discount the cashier gave on the whole order, fen (spread over the lines' `orderDiscountShare`).
    public var orderDiscount: Int64
    /// Sum of line list amounts.
    public var gross: Int64
    /// Every discount: promotions, manual line discounts and the order discount.
    public var discount: Int64
    /// Cash rounding (negative when rounded in the customer's favour).
    public var rounding: Int64
    /// What the customer paid (sale) or got back (refund), fen.
    public var total: Int64
    public var tenders: [Tender]
    public var change: Int64
    public var memberId: String?
    /// The sale a refund gives money back for.
    public var originalSaleId: SaleID?
    public var reason: SaleReason?
    public var note: String?
    public var approval: Approval?
    /// Rules the sale broke but was kept anyway (an offline sale is paid for; it is recorded and flagged, never dropped).
    public var exceptions: [String]
    /// Link of the store's journal chain: SHA-256 over the previous link and this entry.
    public var hash: String?
    public var version: Int

    public init(id: SaleID, kind: SaleKind, status: SaleStatus, merchantId: OrgID, storeId: OrgID, registerId: String, registerSeq: Int64?,
                shiftId: ShiftID?, receiptNumber: Int64?, cashierId: UserID, cashier: String, soldAt: Date, recordedAt: Date,
                lines: [SaleLine], orderDiscount: Int64, gross: Int64, discount: Int64, rounding: Int64, total: Int64, tenders: [Tender],
                change: Int64, memberId: String?, originalSaleId: SaleID?, reason: SaleReason?, note: String?, approval: Approval?,
                exceptions: [String], hash: String?, version: Int) {
        self.id = id
        self.kind = kind
        self.status = status
        self.merchantId = merchantId
        self.storeId = storeId
        self.registerId = registerId
        self.registerSeq = registerSeq
        self.shiftId = shiftId
        self.receiptNumber = receiptNumber
        self.cashierId = cashierId
        self.cashier = cashier
        self.soldAt = soldAt
        self.recordedAt = recordedAt
        self.lines = lines
        self.orderDiscount = orderDiscount
        self.gross = gross
        self.discount = discount
        self.rounding = rounding
        self.total = total
        self.tenders = tenders
        self.change = change
        self.memberId = memberId
        self.originalSaleId = originalSaleId
        self.reason = reason
        self.note = note
        self.approval = approval
        self.exceptions = exceptions
        self.hash = hash
        self.version = version
    }
}

/// A tender as the register sends it: cash gives what was handed over, others give their amount.
public struct TenderInput: Codable, Sendable, Equatable {
    public var kind: TenderKind
    public var amount: Int64?
    public var tendered: Int64?
    public var maskedPan: String?
    public var authCode: String?
    public var rrn: String?
    public var providerTransactionId: String?
    public var reference: String?

    public init(kind: TenderKind, amount: Int64? = nil, tendered: Int64? = nil, maskedPan: String? = nil, authCode: String? = nil,
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

/// The settled payment of an order: tenders with their amounts, cash rounding, total and change.
public struct Settlement: Sendable, Equatable {
    public var tenders: [Tender]
    public var rounding: Int64
    public var total: Int64
    public var change: Int64
}

/// The pure rules of selling: settlement, cash rounding, discount spreading, refund limits, masked PANs
/// and the journal hash. No clock, no I/O.
public enum SaleRules {
    /// Most lines one sale may have (a typo guard, far beyond a supermarket trolley).
    public static let maxLines = 500
    /// Most tenders one sale may have.
    public static let maxTenders = 10

    /// Settles `due` fen with the tenders: non-cash tenders pay their amounts, cash pays the rest
    /// rounded by the store's rule, and change is what cash handed over exceeds that.
    public static func settle(due: Int64, tenders input: [TenderInput], rounding rule: CashRounding) throws -> Settlement {
        guard !input.isEmpty else { throw DomainError.invalid("tenders", "give at least one tender") }
        guard input.count <= maxTenders else { throw DomainError.invalid("tenders", "at most \(maxTenders) tenders") }
        var nonCash: [Tender] = []
        var cashGiven: Int64 = 0
        var hasCash = false
        for (index, tender) in input.enumerated() {
            let field = "tenders.\(index)"
            if tender.kind == .cash {
                guard let given = tender.tendered ?? tender.amount, given >= 0 else {
                    throw DomainError.invalid("\(field).tendered", "give the cash handed over")
                }
                guard tender.maskedPan == nil, tender.providerTransactionId == nil else {
                    throw DomainError.invalid(field, "cash carries no card or provider details")
                }
                hasCash = true
                cashGiven += given
                continue
            }
            guard let amount = tender.amount, amount > 0 else { throw DomainError.invalid("\(field).amount", "must be more than 0") }
            guard tender.tendered == nil else { throw DomainError.invalid("\(field).tendered", "only cash has an amount handed over") }
            nonCash.append(try checked(tender, amount: amount, field: field))
        }
        let nonCashTotal = nonCash.reduce(0) { $0 + $1.amount }
        guard nonCashTotal <= due else {
            throw DomainError.invalid("tenders", "card and wallet payments (\(Money(minorUnits: nonCashTotal))) exceed the amount due (\(Money(minorUnits: due)))")
        }
        guard hasCash else {
            guard nonCashTotal == due else {
                throw DomainError.invalid("tenders", "the tenders pay \(Money(minorUnits: nonCashTotal)) of \(Money(minorUnits: due))")
            }
            return Settlement(tenders: nonCash, rounding: 0, total: due, change: 0)
        }
        let cashDue = rule.apply(due - nonCashTotal)
        guard cashGiven >= cashDue else {
            throw DomainError.invalid("tenders", "cash handed over is \(Money(minorUnits: cashDue - cashGiven)) short of \(Money(minorUnits: cashDue))")
        }
        let rounding = cashDue - (due - nonCashTotal)
        var tenders = nonCash
        tenders.append(Tender(kind: .cash, amount: cashDue, tendered: cashGiven))
        return Settlement(tenders: tenders, rounding: rounding, total: due + rounding, change: cashGiven - cashDue)
    }

    /// A non-cash tender with its details checked: cards need a masked PAN (never a full one) and an
    /// auth code; QR wallets the provider's transaction id; stored value a member or card reference.
    static func checked(_ input: TenderInput, amount: Int64, field: String) throws -> Tender {
        var tender = Tender(kind: input.kind, amount: amount)
        switch input.kind {
        case .card:
            guard let pan = input.maskedPan else { throw DomainError.invalid("\(field).maskedPan", "a card payment needs the masked card number") }
            tender.maskedPan = try maskedPan(pan, field: "\(field).maskedPan")
            tender.authCode = try code(input.authCode, field: "\(field).authCode", required: true)
            tender.rrn = try code(input.rrn, field: "\(field).rrn", required: false)
        case .wechat, .alipay, .unionpayQR:
            tender.providerTransactionId = try code(input.providerTransactionId, field: "\(field).providerTransactionId", required: true, max: 64)
        case .storedValue:
            tender.reference = try code(input.reference, field: "\(field).reference", required: true, max: 64)
        case .points:
            tender.reference = try code(input.reference, field: "\(field).reference", required: false, max: 64)
        case .cash:
            break
        }
        return tender
    }

    static func code(_ raw: String?, field: String, required: Bool, max: Int = 32) throws -> String? {
        guard let value = raw?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            if required { throw DomainError.invalid(field, "is required") }
            return nil
        }
        guard value.count <= max, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DomainError.invalid(field, "must be up to \(max) letters or digits")
        }
        return value
    }

    /// A card number as printed on a terminal slip: digits and mask characters, at most the first 6
    /// and the last 4 digits visible (PCI DSS 3.4). A full PAN is refused, never stored.
    public static func maskedPan(_ raw: String, field: String = "maskedPan") throws -> String {
        let compact = raw.filter { $0 != " " && $0 != "-" }
        let masks: Set<Character> = ["*", "X", "x", "•"]
        let normal = String(compact.map { masks.contains($0) ? "*" : $0 })
        guard (4...19).contains(normal.count), normal.allSatisfy({ $0 == "*" || ($0.isASCII && $0.isNumber) }) else {
            throw DomainError.invalid(field, "must be a masked card number like 622202******1234")
        }
        let characters = Array(normal)
        guard let firstMask = characters.firstIndex(of: "*") else {
            // Only "last four" may come without masks.
            guard characters.count == 4 else { throw DomainError.invalid(field, "must be masked: never send a full card number") }
            return "****" + normal
        }
        let lastMask = characters.lastIndex(of: "*")!
        let lead = firstMask
        let tail = characters.count - 1 - lastMask
        let middleDigits = characters[firstMask...lastMask].contains { $0 != "*" }
        guard lead <= 6, tail <= 4, !middleDigits else {
            throw DomainError.invalid(field, "may show at most the first 6 and the last 4 digits")
        }
        return normal
    }

    /// Spreads an order discount over lines in proportion to what each line still costs; the
    /// remainder fen go to the largest lines first, so the shares add up exactly.
    public static func spread(_ discount: Int64, over amounts: [Int64]) -> [Int64] {
        let base = amounts.reduce(0, +)
        guard discount > 0, base > 0 else { return amounts.map { _ in 0 } }
        var shares = amounts.map { $0 * discount / base }
        var left = discount - shares.reduce(0, +)
        for index in amounts.indices.sorted(by: { amounts[$0] > amounts[$1] }) where left > 0 {
            guard shares[index] < amounts[index] else { continue }
            shares[index] += 1
            left -= 1
        }
        return shares
    }

    /// What refunding `quantity` of a line gives back: its share of the line's net, and the whole rest
    /// when the refund takes the last of the line (so refunds of a line add up to what was paid for it).
    public static func refundAmount(of line: SaleLine, quantity: Int64, alreadyQuantity: Int64, alreadyAmount: Int64) -> Int64 {
        if alreadyQuantity + quantity >= line.quantity { return line.net - alreadyAmount }
        return PricingEngine.roundedDivision(line.net * quantity, by: max(line.quantity, 1))
    }

    /// Tax included in an amount at a VAT rate (basis points): amount × rate / (10000 + rate).
    public static func includedTax(_ amount: Int64, rate: Int) -> Int64 {
        PricingEngine.roundedDivision(amount * Int64(rate), by: 10_000 + Int64(rate))
    }

    /// The lines and tenders of a journal entry as its link hashes them (sorted-key JSON), encoded
    /// apart so a sale can encode them before its transaction: the single writer then only hashes.
    public struct JournalContent: Sendable {
        /// The lines as sorted-key JSON (they hold no dates, so any date strategy encodes them alike).
        public let lines: String
        /// The tenders as sorted-key JSON (no dates either).
        public let tenders: String

        /// The content of `sale` (its lines and tenders; nothing the transaction assigns).
        public init(_ sale: Sale) {
            // Byte for byte the sorted-key `JSONEncoder`'s output, which every stored link was made with.
            lines = SaleJSON.lines(sale.lines)
            tenders = SaleJSON.tenders(sale.tenders)
        }
    }

    /// The journal link of a completed sale: SHA-256 over the previous link and the entry's fields
    /// (the lines and tenders as sorted-key JSON), hex. Changing any stored sale breaks every later link.
    /// `content` is `JournalContent(sale)` when encoded ahead (it must be of the same lines and tenders).
    public static func hash(_ sale: Sale, previous: String, content: JournalContent? = nil) -> String {
        let content = content ?? JournalContent(sale)
        let fields = [previous, sale.id.rawValue, sale.kind.rawValue, sale.storeId.rawValue, String(sale.receiptNumber ?? 0),
                      sale.registerId, String(sale.registerSeq ?? 0), String(EpochMillis.from(sale.soldAt)), sale.cashierId.rawValue,
                      String(sale.gross), String(sale.discount), String(sale.rounding), String(sale.total), String(sale.change),
                      sale.originalSaleId?.rawValue ?? "", content.lines, content.tenders]
        let digest = SHA256.hash(data: Data(fields.joined(separator: "\u{1F}").utf8))
        return Hex.string(digest)
    }
}

/// What a refund gives back: its lines, tenders, total and the share of the sale's cash rounding.
public struct RefundPlan: Sendable, Equatable {
    public var lines: [SaleLine]
    public var tenders: [Tender]
    public var total: Int64
    public var rounding: Int64
}

extension SaleRules {
    /// Plans a refund: each line at most what is left of it after earlier refunds (all that is left
    /// when no lines are given), each tender at most what it paid less what earlier refunds gave back
    /// on it. The refund that takes the last of the sale also returns its cash rounding, so all the
    /// refunds of a sale add up to exactly what was paid.
    public static func refundPlan(original: Sale, earlier: [Sale], lines input: [RefundLineInput], tenders requested: [TenderInput]?) throws -> RefundPlan {
        var refundedQuantity = [Int64](repeating: 0, count: original.lines.count)
        var refundedAmount = [Int64](repeating: 0, count: original.lines.count)
        for refund in earlier {
            for line in refund.lines {
                guard let index = line.originalLine, original.lines.indices.contains(index) else { continue }
                refundedQuantity[index] += line.quantity
                refundedAmount[index] += line.net
            }
        }
        let wanted: [RefundLineInput] = input.isEmpty
            ? original.lines.indices.compactMap { index in
                let left = original.lines[index].quantity - refundedQuantity[index]
                return left > 0 ? RefundLineInput(line: index, quantity: left) : nil
            }
            : input
        guard !wanted.isEmpty else { throw DomainError.conflict("everything on this sale has already been refunded") }
        var seen: Set<Int> = []
        var lines: [SaleLine] = []
        var leftAfter = zip(original.lines, refundedQuantity).map { $0.quantity - $1 }
        for (position, item) in wanted.enumerated() {
            let field = "lines.\(position)"
            guard original.lines.indices.contains(item.line) else { throw DomainError.invalid("\(field).line", "the sale has no line \(item.line)") }
            guard seen.insert(item.line).inserted else { throw DomainError.invalid("\(field).line", "is listed twice") }
            let sold = original.lines[item.line]
            let left = sold.quantity - refundedQuantity[item.line]
            guard item.quantity > 0 else { throw DomainError.invalid("\(field).quantity", "must be more than 0") }
            guard !(!sold.weighed && item.quantity % 1000 != 0) else { throw DomainError.invalid("\(field).quantity", "whole pieces only (1000 per piece)") }
            guard item.quantity <= left else {
                throw DomainError.invalid("\(field).quantity", "only \(left) of \(sold.sku) is left to refund (sold \(sold.quantity))")
            }
            let amount = refundAmount(of: sold, quantity: item.quantity, alreadyQuantity: refundedQuantity[item.line],
                                      alreadyAmount: refundedAmount[item.line])
            let gross = PricingEngine.amount(sold.unitPrice, item.quantity)
            leftAfter[item.line] -= item.quantity
            lines.append(SaleLine(productId: sold.productId, sku: sold.sku, name: sold.name, quantity: item.quantity, weighed: sold.weighed,
                                  unitPrice: sold.unitPrice, gross: max(gross, amount), discount: max(gross, amount) - amount, promotionId: nil,
                                  promotionName: nil, manualDiscount: 0, orderDiscountShare: 0, taxRate: sold.taxRate, catalogChanged: false,
                                  originalLine: item.line))
        }
        let last = leftAfter.allSatisfy { $0 == 0 }
        let rounding = last ? original.rounding : 0
        let total = lines.reduce(0) { $0 + $1.net } + rounding
        guard total > 0 else { throw DomainError.invalid("lines", "nothing to give back") }
        // What each tender kind may still give back.
        var left: [TenderKind: Int64] = [:]
        for tender in original.tenders { left[tender.kind, default: 0] += tender.amount }
        for refund in earlier { for tender in refund.tenders { left[tender.kind, default: 0] -= tender.amount } }
        var tenders: [Tender] = []
        if let requested {
            guard !requested.isEmpty else { throw DomainError.invalid("tenders", "give at least one tender, or none for the original ones") }
            for (index, item) in requested.enumerated() {
                let field = "tenders.\(index)"
                guard let amount = item.amount, amount > 0 else { throw DomainError.invalid("\(field).amount", "must be more than 0") }
                let available = left[item.kind] ?? 0
                guard amount <= available else {
                    throw DomainError.invalid("\(field).amount", "at most \(Money(minorUnits: max(available, 0))) can go back by \(item.kind.rawValue)")
                }
                left[item.kind] = available - amount
                var tender = Tender(kind: item.kind, amount: amount)
                if item.kind == .card {
                    let printed = item.maskedPan ?? original.tenders.first { $0.kind == .card }?.maskedPan
                    tender.maskedPan = try printed.map { try maskedPan($0, field: "\(field).maskedPan") }
                    tender.authCode = try code(item.authCode, field: "\(field).authCode", required: false)
                    tender.rrn = try code(item.rrn, field: "\(field).rrn", required: false)
                }
                if item.kind == .storedValue { tender.reference = original.tenders.first { $0.kind == .storedValue }?.reference }
                tenders.append(tender)
            }
            let sum = tenders.reduce(0) { $0 + $1.amount }
            guard sum == total else { throw DomainError.invalid("tenders", "the tenders give back \(Money(minorUnits: sum)) of \(Money(minorUnits: total))") }
        } else {
            // Back the way it came: wallets, stored value and cards first, cash last.
            var remaining = total
            let order = original.tenders.map(\.kind).reduce(into: [TenderKind]()) { if !$0.contains($1) { $0.append($1) } }
                .sorted { ($0 == .cash ? 1 : 0) < ($1 == .cash ? 1 : 0) }
            for kind in order where remaining > 0 {
                let amount = min(remaining, max(left[kind] ?? 0, 0))
                guard amount > 0 else { continue }
                let source = original.tenders.first { $0.kind == kind }
                tenders.append(Tender(kind: kind, amount: amount, maskedPan: source?.maskedPan, reference: source?.reference))
                remaining -= amount
            }
            guard remaining == 0 else { throw DomainError.conflict("the sale's tenders have only \(Money(minorUnits: total - remaining)) left to give back") }
        }
        return RefundPlan(lines: lines, tenders: tenders, total: total, rounding: rounding)
    }

    /// A register id: 1–64 letters, digits, '-', '_', '.' or ':' (a device UUID or a terminal serial).
    public static func registerId(_ raw: String) throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(value.count),
              value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
            throw DomainError.invalid("registerId", "must be 1 to 64 letters, digits, '-', '_', '.' or ':'")
        }
        return value
    }

    /// A non-negative amount in fen within the accepted range.
    public static func amount(_ value: Int64, field: String) throws -> Int64 {
        guard (0...CatalogRules.maxPrice * 100).contains(value) else { throw DomainError.invalid(field, "must be an amount in fen, 0 or more") }
        return value
    }

    /// Optional free text: trimmed, empty becomes nil, at most `max` characters.
    public static func optionalText(_ raw: String?, field: String, max: Int) throws -> String? {
        guard let value = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        guard value.count <= max else { throw DomainError.invalid(field, "must be at most \(max) characters") }
        return value
    }

    /// A line quantity: whole pieces (multiples of 1000) or grams of weighed goods, up to a million units.
    public static func quantity(_ value: Int64, unit: SaleUnit, field: String) throws {
        guard value > 0, value <= 1_000_000_000 else { throw DomainError.invalid(field, "must be more than 0 (1000 per piece, grams when weighed)") }
        if unit == .piece, value % 1000 != 0 { throw DomainError.invalid(field, "whole pieces only: 1000 per piece") }
    }

    /// A payment code with only its first and last 4 digits kept (the rest of a one-time code is not needed afterwards).
    public static func maskCode(_ code: String) -> String {
        guard code.count > 8 else { return String(repeating: "*", count: code.count) }
        return "\(code.prefix(4))\(String(repeating: "*", count: code.count - 8))\(code.suffix(4))"
    }
}
