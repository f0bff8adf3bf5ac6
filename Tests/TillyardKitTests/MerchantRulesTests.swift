import Foundation
import Testing
@testable import TillyardKit

/// The pure rules of onboarding: hours, categories, phones, risk, document formats, names, MIDs.
@Suite struct MerchantRulesTests {
    @Test func businessHoursParseAndAnswerOvernight() throws {
        let day = try BusinessHours.parse("09:00-22:00")
        #expect(day.description == "09:00-22:00")
        #expect(day.isOpen(atMinute: 9 * 60) && !day.isOpen(atMinute: 22 * 60) && !day.isOpen(atMinute: 3 * 60))
        let night = try BusinessHours.parse(" 18:30 - 02:00 ")
        #expect(night.isOpen(atMinute: 23 * 60) && night.isOpen(atMinute: 60) && !night.isOpen(atMinute: 12 * 60))
        #expect(try BusinessHours.parse("24H") == .allDay && BusinessHours.allDay.isOpen(atMinute: 200))
        for bad in ["9-22", "09:00", "25:00-26:00", "09:00-09:00", "09:60-10:00", "", "09:00-22:00-23:00"] {
            #expect(throws: DomainError.self, "\(bad)") { try BusinessHours.parse(bad) }
        }
        // JSON carries the text form both ways.
        let data = try JSONEncoder().encode(night)
        #expect(String(decoding: data, as: UTF8.self) == "\"18:30-02:00\"")
        #expect(try JSONDecoder().decode(BusinessHours.self, from: data) == night)
    }

    @Test func categoriesPhonesAndRisk() throws {
        #expect(try MerchantRules.mcc(" 5411 ") == "5411")
        for bad in ["541", "54111", "54a1", "0000"] { #expect(throws: DomainError.self) { try MerchantRules.mcc(bad) } }
        #expect(MerchantRules.categoryName("5411", locale: "zh-CN") == "5411 超市")
        #expect(MerchantRules.categoryName("1234", locale: "en") == "1234")
        #expect(try MerchantRules.phone("+86 138 0013 8000", field: "p") == "13800138000")
        #expect(try MerchantRules.phone("021-61234567", field: "p") == "021-61234567")
        for bad in ["12345", "23800138000", "61234567", "021-612345678901", "138001380OO"] {
            #expect(throws: DomainError.self, "\(bad)") { try MerchantRules.phone(bad, field: "p") }
        }
        #expect(MerchantRules.suggestedRisk(mcc: "7995", businessType: .fixed) == .high)
        #expect(MerchantRules.suggestedRisk(mcc: "5411", businessType: .mobile) == .medium)
        #expect(MerchantRules.suggestedRisk(mcc: "5411", businessType: .fixed) == .low)
        #expect(throws: DomainError.invalid("contacts", "give 1 to 10 contacts")) { try MerchantRules.contacts([]) }
        #expect(RiskLevel.low < RiskLevel.high)
    }

    @Test func documentFormatsAndNames() {
        #expect(DocumentFormat.sniff([0xFF, 0xD8, 0xFF, 0xE0, 0, 0]) == .jpeg)
        #expect(DocumentFormat.sniff(Array("%PDF-1.7".utf8)) == .pdf)
        #expect(DocumentFormat.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(DocumentFormat.sniff(Array("GIF89a".utf8)) == nil && DocumentFormat.sniff([]) == nil)
        #expect(MerchantRules.filename("C:\\Users\\x\\执照.jpg", format: .jpeg) == "执照.jpg")
        #expect(MerchantRules.filename("a\"b;c\n.pdf", format: .pdf) == "abc.pdf")
        #expect(MerchantRules.filename("   ", format: .png) == "document.png")
        #expect(MerchantRules.filename(String(repeating: "x", count: 300), format: .png).count == 100)
    }

    @Test func midsFollowTheSequenceOfTheirPrefix() {
        let prefix = MerchantRules.midPrefix(areaCode: "2900", mcc: "5411")
        #expect(prefix == "89829005411")
        #expect(MerchantRules.nextMID(prefix: prefix, after: nil) == "898290054110001")
        #expect(MerchantRules.nextMID(prefix: prefix, after: "898290054110041") == "898290054110042")
        #expect(MerchantRules.nextMID(prefix: prefix, after: "898290054119999") == nil)
    }

    @Test func documentCipherRoundTripsAndRefusesSwaps() throws {
        let cipher = DocumentCipher(secret: Data(repeating: 7, count: 32))
        let first = DocumentID.generate(), second = DocumentID.generate()
        let blob = try cipher.seal(Array("licence".utf8), id: first)
        #expect(try cipher.open(blob, id: first) == Array("licence".utf8))
        #expect(throws: DomainError.self) { try cipher.open(blob, id: second) }
        #expect(throws: DomainError.self) { try DocumentCipher(secret: Data(repeating: 8, count: 32)).open(blob, id: first) }
    }
}
