import Foundation
import Testing
import TillyardKit

/// Integer minor-unit money: exact sums, refused currency mixes and overflow, two-decimal text.
@Suite struct MoneyTests {
    @Test func addsAmountsOfTheSameCurrency() throws {
        let sum = try Money(minorUnits: 1999).adding(Money(minorUnits: 1))
        #expect(sum == Money(minorUnits: 2000, currency: "CNY"))
        let refund = try Money(minorUnits: 500, currency: "USD").adding(Money(minorUnits: -750, currency: "USD"))
        #expect(refund == Money(minorUnits: -250, currency: "USD"))
        #expect(try Money.zero().adding(Money(minorUnits: 42)) == Money(minorUnits: 42))
    }

    @Test func tenCentsTenTimesIsExactlyOneYuan() throws {
        var total = Money.zero()
        for _ in 0..<10 { total = try total.adding(Money(minorUnits: 10)) }
        #expect(total.minorUnits == 100)
        #expect(total.description == "CNY 1.00")
    }

    @Test func refusesMixedCurrencies() {
        let error = #expect(throws: DomainError.self) {
            try Money(minorUnits: 100, currency: "CNY").adding(Money(minorUnits: 100, currency: "USD"))
        }
        #expect(error?.fieldNames == ["currency"])
        #expect(error?.message.contains("cannot add USD to CNY") == true)
    }

    @Test func refusesOverflowInsteadOfWrapping() {
        let up = #expect(throws: DomainError.self) { try Money(minorUnits: .max).adding(Money(minorUnits: 1)) }
        #expect(up?.fieldNames == ["amount"])
        let down = #expect(throws: DomainError.self) { try Money(minorUnits: .min).adding(Money(minorUnits: -1)) }
        #expect(down?.fieldNames == ["amount"])
        #expect(throws: Never.self) { try Money(minorUnits: .max).adding(Money(minorUnits: 0)) }
    }

    @Test(arguments: [
        (Int64(1999), "CNY 19.99"), (0, "CNY 0.00"), (5, "CNY 0.05"), (10, "CNY 0.10"), (100, "CNY 1.00"),
        (-5, "CNY -0.05"), (-1999, "CNY -19.99"), (-100, "CNY -1.00"), (123_456_789, "CNY 1234567.89"),
        (.max, "CNY 92233720368547758.07"), (.min, "CNY -92233720368547758.08"),
    ])
    func descriptionHasTwoDecimalsAndASign(minorUnits: Int64, text: String) {
        #expect(Money(minorUnits: minorUnits).description == text)
        #expect(Money(minorUnits: minorUnits).decimalText == String(text.dropFirst(4)))
    }

    @Test func descriptionUsesTheCurrencyCode() {
        #expect(Money(minorUnits: 250, currency: "USD").description == "USD 2.50")
    }

    @Test func codableKeepsMinorUnitsAsIntegers() throws {
        let json = try JSONEncoder().encode(Money(minorUnits: 1999))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["minorUnits"] as? Int == 1999)
        #expect(object["currency"] as? String == "CNY")
        #expect(try JSONDecoder().decode(Money.self, from: json) == Money(minorUnits: 1999))
    }
}

/// Typed yuan amounts become fen exactly, or are refused.
@Suite struct YuanParsingTests {
    @Test(arguments: [("1850", Int64(185_000)), ("1850.5", 185_050), ("1850.50", 185_050), ("0.01", 1), (" 7 ", 700)])
    func accepted(text: String, fen: Int64) throws {
        #expect(try Money.minorUnits(fromYuan: text, field: "amount") == fen)
    }

    @Test(arguments: ["", "-1", "1.005", "1,850", "abc", "1e3", ".5", "12345678901234567"])
    func refused(text: String) {
        #expect(throws: DomainError.self) { try Money.minorUnits(fromYuan: text, field: "amount") }
    }
}
