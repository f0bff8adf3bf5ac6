import Foundation

/// A recognised member at a sale, read before the sale's transaction: the member, their program and tier.
struct MemberAtSale: Sendable {
    var member: Member
    var program: MemberProgram
    var tier: MemberTier

    /// Whether the products' member prices apply.
    var memberPrice: Bool { tier.memberPrice }

    /// The tier's benefits as members-only promotions over everything, priced by the engine like any
    /// other (the best single offer per line): the products' member prices, and the tier's percent off.
    var promotions: [Promotion] {
        var promotions: [Promotion] = []
        if tier.memberPrice {
            promotions.append(Promotion(id: PromotionID(rawValue: MemberRules.derivedId(member.merchantId.rawValue + "/member-price")), name: "会员价",
                                        rule: .memberPrice, membersOnly: true))
        }
        if tier.percentOff > 0 {
            promotions.append(Promotion(id: tier.promotionId, name: "\(tier.name) \(PromotionRules.describe(.percentOff(basisPoints: tier.percentOff)))",
                                        rule: .percentOff(basisPoints: tier.percentOff), membersOnly: true))
        }
        return promotions
    }
}

/// What a sale does to its member, worked out before the transaction and posted inside it.
struct MemberSalePlan: Sendable {
    var at: MemberAtSale
    var pointsRedeemed: Int64
    var storedValueSpent: Int64
    /// Spend per product category, for favourite-category offers.
    var categories: [String: Int64]
}

/// The register's member effects, written in the sale's (or refund's) own transaction so they commit
/// or fail with it: points earned (by the tier's multiplier) and redeemed as a tender, stored value
/// spent, visits and spend for tiers, the tier itself, and on refunds all of it reversed in proportion.
enum MemberPosting {
    /// The member a sale names, if `memberId` is a member id of the selling merchant that this store
    /// recognises (other text is kept on the sale as a plain reference, as before members existed).
    static func load(_ memberId: String?, merchant: Organization, storeId: OrgID, repos: any Repositories) async throws -> MemberAtSale? {
        guard let text = memberId, let id = MemberID(validating: text.trimmingCharacters(in: .whitespaces)),
              let member = try await repos.members.find(id), member.merchantId == merchant.id, member.erasedAt == nil else { return nil }
        let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
        guard program.sharedAcrossStores || member.homeStoreId == nil || member.homeStoreId == storeId else { return nil }
        return MemberAtSale(member: member, program: program, tier: program.tier(code: member.tier))
    }

    /// Checks the member tenders of a settled sale: stored value and points need a recognised member,
    /// points are spent in whole points, and the balances read must cover them (checked again when posting).
    static func plan(_ tenders: [Tender], lines: [SaleLine], products: [ProductID: Product], member: MemberAtSale?) throws -> MemberSalePlan? {
        let storedValue = tenders.filter { $0.kind == .storedValue }.reduce(0) { $0 + $1.amount }
        let pointsAmount = tenders.filter { $0.kind == .points }.reduce(0) { $0 + $1.amount }
        guard let member else {
            guard storedValue == 0, pointsAmount == 0 else {
                throw DomainError.invalid("memberId", "stored value and points are paid by a recognised member: look the member up first")
            }
            return nil
        }
        let fenPerPoint = member.program.fenPerPoint
        guard pointsAmount % fenPerPoint == 0 else {
            throw DomainError.invalid("tenders", "points pay in steps of \(Money(minorUnits: fenPerPoint))")
        }
        let redeemed = pointsAmount / fenPerPoint
        guard redeemed <= member.member.points else {
            throw DomainError.invalid("tenders", "the member has \(member.member.points) points (\(Money(minorUnits: member.member.points * fenPerPoint)))")
        }
        guard storedValue <= member.member.storedValue else {
            throw DomainError.invalid("tenders", "the member holds \(Money(minorUnits: member.member.storedValue)) stored value")
        }
        var categories: [String: Int64] = [:]
        for line in lines {
            if let category = products[line.productId]?.category { categories[category, default: 0] += line.net - line.manualDiscount - line.orderDiscountShare }
        }
        return MemberSalePlan(at: member, pointsRedeemed: redeemed, storedValueSpent: storedValue, categories: categories)
    }

    /// Posts a completed sale to its member inside the sale's transaction.
    static func post(_ sale: Sale, plan: MemberSalePlan, orgPath: String, actor: String, repos: any Repositories) async throws {
        let member = plan.at.member
        let pointsAmount = plan.pointsRedeemed * plan.at.program.fenPerPoint
        let paid = sale.total - pointsAmount
        let earned = plan.at.program.pointsEarned(paid: paid, tier: plan.at.tier)
        let movement = MemberMovement(points: earned - plan.pointsRedeemed, storedValue: -plan.storedValueSpent, spend: paid, pointsEarned: earned,
                                      visits: 1, visitAt: sale.soldAt)
        guard let moved = try await repos.members.apply(movement, to: member.id) else {
            throw DomainError.conflict("member \(member.cardNumber) no longer has the points or stored value this sale spends")
        }
        var entries: [MemberLedgerEntry] = []
        func entry(_ balance: MemberBalance, _ delta: Int64, _ after: Int64, _ reason: MemberLedgerReason) {
            entries.append(.line(member, balance, delta, after: after, reason, sale: sale.id, actor: actor,
                                 note: sale.receiptNumber.map { "receipt \($0)" }, at: sale.recordedAt))
        }
        if plan.pointsRedeemed > 0 { entry(.points, -plan.pointsRedeemed, moved.points - earned, .redeem) }
        if earned > 0 { entry(.points, earned, moved.points, .earn) }
        if plan.storedValueSpent > 0 { entry(.storedValue, -plan.storedValueSpent, moved.storedValue, .spend) }
        try await repos.members.appendLedger(entries, orgPath: orgPath)
        try await repos.members.recordPurchase(MemberPurchase(saleId: sale.id, memberId: member.id, storeId: sale.storeId, kind: .sale, originalSaleId: nil,
                                                              soldAt: sale.soldAt, total: sale.total, paid: paid, pointsEarned: earned,
                                                              pointsRedeemed: plan.pointsRedeemed, storedValueSpent: plan.storedValueSpent),
                                               merchant: member.merchantId, orgPath: orgPath)
        if !plan.categories.isEmpty, member.consent.analytics { try await repos.members.addCategorySpend(member.id, spend: plan.categories) }
        try await retier(moved, program: plan.at.program, repos: repos)
    }

    /// Reverses a refund's share of its original sale inside the refund's transaction: stored value and
    /// redeemed points by the refund's tenders, earned points and spend in proportion to the money given
    /// back. Earned points already spent are taken only down to zero (the ledger records what was taken).
    static func reverse(_ refund: Sale, original: Sale, orgPath: String, actor: String, repos: any Repositories) async throws {
        guard let bought = try await repos.members.purchase(sale: original.id), let member = try await repos.members.find(bought.memberId) else { return }
        let program = try await repos.members.program(merchant: member.merchantId) ?? MemberProgram(merchantId: member.merchantId)
        let earlier = try await repos.members.refunds(of: original.id)
        let pointsTendered = original.tenders.filter { $0.kind == .points }.reduce(0) { $0 + $1.amount }
        let pointsBackAmount = refund.tenders.filter { $0.kind == .points }.reduce(0) { $0 + $1.amount }
        let storedValueBack = refund.tenders.filter { $0.kind == .storedValue }.reduce(0) { $0 + $1.amount }
        let pointsBack = pointsTendered > 0 ? min(bought.pointsRedeemed * pointsBackAmount / pointsTendered,
                                                  bought.pointsRedeemed + earlier.reduce(0) { $0 + $1.pointsRedeemed }) : 0
        let paidBack = refund.total - pointsBackAmount
        let earnedLeft = bought.pointsEarned + earlier.reduce(0) { $0 + $1.pointsEarned }
        let allBack = (earlier.reduce(0) { $0 - $1.paid }) + paidBack >= bought.paid
        var reversal = allBack ? earnedLeft : min(earnedLeft, bought.paid > 0 ? bought.pointsEarned * paidBack / bought.paid : 0)
        // Points already spent cannot be taken back below zero.
        reversal = min(reversal, member.points + pointsBack)
        let movement = MemberMovement(points: pointsBack - reversal, storedValue: storedValueBack, spend: -paidBack, pointsEarned: -reversal)
        guard let moved = try await repos.members.apply(movement, to: member.id) else {
            throw DomainError.conflict("member \(member.cardNumber) cannot take this refund")
        }
        var entries: [MemberLedgerEntry] = []
        func entry(_ balance: MemberBalance, _ delta: Int64, _ after: Int64, _ reason: MemberLedgerReason) {
            entries.append(.line(member, balance, delta, after: after, reason, sale: refund.id, actor: actor,
                                 note: "refund of receipt \(original.receiptNumber ?? 0)", at: refund.recordedAt))
        }
        if pointsBack > 0 { entry(.points, pointsBack, moved.points + reversal, .refund) }
        if reversal > 0 { entry(.points, -reversal, moved.points, .earnReversal) }
        if storedValueBack > 0 { entry(.storedValue, storedValueBack, moved.storedValue, .refund) }
        try await repos.members.appendLedger(entries, orgPath: orgPath)
        try await repos.members.recordPurchase(MemberPurchase(saleId: refund.id, memberId: member.id, storeId: refund.storeId, kind: .refund,
                                                              originalSaleId: original.id, soldAt: refund.soldAt, total: -refund.total, paid: -paidBack,
                                                              pointsEarned: -reversal, pointsRedeemed: -pointsBack, storedValueSpent: -storedValueBack),
                                               merchant: member.merchantId, orgPath: orgPath)
        try await retier(moved, program: program, repos: repos)
    }

    /// Moves the member to the tier their totals now reach (up or down).
    static func retier(_ member: Member, program: MemberProgram, repos: any Repositories) async throws {
        let tier = program.tier(spend: member.lifetimeSpend, points: member.lifetimePoints)
        if tier.code != member.tier { try await repos.members.setTier(member.id, tier: tier.code) }
    }
}

extension SalesService {
    /// The store's time zone (its register settings; Asia/Shanghai by default).
    static func timeZone(store: OrgID, repos: any Repositories) async throws -> TimeZone {
        let settings = try await repos.registerSettings.find(store: store) ?? RegisterSettings(storeId: store)
        return TimeZone(identifier: settings.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
    }
}
