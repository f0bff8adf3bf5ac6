import Foundation
import Testing
import TillyardKit

/// PCI guard: full PANs, CVVs, track data and PIN blocks are refused wherever they appear in a
/// JSON body, with the field path named and the value never echoed; harmless look-alikes pass.
@Suite struct CardDataGuardTests {
    /// Runs the guard over a parsed tree (as CSV and form input get it) and, for JSON objects, the
    /// API's one-pass `StrictJSON` scan, which must come to the same verdict with the same message.
    static func check(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var treeError: (any Error)?
        do {
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
            try CardDataGuard.check(object)
        } catch {
            treeError = error
        }
        if json.hasPrefix("{") {
            var scanError: (any Error)?
            do { _ = try StrictJSON.scan(Data(json.utf8)) } catch { scanError = error }
            #expect(String(describing: treeError) == String(describing: scanError), "tree guard and scan differ on \(json)",
                    sourceLocation: sourceLocation)
        }
        if let treeError { throw treeError }
    }

    /// The message of the `unprocessable` error thrown for a body.
    static func refusal(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            try check(json)
            Issue.record("expected \(json) to be refused", sourceLocation: sourceLocation)
            return nil
        } catch let error as DomainError {
            #expect(error.isUnprocessable, "refusal must be unprocessable, got \(error)", sourceLocation: sourceLocation)
            return error.message
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test(arguments: [
        (#"{"pan": "x"}"#, "pan"),
        (#"{"cvv": "123"}"#, "cvv"),
        (#"{"track2": "abc"}"#, "track2"),
        (#"{"pinBlock": "0412AC89ABCDEF67"}"#, "pinBlock"),
        (#"{"PIN_BLOCK": "0412AC89ABCDEF67"}"#, "PIN_BLOCK"),
        (#"{"card-number": "1"}"#, "card-number"),
        (#"{"payment": {"card": {"CVV2": 123}}}"#, "payment.card.CVV2"),
        (#"{"lines": [{"sku": "A1"}, {"sku": "B2", "track_2": "x"}]}"#, "lines.1.track_2"),
        (#"{"a": [[{"b": {"pan": ["x"]}}]]}"#, "a.0.0.b.pan"),
        (#"{"pan": {"nested": "object"}}"#, "pan"),
    ])
    func refusesForbiddenKeysWithTheirPath(json: String, path: String) throws {
        let message = try #require(Self.refusal(json))
        #expect(message.contains("field \(path) "), "message should name \(path): \(message)")
    }

    @Test(arguments: [
        (#"{"note": "4111111111111111"}"#, "note"),
        (#"{"note": "4111 1111 1111 1111"}"#, "note"),
        (#"{"note": "4111-1111-1111-1111"}"#, "note"),
        (#"{"note": "5555555555554444"}"#, "note"),
        (#"{"note": "378282246310005"}"#, "note"),
        (#"{"note": "6011111111111117"}"#, "note"),
        (#"{"refs": ["ok", "4111111111111111"]}"#, "refs.1"),
        (#"{"order": {"lines": [{"memo": "5555555555554444"}]}}"#, "order.lines.0.memo"),
        (#"{"swipe": ";4111111111111111=25121010000000000000?"}"#, "swipe"),
        (#"{"swipe": "%B4111111111111111^DOE/JOHN^2512101000000000000000?"}"#, "swipe"),
    ])
    func refusesCardNumbersAndTrackDataWherever(json: String, path: String) throws {
        let message = try #require(Self.refusal(json))
        #expect(message.contains("field \(path) "), "message should name \(path): \(message)")
        #expect(!message.contains("4111") && !message.contains("5555") && !message.contains("3782") && !message.contains("6011"),
                "the message must never echo card data: \(message)")
    }

    @Test func refusalDoesNotEchoTheValueUnderAForbiddenKey() throws {
        let message = try #require(Self.refusal(#"{"cvv": "987"}"#))
        #expect(!message.contains("987"))
    }

    @Test(arguments: [
        #"{"maskedPan": "411111******1111"}"#,
        #"{"barcode": "6901234567892"}"#,
        #"{"pan": null}"#,
        #"{"cvv": null, "track2": null, "pinBlock": null}"#,
        #"{"lines": [{"pan": null}]}"#,
        #"{"id": "0190f3a2-7b1c-7d2e-8f3a-0123456789ab"}"#,
        #"{"ids": ["01234567-8901-7234-8678-901234567890"]}"#,
        #"{"note": "4111111111111112"}"#,
        #"{"note": "1234567812345670"}"#,
        #"{"note": "79927398713"}"#,
        #"{"phone": "+86 138 0013 8000"}"#,
        #"{"amount": 1999, "currency": "CNY", "paid": true, "tip": null}"#,
        #"{"name": "Café ; mit = Zeichen"}"#,
        #"{"panorama": "4111", "company": "x", "spin": "y"}"#,
        #"{}"#,
        #"[]"#,
        #""just text""#,
    ])
    func acceptsHarmlessValues(json: String) {
        #expect(throws: Never.self) { try Self.check(json) }
    }

    @Test func luhnCheck() {
        #expect(CardDataGuard.luhn("79927398713"))
        #expect(!CardDataGuard.luhn("79927398710"))
        #expect(CardDataGuard.luhn("4111111111111111"))
        #expect(!CardDataGuard.luhn("4111111111111112"))
        #expect(!CardDataGuard.luhn("41111x1111111111"), "non-digits fail")
    }

    @Test func looksLikeCardDataNeedsLengthBrandDigitAndLuhn() {
        #expect(CardDataGuard.looksLikeCardData("4111111111111111"))
        #expect(CardDataGuard.looksLikeCardData("  4111111111111111  "))
        #expect(CardDataGuard.looksLikeCardData("4000056655665556"))
        // Luhn-valid, but the wrong length or first digit for a card.
        #expect(CardDataGuard.luhn("6901234567892") && !CardDataGuard.looksLikeCardData("6901234567892"))
        #expect(CardDataGuard.luhn("1234567812345670") && !CardDataGuard.looksLikeCardData("1234567812345670"))
        // Track 2 needs a long digit run; a short one in ";…=…" text is fine.
        #expect(CardDataGuard.looksLikeCardData(";4111111111111111=25121010000000000000?"))
        #expect(!CardDataGuard.looksLikeCardData(";note=12345"))
    }

    /// ASCII text is checked byte by byte, other text through Foundation: both come to the same verdicts.
    @Test func asciiAndUnicodeTextGetTheSameVerdicts() {
        // U+3000 (ideographic space) is trimmed too, which sends the same text down the Unicode path.
        let wide = "\u{3000}"
        for (text, card) in [("4111 1111 1111 1111", true), ("\t4111-1111-1111-1111\t", true), ("%B4111111111111111^DOE/JOHN^2512", true),
                             ("  ;4111111111111111=2512?", true), ("0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b", false),
                             ("411111111111111", false), ("41111111111111111111", false), ("4111111111111111x", false),
                             ("12345678901234567890", false), (";123456789012=", false)] {
            #expect(CardDataGuard.looksLikeCardData(text) == card, "\(text)")
            #expect(CardDataGuard.looksLikeCardData(wide + text + wide) == card, "\(text) between wide spaces")
        }
    }
}
