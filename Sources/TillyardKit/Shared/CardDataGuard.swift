import Foundation

/// Refuses input that carries card data we must never store (PCI DSS): a full card number,
/// CVV, track data or PIN block. Only a masked PAN (BIN + last 4) may ever enter the system.
///
/// It is applied to every JSON body before decoding, so no handler can forget it, and its
/// error message never echoes the offending value.
public enum CardDataGuard {
    /// Field names (lower case, without `_` and `-`) that must never be sent.
    static let forbiddenKeys: Set<String> = [
        "pan", "cardnumber", "primaryaccountnumber", "fullpan", "cvv", "cvv2", "cvc", "cvc2", "cid", "securitycode",
        "track1", "track2", "track3", "trackdata", "magstripe", "pinblock", "pin", "encryptedpin",
    ]

    /// Throws `unprocessable` naming the field when a JSON object tree carries card data.
    ///
    /// `allowing` names fields (dotted paths) whose digits are expected and are masked and
    /// fingerprinted at once by their handler, such as a settlement account number (which in
    /// China is often a debit card number); only the digit-pattern check is skipped for them.
    public static func check(_ json: Any, path: String = "", allowing: Set<String> = []) throws {
        if let object = json as? [String: Any] {
            for (key, value) in object {
                let field = path.isEmpty ? key : "\(path).\(key)"
                if allowing.contains(field), value is String { continue }
                if isForbiddenKey(key), !(value is NSNull) {
                    throw DomainError.unprocessable("field \(field) carries sensitive card data, which Tillyard never accepts; send only a masked PAN (first 6 + last 4)")
                }
                try check(value, path: field, allowing: allowing)
            }
        } else if let array = json as? [Any] {
            for (index, value) in array.enumerated() { try check(value, path: "\(path).\(index)", allowing: allowing) }
        } else if let text = json as? String, looksLikeCardData(text) {
            throw DomainError.unprocessable("field \(path) looks like a full card number or track data, which Tillyard never accepts; send only a masked PAN (first 6 + last 4)")
        }
    }

    /// Whether a field name is one that only card data goes by (`cvv`, `track_2`, `PinBlock`).
    public static func isForbiddenKey(_ key: String) -> Bool {
        // Every key of every JSON body comes through here: ASCII keys (all of ours) are folded
        // byte by byte; others take the full Unicode lower-casing (the Kelvin sign lower-cases to "k").
        var folded: [UInt8] = []
        folded.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            switch byte {
            case 0x5F, 0x2D: continue // _ -
            case 0x41...0x5A: folded.append(byte + 0x20)
            case 0x80...: return forbiddenKeys.contains(key.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: ""))
            default: folded.append(byte)
            }
        }
        guard (3...20).contains(folded.count) else { return false }
        return forbiddenKeys.contains(String(decoding: folded, as: UTF8.self))
    }

    /// Track 1/2 data, or a bare 15–19 digit number that passes the Luhn check and starts like a card.
    public static func looksLikeCardData(_ text: String) -> Bool {
        // Every string of every JSON body comes through here: ASCII text (ids, names, amounts) is
        // checked byte by byte with the same rules; other text takes Foundation's Unicode trimming.
        if let ascii = asciiLooksLikeCardData(text) { return ascii }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("%B") || trimmed.hasPrefix(";") && trimmed.contains("=") { return containsLongDigitRun(trimmed) }
        let digits = trimmed.filter { $0 != " " && $0 != "-" }
        guard (15...19).contains(digits.count), digits.allSatisfy(\.isASCIIDigitCharacter),
              let first = digits.first, "3456".contains(first) else { return false }
        return luhn(digits)
    }

    /// The Luhn (mod 10) check used by card numbers.
    public static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            guard var value = character.wholeNumberValue else { return false }
            if index % 2 == 1 { value *= 2; if value > 9 { value -= 9 } }
            sum += value
        }
        return sum % 10 == 0
    }

    /// `looksLikeCardData` for ASCII text (nil for any other): whitespace to trim is then only
    /// space and tab, and a digit one byte.
    private static func asciiLooksLikeCardData(_ text: String) -> Bool? {
        var utf8 = text.utf8[...]
        var digits = 0
        for byte in utf8 {
            if byte >= 0x80 { return nil }
            if byte >= 0x30, byte <= 0x39 { digits += 1 }
        }
        // Track data needs a run of 13 digits, a card number 15 of them.
        guard digits >= 13 else { return false }
        while let first = utf8.first, first == 0x20 || first == 0x09 { utf8 = utf8.dropFirst() }
        while let last = utf8.last, last == 0x20 || last == 0x09 { utf8 = utf8.dropLast() }
        if utf8.starts(with: "%B".utf8) || utf8.first == UInt8(ascii: ";") && utf8.contains(UInt8(ascii: "=")) {
            var run = 0
            for byte in utf8 {
                run = byte >= 0x30 && byte <= 0x39 ? run + 1 : 0
                if run >= 13 { return true }
            }
            return false
        }
        let number = utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") }
        guard (15...19).contains(number.count), number.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let first = number.first, (0x33...0x36).contains(first) else { return false }
        return luhn(String(decoding: number, as: UTF8.self))
    }

    private static func containsLongDigitRun(_ text: String) -> Bool {
        var run = 0
        for character in text {
            run = character.isASCIIDigitCharacter ? run + 1 : 0
            if run >= 13 { return true }
        }
        return false
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
