import Foundation

/// Tag for member ids.
public enum MemberTag {}
/// Id of a member (会员) of a merchant.
public typealias MemberID = Identifier<MemberTag>
/// Tag for member ledger entry ids.
public enum MemberLedgerTag {}
/// Id of one line of a member's points or stored-value ledger.
public typealias MemberLedgerID = Identifier<MemberLedgerTag>

/// What a member agreed to. Without marketing consent a member is never in an exported offer list.
public struct MemberConsent: Codable, Sendable, Equatable {
    /// Offers by text message or app (营销信息).
    public var marketing: Bool
    /// Their purchases may be analysed for personalised offers at the till.
    public var analytics: Bool

    public init(marketing: Bool = false, analytics: Bool = true) {
        self.marketing = marketing
        self.analytics = analytics
    }
}

/// The phone number and name of a member as stored: AES-256-GCM sealed under the key `keyId` of the
/// `MemberKeyring`, each blob bound to the member id and field, and the phone's keyed hash for lookup.
/// The clear values live only in memory, in `MemberService`.
public struct SealedContact: Codable, Sendable, Equatable {
    public var keyId: String
    /// HMAC-SHA256 (lookup key) of the normalised phone, hex; nil after erasure.
    public var phoneHash: String?
    public var phone: [UInt8]?
    public var name: [UInt8]?

    public init(keyId: String, phoneHash: String?, phone: [UInt8]?, name: [UInt8]?) {
        self.keyId = keyId
        self.phoneHash = phoneHash
        self.phone = phone
        self.name = name
    }
}

/// A member as stored. Balances change only through ledger entries written in the same transaction
/// (`MemberRepository.move`), so the ledger always sums to them.
public struct Member: Codable, Sendable, Equatable {
    public var id: MemberID
    public var merchantId: OrgID
    /// The store that enrolled the member: when the program is not shared across stores only that store recognises them.
    public var homeStoreId: OrgID?
    /// Printed on the card and in the member QR code (`TYM1:` + number); unique per merchant.
    public var cardNumber: String
    public var contact: SealedContact
    /// "MM-DD" or "YYYY-MM-DD".
    public var birthday: String?
    /// Code of the tier in the merchant's `MemberProgram`.
    public var tier: String
    public var points: Int64
    /// Stored value (储值), fen; never negative.
    public var storedValue: Int64
    /// Net spend on sales (refunds deducted), fen: the basis of spend tiers.
    public var lifetimeSpend: Int64
    /// Points ever earned (reversals deducted): the basis of points tiers.
    public var lifetimePoints: Int64
    public var visits: Int
    public var tags: [String]
    public var consent: MemberConsent
    public var createdAt: Date
    public var lastVisitAt: Date?
    /// Set when the member's personal data was erased (anonymised; sales totals kept).
    public var erasedAt: Date?
    public var version: Int

    public init(id: MemberID, merchantId: OrgID, homeStoreId: OrgID?, cardNumber: String, contact: SealedContact, birthday: String?, tier: String,
                points: Int64 = 0, storedValue: Int64 = 0, lifetimeSpend: Int64 = 0, lifetimePoints: Int64 = 0, visits: Int = 0, tags: [String] = [],
                consent: MemberConsent = MemberConsent(), createdAt: Date, lastVisitAt: Date? = nil, erasedAt: Date? = nil, version: Int = 1) {
        self.id = id
        self.merchantId = merchantId
        self.homeStoreId = homeStoreId
        self.cardNumber = cardNumber
        self.contact = contact
        self.birthday = birthday
        self.tier = tier
        self.points = points
        self.storedValue = storedValue
        self.lifetimeSpend = lifetimeSpend
        self.lifetimePoints = lifetimePoints
        self.visits = visits
        self.tags = tags
        self.consent = consent
        self.createdAt = createdAt
        self.lastVisitAt = lastVisitAt
        self.erasedAt = erasedAt
        self.version = version
    }

    /// Month of the birthday (1…12), if known.
    public var birthMonth: Int? { MemberRules.birthMonth(birthday) }
}

/// Which balance a ledger line moves.
public enum MemberBalance: String, Codable, Sendable, CaseIterable {
    case points
    case storedValue = "stored_value"
}

/// Why a balance moved.
public enum MemberLedgerReason: String, Codable, Sendable, CaseIterable {
    /// Points earned on a sale.
    case earn
    /// Points taken back by a refund.
    case earnReversal = "earn_reversal"
    /// Points spent as a tender.
    case redeem
    /// Points or stored value given back by a refund.
    case refund
    /// Stored value paid in (充值).
    case topUp = "top_up"
    /// Stored value spent as a tender.
    case spend
    /// A manager's correction.
    case adjust
    /// Opening balance of a CSV import.
    case importOpening = "import"
    /// Points cleared when the member's data was erased.
    case erasure
}

/// One movement of a member's points or stored value, with the balance it left.
public struct MemberLedgerEntry: Codable, Sendable, Equatable {
    public var id: MemberLedgerID
    public var memberId: MemberID
    /// The line's number in the member's ledger (1, 2, …), given by the store when appended.
    public var line: Int64
    public var merchantId: OrgID
    public var balance: MemberBalance
    public var delta: Int64
    /// The balance right after this movement.
    public var balanceAfter: Int64
    public var reason: MemberLedgerReason
    public var saleId: SaleID?
    /// Username (or "system") of who moved it.
    public var actor: String
    public var note: String?
    public var createdAt: Date

    public init(id: MemberLedgerID, memberId: MemberID, line: Int64 = 0, merchantId: OrgID, balance: MemberBalance, delta: Int64, balanceAfter: Int64,
                reason: MemberLedgerReason, saleId: SaleID?, actor: String, note: String?, createdAt: Date) {
        self.id = id
        self.memberId = memberId
        self.line = line
        self.merchantId = merchantId
        self.balance = balance
        self.delta = delta
        self.balanceAfter = balanceAfter
        self.reason = reason
        self.saleId = saleId
        self.actor = actor
        self.note = note
        self.createdAt = createdAt
    }
}

extension MemberLedgerEntry {
    /// A new line of a member's ledger (the store numbers it when appended).
    static func line(_ member: Member, _ balance: MemberBalance, _ delta: Int64, after: Int64, _ reason: MemberLedgerReason, sale: SaleID? = nil,
                     actor: String, note: String?, at: Date) -> MemberLedgerEntry {
        MemberLedgerEntry(id: .generate(now: at), memberId: member.id, merchantId: member.merchantId, balance: balance, delta: delta,
                          balanceAfter: after, reason: reason, saleId: sale, actor: actor, note: note, createdAt: at)
    }
}

/// What a tier is reached by: net spend (fen) or points earned.
public enum TierBasis: String, Codable, Sendable, CaseIterable {
    case spend, points
}

/// A level of the member program (普通 / 银卡 / 金卡) and what it gives.
public struct MemberTier: Codable, Sendable, Equatable {
    /// Short stable code ("basic", "silver").
    public var code: String
    public var name: String
    /// Spend (fen) or points earned from which a member is in this tier; the lowest tier starts at 0.
    public var threshold: Int64
    /// Whether the products' member prices apply.
    public var memberPrice: Bool
    /// Percent off everything, basis points (200 = 2%); priced as a members-only promotion.
    public var percentOff: Int
    /// Points multiplier, basis points (10000 = ×1, 15000 = ×1.5).
    public var pointsMultiplier: Int
    /// The id the tier's percent off is priced under (stable, so receipts and checks name it).
    public var promotionId: PromotionID

    public init(code: String, name: String, threshold: Int64, memberPrice: Bool = true, percentOff: Int = 0, pointsMultiplier: Int = 10_000,
                promotionId: PromotionID = .generate()) {
        self.code = code
        self.name = name
        self.threshold = threshold
        self.memberPrice = memberPrice
        self.percentOff = percentOff
        self.pointsMultiplier = pointsMultiplier
        self.promotionId = promotionId
    }
}

/// What an offer rule looks at in a member's history.
public enum OfferKind: String, Codable, Sendable, CaseIterable {
    /// The member's birthday falls in the current month.
    case birthdayMonth = "birthday_month"
    /// No visit for at least `days` days.
    case lapsed
    /// Net spend of at least `minimumSpend` fen.
    case topSpend = "top_spend"
    /// The category the member spends most on is `category`.
    case favouriteCategory = "favourite_category"
}

/// A rule that gives members a personalised offer, shown at the till and exportable as a list.
public struct OfferRule: Codable, Sendable, Equatable {
    public var code: String
    public var name: String
    public var kind: OfferKind
    public var days: Int?
    public var minimumSpend: Int64?
    public var category: String?
    /// What the cashier tells the customer ("生日月 9 折").
    public var message: String

    public init(code: String, name: String, kind: OfferKind, days: Int? = nil, minimumSpend: Int64? = nil, category: String? = nil, message: String) {
        self.code = code
        self.name = name
        self.kind = kind
        self.days = days
        self.minimumSpend = minimumSpend
        self.category = category
        self.message = message
    }
}

/// A merchant's member program: tiers, points rules, stored-value limit and offer rules.
public struct MemberProgram: Codable, Sendable, Equatable {
    public var merchantId: OrgID
    /// Whether every store of the merchant recognises every member (else only the enrolling store).
    public var sharedAcrossStores: Bool
    /// Points earned per yuan paid (before the tier's multiplier).
    public var pointsPerYuan: Int
    /// What one point is worth as a tender, fen.
    public var fenPerPoint: Int64
    /// Most stored value one member may hold, fen (单用途预付卡 记名卡: ¥5,000).
    public var maxStoredValue: Int64
    public var tierBasis: TierBasis
    /// Ordered by threshold; the first starts at 0.
    public var tiers: [MemberTier]
    public var offers: [OfferRule]
    public var updatedAt: Date?
    /// 0 while the defaults were never saved.
    public var version: Int

    public init(merchantId: OrgID, sharedAcrossStores: Bool = true, pointsPerYuan: Int = 1, fenPerPoint: Int64 = 1, maxStoredValue: Int64 = 500_000,
                tierBasis: TierBasis = .spend, tiers: [MemberTier]? = nil, offers: [OfferRule]? = nil, updatedAt: Date? = nil, version: Int = 0) {
        self.merchantId = merchantId
        self.sharedAcrossStores = sharedAcrossStores
        self.pointsPerYuan = pointsPerYuan
        self.fenPerPoint = fenPerPoint
        self.maxStoredValue = maxStoredValue
        self.tierBasis = tierBasis
        self.tiers = tiers ?? MemberProgram.defaultTiers(merchantId)
        self.offers = offers ?? [
            OfferRule(code: "birthday", name: "Birthday month", kind: .birthdayMonth, message: "生日月 9 折 · Birthday month: 10% off"),
            OfferRule(code: "lapsed", name: "Come back", kind: .lapsed, days: 60, message: "好久不见，送 ¥10 券 · We missed you: ¥10 voucher"),
        ]
        self.updatedAt = updatedAt
        self.version = version
    }

    /// Basic (member prices), silver from ¥1,000 (×1.2 points), gold from ¥5,000 (2% off, ×1.5 points).
    /// The promotion ids are derived from the merchant so the defaults price the same everywhere.
    static func defaultTiers(_ merchant: OrgID) -> [MemberTier] {
        func id(_ code: String) -> PromotionID { PromotionID(rawValue: MemberRules.derivedId(merchant.rawValue + "/tier/" + code)) }
        return [
            MemberTier(code: "basic", name: "普通会员", threshold: 0, promotionId: id("basic")),
            MemberTier(code: "silver", name: "银卡会员", threshold: 100_000, pointsMultiplier: 12_000, promotionId: id("silver")),
            MemberTier(code: "gold", name: "金卡会员", threshold: 500_000, percentOff: 200, pointsMultiplier: 15_000, promotionId: id("gold")),
        ]
    }

    /// The tier a member with this spend and points earned belongs to (the highest reached).
    public func tier(spend: Int64, points: Int64) -> MemberTier {
        let measure = tierBasis == .spend ? spend : points
        return tiers.last { $0.threshold <= measure } ?? tiers[0]
    }

    /// The tier of a code (the lowest when the code is no longer in the program).
    public func tier(code: String) -> MemberTier { tiers.first { $0.code == code } ?? tiers[0] }

    /// Points earned on `paid` fen in `tier`: whole yuan × rate × multiplier, rounded down.
    public func pointsEarned(paid: Int64, tier: MemberTier) -> Int64 {
        guard paid > 0 else { return 0 }
        return paid / 100 * Int64(pointsPerYuan) * Int64(tier.pointsMultiplier) / 10_000
    }

    /// Checks the numbers and the tiers (codes unique, thresholds rising from 0).
    public func validate() throws {
        guard (0...100).contains(pointsPerYuan) else { throw DomainError.invalid("pointsPerYuan", "must be 0 to 100") }
        guard (1...10_000).contains(fenPerPoint) else { throw DomainError.invalid("fenPerPoint", "must be 1 to 10000 fen") }
        guard (0...10_000_000).contains(maxStoredValue) else { throw DomainError.invalid("maxStoredValue", "must be 0 to ¥100,000") }
        guard !tiers.isEmpty, tiers.count <= 10 else { throw DomainError.invalid("tiers", "give 1 to 10 tiers") }
        guard tiers[0].threshold == 0 else { throw DomainError.invalid("tiers.0.threshold", "the first tier starts at 0") }
        var codes: Set<String> = []
        for (index, tier) in tiers.enumerated() {
            let field = "tiers.\(index)"
            _ = try MemberRules.code(tier.code, field: "\(field).code")
            _ = try AccessRules.text(tier.name, field: "\(field).name", max: 30)
            guard codes.insert(tier.code).inserted else { throw DomainError.invalid("\(field).code", "is used twice") }
            if index > 0, tier.threshold <= tiers[index - 1].threshold {
                throw DomainError.invalid("\(field).threshold", "must be above the tier before")
            }
            guard (0...5_000).contains(tier.percentOff) else { throw DomainError.invalid("\(field).percentOff", "must be 0 to 5000 basis points") }
            guard (0...100_000).contains(tier.pointsMultiplier) else { throw DomainError.invalid("\(field).pointsMultiplier", "must be 0 to 100000 basis points") }
        }
        var offerCodes: Set<String> = []
        for (index, offer) in offers.enumerated() {
            let field = "offers.\(index)"
            _ = try MemberRules.code(offer.code, field: "\(field).code")
            guard offerCodes.insert(offer.code).inserted else { throw DomainError.invalid("\(field).code", "is used twice") }
            _ = try AccessRules.text(offer.name, field: "\(field).name", max: 60)
            _ = try AccessRules.text(offer.message, field: "\(field).message", max: 120)
            switch offer.kind {
            case .lapsed: guard let days = offer.days, (1...3650).contains(days) else { throw DomainError.invalid("\(field).days", "give 1 to 3650 days") }
            case .topSpend: guard let spend = offer.minimumSpend, spend > 0 else { throw DomainError.invalid("\(field).minimumSpend", "give an amount in fen") }
            case .favouriteCategory: _ = try AccessRules.text(offer.category ?? "", field: "\(field).category", max: 60)
            case .birthdayMonth: break
            }
        }
    }
}
