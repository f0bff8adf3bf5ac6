import Foundation

/// Tag for promotion ids.
public enum PromotionTag {}
/// Id of a promotion.
public typealias PromotionID = Identifier<PromotionTag>

/// A line as the cashier scanned it.
public struct CartLine: Sendable, Equatable {
    public var sku: String
    public var category: String?
    /// Milli-units: 1000 is one piece, or one kilogram of weighed goods.
    public var quantity: Int64
    /// Tax-included list price per piece or per kilogram, in fen.
    public var unitPrice: Int64
    /// The product's member price per unit, if it has one.
    public var memberPrice: Int64?

    public init(sku: String, category: String? = nil, quantity: Int64, unitPrice: Int64, memberPrice: Int64? = nil) {
        self.sku = sku
        self.category = category
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.memberPrice = memberPrice
    }
}

/// What a promotion does to the lines it covers.
public enum PromotionRule: Codable, Sendable, Equatable {
    /// Percent off in basis points (1500 = 15% off).
    case percentOff(basisPoints: Int)
    /// A fixed amount off each unit, in fen.
    case amountOff(fenPerUnit: Int64)
    /// The unit sells at this price, in fen.
    case fixedPrice(fenPerUnit: Int64)
    /// Of every `buy + free` pieces, `free` are free (counted pieces only, never weighed goods).
    case buyXGetY(buy: Int, free: Int)
    /// The product's own member price, for recognised members.
    case memberPrice
}

/// Which products a promotion covers: the listed SKUs and categories, or everything when both are empty.
public struct PromotionScope: Codable, Sendable, Equatable {
    public var skus: Set<String>
    public var categories: Set<String>

    public init(skus: Set<String> = [], categories: Set<String> = []) {
        self.skus = skus
        self.categories = categories
    }

    public static let everything = PromotionScope()

    public func covers(_ line: CartLine) -> Bool {
        if skus.isEmpty && categories.isEmpty { return true }
        return skus.contains(line.sku) || line.category.map(categories.contains) == true
    }
}

/// When a promotion runs: between two instants, on some weekdays, within daily hours (store local time).
public struct TimeWindow: Codable, Sendable, Equatable {
    public var startsAt: Date?
    public var endsAt: Date?
    /// ISO weekdays, 1 = Monday … 7 = Sunday; nil for every day.
    public var weekdays: Set<Int>?
    /// Daily hours ("18:00-22:00"; may run past midnight); nil for all day.
    public var hours: BusinessHours?

    public init(startsAt: Date? = nil, endsAt: Date? = nil, weekdays: Set<Int>? = nil, hours: BusinessHours? = nil) {
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.weekdays = weekdays
        self.hours = hours
    }

    public static let always = TimeWindow()

    func contains(_ context: PricingContext) -> Bool {
        if let startsAt, context.now < startsAt { return false }
        if let endsAt, context.now >= endsAt { return false }
        if let weekdays, !weekdays.contains(context.weekday) { return false }
        if let hours, !hours.isOpen(atMinute: context.minuteOfDay) { return false }
        return true
    }
}

/// A promotion a merchant runs.
public struct Promotion: Codable, Sendable, Equatable {
    public var id: PromotionID
    public var name: String
    public var rule: PromotionRule
    public var scope: PromotionScope
    public var window: TimeWindow
    /// Stores where it runs; nil for every store of the merchant.
    public var stores: Set<OrgID>?
    /// Only for recognised members (member price always is).
    public var membersOnly: Bool

    public init(id: PromotionID, name: String, rule: PromotionRule, scope: PromotionScope = .everything, window: TimeWindow = .always,
                stores: Set<OrgID>? = nil, membersOnly: Bool = false) {
        self.id = id
        self.name = name
        self.rule = rule
        self.scope = scope
        self.window = window
        self.stores = stores
        self.membersOnly = membersOnly
    }

    /// Checks the rule's numbers.
    public func validate() throws {
        switch rule {
        case .percentOff(let points):
            guard (1...10_000).contains(points) else { throw DomainError.invalid("rule.basisPoints", "must be from 1 to 10000 (0.01% to 100%)") }
        case .amountOff(let fen), .fixedPrice(let fen):
            guard fen >= 0 else { throw DomainError.invalid("rule", "amounts must not be negative") }
        case .buyXGetY(let buy, let free):
            guard buy >= 1, free >= 1, buy + free <= 1000 else { throw DomainError.invalid("rule", "buy and free must be at least 1") }
        case .memberPrice:
            break
        }
        if let weekdays = window.weekdays, weekdays.isEmpty || !weekdays.isSubset(of: Set(1...7)) {
            throw DomainError.invalid("window.weekdays", "give weekdays from 1 (Monday) to 7 (Sunday)")
        }
        if let startsAt = window.startsAt, let endsAt = window.endsAt, endsAt <= startsAt {
            throw DomainError.invalid("window.endsAt", "must be after startsAt")
        }
    }
}

/// Where and when a cart is priced, and for whom. Weekday and minute are the store's local time
/// (the caller converts with the store's time zone; the engine stays pure).
public struct PricingContext: Sendable, Equatable {
    public var now: Date
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    public var weekday: Int
    /// Minutes after local midnight, 0–1439.
    public var minuteOfDay: Int
    public var storeId: OrgID?
    public var isMember: Bool

    public init(now: Date, weekday: Int, minuteOfDay: Int, storeId: OrgID? = nil, isMember: Bool = false) {
        self.now = now
        self.weekday = weekday
        self.minuteOfDay = minuteOfDay
        self.storeId = storeId
        self.isMember = isMember
    }

    /// The context at `now` in a time zone (e.g. Asia/Shanghai for Chinese stores).
    public static func at(_ now: Date, timeZone: TimeZone, storeId: OrgID? = nil, isMember: Bool = false) -> PricingContext {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: now)
        // Calendar weekdays start on Sunday = 1; ISO starts on Monday = 1.
        let iso = ((parts.weekday ?? 1) + 5) % 7 + 1
        return PricingContext(now: now, weekday: iso, minuteOfDay: (parts.hour ?? 0) * 60 + (parts.minute ?? 0),
                              storeId: storeId, isMember: isMember)
    }
}

/// A priced line: list amount, the discount it got and from which promotion, what is paid.
public struct PricedLine: Sendable, Equatable {
    public var sku: String
    public var quantity: Int64
    public var unitPrice: Int64
    /// List amount, fen.
    public var gross: Int64
    public var discount: Int64
    public var promotionId: PromotionID?
    public var promotionName: String?

    /// What the customer pays for the line, fen.
    public var net: Int64 { gross - discount }
}

/// The priced cart.
public struct PricedCart: Sendable, Equatable {
    public var lines: [PricedLine]
    public var gross: Int64 { lines.reduce(0) { $0 + $1.gross } }
    public var discount: Int64 { lines.reduce(0) { $0 + $1.discount } }
    public var net: Int64 { lines.reduce(0) { $0 + $1.net } }
}

/// The pricing engine: pure, deterministic, no I/O. Each line gets the single promotion that
/// saves the customer most (promotions do not stack — the rule customers and auditors can follow);
/// ties go to the older promotion. Amounts round half up to the fen, and a discount never exceeds
/// the line. Lines of the same product at the same price are merged first, so "buy 2 get 1"
/// counts pieces however they were scanned.
public enum PricingEngine {
    public static func price(_ cart: [CartLine], promotions: [Promotion], context: PricingContext) -> PricedCart {
        var merged: [CartLine] = []
        for line in cart {
            if let index = merged.firstIndex(where: { $0.sku == line.sku && $0.unitPrice == line.unitPrice && $0.memberPrice == line.memberPrice }) {
                merged[index].quantity += line.quantity
            } else {
                merged.append(line)
            }
        }
        let running = promotions.filter { promotion in
            promotion.window.contains(context)
                && (promotion.stores.map { stores in context.storeId.map(stores.contains) ?? false } ?? true)
                && (!promotion.membersOnly || context.isMember)
        }.sorted { $0.id < $1.id }
        return PricedCart(lines: merged.map { line in
            let gross = amount(line.unitPrice, line.quantity)
            var best: (discount: Int64, promotion: Promotion)?
            for promotion in running where promotion.scope.covers(line) {
                let saving = min(gross, max(0, discount(promotion.rule, line: line, gross: gross, context: context)))
                if saving > 0, saving > (best?.discount ?? 0) { best = (saving, promotion) }
            }
            return PricedLine(sku: line.sku, quantity: line.quantity, unitPrice: line.unitPrice, gross: gross,
                              discount: best?.discount ?? 0, promotionId: best?.promotion.id, promotionName: best?.promotion.name)
        })
    }

    /// `unit × milli-quantity / 1000`, rounded half up to the fen.
    public static func amount(_ unit: Int64, _ quantity: Int64) -> Int64 {
        roundedDivision(unit * quantity, by: 1000)
    }

    /// Division rounding half away from zero.
    public static func roundedDivision(_ value: Int64, by divisor: Int64) -> Int64 {
        let half = divisor / 2
        return value >= 0 ? (value + half) / divisor : -((-value + half) / divisor)
    }

    static func discount(_ rule: PromotionRule, line: CartLine, gross: Int64, context: PricingContext) -> Int64 {
        switch rule {
        case .percentOff(let points):
            return roundedDivision(gross * Int64(points), by: 10_000)
        case .amountOff(let fen):
            return amount(fen, line.quantity)
        case .fixedPrice(let fen):
            return gross - amount(fen, line.quantity)
        case .buyXGetY(let buy, let free):
            guard line.quantity % 1000 == 0 else { return 0 }
            let pieces = line.quantity / 1000
            return pieces / Int64(buy + free) * Int64(free) * line.unitPrice
        case .memberPrice:
            guard context.isMember, let member = line.memberPrice else { return 0 }
            return gross - amount(member, line.quantity)
        }
    }
}
