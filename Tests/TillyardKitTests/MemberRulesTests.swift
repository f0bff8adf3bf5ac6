import Foundation
import Testing
@testable import TillyardKit

/// Member rules without storage: phone numbers and masks, lookup keys, birthdays, the keyring's
/// sealing (bound to member and field, rotation), program tiers and points, and offer matching.
@Suite struct MemberRulesTests {
    @Test func phonesMasksAndKeys() throws {
        #expect(try MemberRules.phone("+86 138-0013-8000") == "13800138000")
        #expect(try MemberRules.phone("8613800138000") == "13800138000")
        #expect(throws: DomainError.self) { try MemberRules.phone("2345678901") }
        #expect(MemberRules.maskPhone("13800138000") == "138****8000")
        #expect(MemberRules.maskName("王芳") == "王*" && MemberRules.maskName("Li Lei") == "L***")
        #expect(try MemberRules.key("13800138000") == .phone("13800138000"))
        #expect(try MemberRules.key("tym1:880000000001") == .card("880000000001"))
        #expect(try MemberRules.key("880000000001") == .card("880000000001"))
        #expect(try MemberRules.birthday("1990-05-12") == "1990-05-12" && MemberRules.birthMonth("05-12") == 5)
        #expect(throws: DomainError.self) { try MemberRules.birthday("1990-13-01") }
    }

    @Test func keyringSealsPerKeyAndBindsTheOwner() throws {
        let install = Data(repeating: 7, count: 32)
        let one = MemberKeyring.installation(install)
        let two = MemberKeyring.installation(install, extra: [("k2", Data(repeating: 9, count: 32))])
        let id = MemberID.generate(), other = MemberID.generate()
        let sealed = try one.seal(phone: "13800138000", name: "王芳", member: id)
        #expect(sealed.keyId == "k1" && sealed.phoneHash == two.phoneHash("13800138000"), "the lookup hash does not rotate")
        #expect(try two.open(sealed, member: id).name == "王芳", "old keys still open")
        #expect(throws: DomainError.self) { try one.open(sealed, member: other) }
        let resealed = try two.seal(phone: "13800138000", name: nil, member: id)
        #expect(resealed.keyId == "k2")
        #expect(throws: DomainError.conflict("member key k2 is not configured")) { try one.open(resealed, member: id) }
        #expect(try MemberKeyring.parse("k2:\(Data(repeating: 1, count: 32).base64EncodedString())").map(\.id) == ["k2"])
        #expect(throws: DomainError.self) { try MemberKeyring.parse("k2:c2hvcnQ=") }
    }

    @Test func tiersPointsAndOffers() throws {
        let program = MemberProgram(merchantId: OrgID(rawValue: "m"))
        try program.validate()
        #expect(program.tier(spend: 99_999, points: 0).code == "basic" && program.tier(spend: 100_000, points: 0).code == "silver")
        #expect(program.pointsEarned(paid: 12_345, tier: program.tier(code: "gold")) == 184, "123 yuan × 1.5")
        var broken = program
        broken.tiers[1].threshold = 0
        #expect(throws: DomainError.self) { try broken.validate() }

        let now = Date(timeIntervalSince1970: 1_790_000_000)  // September 2026
        let member = Member(id: .generate(), merchantId: OrgID(rawValue: "m"), homeStoreId: nil, cardNumber: "880000000001",
                            contact: SealedContact(keyId: "k1", phoneHash: nil, phone: nil, name: nil), birthday: "1990-09-01", tier: "basic",
                            lifetimeSpend: 60_000, createdAt: now, lastVisitAt: now.addingTimeInterval(-61 * 86_400))
        let rules = program.offers + [OfferRule(code: "vip", name: "VIP", kind: .topSpend, minimumSpend: 50_000, message: "m"),
                                      OfferRule(code: "dairy", name: "Dairy", kind: .favouriteCategory, category: "乳品", message: "m")]
        let codes = MemberOffers.matching(member, favourite: "乳品", rules: rules, now: now, timeZone: TimeZone(identifier: "Asia/Shanghai")!).map(\.code)
        #expect(codes == ["birthday", "lapsed", "vip", "dairy"])
        #expect(MemberOffers.matching(member, favourite: nil, rules: rules, now: now.addingTimeInterval(-40 * 86_400),
                                      timeZone: TimeZone(identifier: "Asia/Shanghai")!).map(\.code) == ["vip"])
    }
}
