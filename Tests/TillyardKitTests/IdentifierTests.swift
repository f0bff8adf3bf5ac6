import Foundation
import Testing
import TillyardKit

/// UUIDv7 identifiers: RFC 9562 layout, lowercase text, time ordering and parsing of external text.
@Suite struct IdentifierTests {
    /// Canonical UUIDv7 text: lowercase hex, version nibble 7, variant bits 10xx.
    static var v7Pattern: Regex<Substring> { /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/ }

    @Test func generatedIdsHaveTheUUIDv7Layout() throws {
        for _ in 0..<500 {
            let text = UUIDv7.make()
            #expect(text.wholeMatch(of: Self.v7Pattern) != nil, "not a lowercase UUIDv7: \(text)")
            let uuid = try #require(UUID(uuidString: text))
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7, "version nibble")
            #expect(bytes[8] & 0xC0 == 0x80, "RFC 4122 variant bits")
        }
    }

    @Test func theFirst48BitsAreUnixMilliseconds() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)   // exactly representable
        let text = UUIDv7.make(now: date).replacingOccurrences(of: "-", with: "")
        let expected = String(1_700_000_000_500, radix: 16)
        #expect(String(text.prefix(12)) == String(repeating: "0", count: 12 - expected.count) + expected)
    }

    @Test func timesBeforeTheEpochClampToZero() {
        let text = UUIDv7.make(now: Date(timeIntervalSince1970: -5))
        #expect(text.hasPrefix("00000000-0000-7"))
    }

    @Test func idsSortByCreationTimeAcrossMilliseconds() {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let ids = (0..<300).map { OrgID.generate(now: start.addingTimeInterval(Double($0) / 1000)) }
        #expect(ids.sorted() == ids)
        #expect(ids.map(\.rawValue).sorted() == ids.map(\.rawValue))
        #expect(Set(ids).count == ids.count, "random bits make ids unique within a millisecond")
    }

    @Test func idsOfTheSameMillisecondAreStillUnique() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let ids = (0..<1000).map { _ in UserID.generate(now: now) }
        #expect(Set(ids).count == 1000)
        #expect(Set(ids.map { $0.rawValue.prefix(13) }).count == 1, "same timestamp prefix")
    }

    @Test func validatingLowercasesCanonicalText() throws {
        let upper = "0190F3A2-7B1C-7D2E-8F3A-0123456789AB"
        let id = try #require(OrgID(validating: upper))
        #expect(id.rawValue == upper.lowercased())
        #expect(id == OrgID(rawValue: "0190f3a2-7b1c-7d2e-8f3a-0123456789ab"))
        let generated = OrgID.generate()
        #expect(OrgID(validating: generated.rawValue) == generated)
    }

    @Test(arguments: [
        "", "abc", "not-a-uuid", "0190f3a2-7b1c-7d2e-8f3a", "0190f3a2-7b1c-7d2e-8f3a-0123456789abc",
        "0190f3a2-7b1c-7d2e-8f3a-0123456789ag", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        " 0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "0190f3a2-7b1c-7d2e-8f3a-0123456789ab ",
        "'; DROP TABLE users; --", "../../etc/passwd",
    ])
    func validatingRejectsJunk(text: String) {
        #expect(OrgID(validating: text) == nil)
    }

    @Test func codableIsABareString() throws {
        let id = TokenID(rawValue: "0190f3a2-7b1c-7d2e-8f3a-0123456789ab")
        let encoded = try JSONEncoder().encode(["id": id])
        #expect(String(decoding: encoded, as: UTF8.self) == #"{"id":"0190f3a2-7b1c-7d2e-8f3a-0123456789ab"}"#)
        let decoded = try JSONDecoder().decode([String: TokenID].self, from: encoded)
        #expect(decoded["id"] == id)
        #expect(id.description == id.rawValue)
    }
}

/// Epoch-millisecond storage of dates.
@Suite struct EpochMillisTests {
    @Test func roundTripsToTheMillisecond() {
        let millis: Int64 = 1_790_000_000_123
        #expect(EpochMillis.from(EpochMillis.date(millis)) == millis)
        #expect(EpochMillis.date(millis) == Date(timeIntervalSince1970: 1_790_000_000.123))
    }

    @Test func roundsSubMillisecondsToTheNearestMillisecond() {
        #expect(EpochMillis.from(Date(timeIntervalSince1970: 1_000.0004)) == 1_000_000)
        #expect(EpochMillis.from(Date(timeIntervalSince1970: 1_000.0006)) == 1_000_001)
    }

    @Test func iso8601IsUTCWithMilliseconds() {
        #expect(EpochMillis.date(1_790_000_000_123).iso8601 == "2026-09-21T14:13:20.123Z")
        #expect(EpochMillis.date(1_790_000_000_000).iso8601 == "2026-09-21T14:13:20.000Z")
    }

    @Test func iso8601ShowsExactlyTheStoredMillisecond() throws {
        // Every stored millisecond must print as itself, not one less (binary fractions of a second).
        var wrong: [Int64] = []
        for millis in Int64(1_790_000_000_000)..<1_790_000_003_000 {
            let text = EpochMillis.date(millis).iso8601
            if !text.hasSuffix(String(format: ".%03dZ", Int(millis % 1000))) { wrong.append(millis) }
        }
        #expect(wrong.isEmpty, "\(wrong.count) of 3000 milliseconds print wrongly, e.g. \(wrong.prefix(3))")
        // And the text parses back to the same millisecond.
        let millis: Int64 = 1_790_000_000_123
        let parsed = try Date(EpochMillis.date(millis).iso8601, strategy: .iso8601)
        #expect(EpochMillis.from(parsed) == millis)
    }

    @Test func realClockTimesPrintToTheNearestMillisecondLikeTheyAreStored() {
        let date = Date(timeIntervalSince1970: 1_790_000_000.1236)
        #expect(EpochMillis.from(date) == 1_790_000_000_124)
        #expect(date.iso8601 == EpochMillis.date(EpochMillis.from(date)).iso8601)
    }
}
