import Foundation
import Testing
@testable import TillyardKit

/// The flat form of promotion rules (API bodies, console forms), their plain-language names, and
/// where a promotion stands in time.
@Suite struct PromotionRulesTests {
    @Test func everyRuleSurvivesItsFlatForm() throws {
        let rules: [PromotionRule] = [.percentOff(basisPoints: 750), .amountOff(fenPerUnit: 100), .fixedPrice(fenPerUnit: 990),
                                      .buyXGetY(buy: 2, free: 1), .memberPrice]
        for rule in rules {
            let parts = PromotionRules.parts(rule)
            #expect(try PromotionRules.rule(kind: parts.kind, basisPoints: parts.basisPoints, amount: parts.amount, buy: parts.buy, free: parts.free) == rule)
        }
        #expect(Set(rules.map { PromotionRules.parts($0).kind }) == Set(PromotionRules.kinds))
    }

    @Test func aKindWithoutItsNumberOrAnUnknownKindIsNamed() {
        #expect(throws: DomainError.invalid("rule.basisPoints", "is required for a percentOff promotion")) {
            _ = try PromotionRules.rule(kind: "percentOff", basisPoints: nil, amount: 500, buy: nil, free: nil)
        }
        #expect(throws: DomainError.invalid("rule.free", "is required for a buyXGetY promotion")) {
            _ = try PromotionRules.rule(kind: "buyXGetY", basisPoints: nil, amount: nil, buy: 2, free: nil)
        }
        #expect(throws: DomainError.self) { _ = try PromotionRules.rule(kind: "halfOff", basisPoints: nil, amount: nil, buy: nil, free: nil) }
    }

    @Test func descriptionsReadAsACashierWouldSayThem() throws {
        #expect(PromotionRules.describe(.percentOff(basisPoints: 1500)) == "15% off")
        #expect(PromotionRules.describe(.percentOff(basisPoints: 750)) == "7.50% off")
        #expect(PromotionRules.describe(.percentOff(basisPoints: 1005)) == "10.05% off")
        #expect(PromotionRules.describe(.buyXGetY(buy: 2, free: 1)) == "buy 2 get 1 free")
        #expect(PromotionRules.describe(.memberPrice) == "member price")
        #expect(PromotionRules.describe(TimeWindow.always) == "always")
        let window = TimeWindow(startsAt: Date(timeIntervalSince1970: 1_790_000_000), weekdays: [7, 6], hours: try BusinessHours.parse("18:00-22:00"))
        #expect(PromotionRules.describe(window) == "from 2026-09-21T14:13:20Z weekdays 6,7 hours 18:00-22:00")
    }

    @Test func statusFollowsTheWindowsDates() {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let promotion = Promotion(id: .generate(now: start), name: "x", rule: .memberPrice,
                                  window: TimeWindow(startsAt: start, endsAt: start.addingTimeInterval(3600)))
        let record = PromotionRecord(promotion: promotion, merchantId: .generate(now: start), createdBy: "user:x", createdAt: start, updatedAt: start)
        #expect(record.status(at: start.addingTimeInterval(-1)) == .scheduled)
        #expect(record.status(at: start) == .running)
        #expect(record.status(at: start.addingTimeInterval(3600)) == .ended)
    }
}
