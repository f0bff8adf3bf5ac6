import Foundation

/// A one-pass reader for the plain form of a hot request body (a heartbeat, a sale upload), the
/// building blocks of the fast lanes (`HeartbeatWire`, the sale upload's `readPlain`).
///
/// Why: `StrictJSON`, the card-data guard and `JSONDecoder` cost a large share of the server's time
/// for the bodies terminals and registers send by the thousand. A fast lane built on this reader
/// accepts only the plain form — known fields once each, ASCII strings without escapes, integers
/// where integers belong — and gives for it exactly what the strict decoder gives. Every method
/// answers nil or false for anything else, and the caller then hands the whole body to the strict
/// path, which decides it and words the error. So the card-data guard cannot be side-stepped: no
/// string this reader accepts can hold a card number or track data.
///
/// A failed read leaves the position wherever it stopped: the whole body is then refused, so
/// nothing is ever rewound.
public struct PlainJSONReader {
    /// Strings with this many digits or more go to the strict decoder and its card-data guard
    /// (a card number has 15 to 19; a version string or a phone number fewer than 12).
    public static let digitLimit = 12

    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// What `read` makes of `data`, provided only white space follows it; nil otherwise.
    public static func document<T>(_ data: Data, _ read: (inout PlainJSONReader) -> T?) -> T? {
        data.withUnsafeBytes { raw in
            var reader = PlainJSONReader(bytes: raw.bindMemory(to: UInt8.self))
            guard let value = read(&reader) else { return nil }
            reader.skipWhitespace()
            return reader.position == reader.bytes.count ? value : nil
        }
    }

    // MARK: structure

    /// `{ "key": value, … }`: each key (its bytes' range, for `index(of:in:)`) is handed to
    /// `member`, positioned at the value, which it reads; false when the syntax or a member fails.
    public mutating func object(_ member: (inout PlainJSONReader, Range<Int>) -> Bool) -> Bool {
        skipWhitespace()
        guard take(UInt8(ascii: "{")) else { return false }
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return true }
        while true {
            skipWhitespace()
            guard let key = plainString() else { return false }
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { return false }
            skipWhitespace()
            guard member(&self, key) else { return false }
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "}"))
        }
    }

    /// `[ element, … ]`, each element read by `element` (positioned at it); nil when the syntax or
    /// an element fails.
    public mutating func array<T>(_ element: (inout PlainJSONReader) -> T?) -> [T]? {
        skipWhitespace()
        guard take(UInt8(ascii: "[")) else { return nil }
        var elements: [T] = []
        skipWhitespace()
        if take(UInt8(ascii: "]")) { return elements }
        while true {
            skipWhitespace()
            guard let value = element(&self) else { return nil }
            elements.append(value)
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "]")) ? elements : nil
        }
    }

    /// The position in `table` of the key whose bytes are `range` (as `object` hands it over).
    public func index(of range: Range<Int>, in table: [[UInt8]]) -> Int? {
        let key = UnsafeBufferPointer(rebasing: bytes[range])
        return table.firstIndex { $0.count == key.count && $0.elementsEqual(key) }
    }

    /// `null` (the field is nil) or a value `read` takes; false when neither is there.
    public mutating func nullable<T>(_ read: (inout PlainJSONReader) -> T?, into field: inout T?) -> Bool {
        skipWhitespace()
        if literal("null") {
            field = nil
            return true
        }
        guard let value = read(&self) else { return false }
        field = value
        return true
    }

    // MARK: values

    /// A string of printable ASCII without escapes and with fewer than `digitLimit` digits.
    public mutating func text() -> String? {
        guard let range = plainString(), hasFewDigits(range) else { return nil }
        return string(range)
    }

    /// A string as `text()` reads it, or a UUID in its 8-4-4-4-12 hex form whatever its digits
    /// (ids, and any free text that happens to be one): its 32 hex characters are too many for a
    /// card number (15 to 19) and it cannot start like track data (`%B`, `;`), so the card-data
    /// guard never refuses one.
    public mutating func textOrUUID() -> String? {
        // The shape first: its length check turns other text away at once, and an id needs no digit count.
        guard let range = plainString(), Self.isUUIDShaped(UnsafeBufferPointer(rebasing: bytes[range])) || hasFewDigits(range) else { return nil }
        return string(range)
    }

    private func hasFewDigits(_ range: Range<Int>) -> Bool {
        var digits = 0
        for index in range where bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") { digits += 1 }
        return digits < Self.digitLimit
    }

    /// Whether `bytes` are 36 characters: hex digits with dashes at 8, 13, 18 and 23.
    static func isUUIDShaped(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                let hex = (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
                guard hex else { return false }
            }
        }
        return true
    }

    /// A UTC date as `Date.iso8601` writes it (with or without milliseconds): the first form the
    /// wire decoder (`WireJSON.decoder`) tries, read the same way. Other forms go to the strict path.
    public mutating func dateText() -> Date? {
        guard let range = plainString(), let millis = Date.parseUTC(UnsafeBufferPointer(rebasing: bytes[range])) else { return nil }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// `true` or `false`.
    public mutating func bool() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    /// A JSON integer that fits in an `Int` (no fraction, no exponent, no leading zeros).
    public mutating func integer() -> Int? {
        let negative = take(UInt8(ascii: "-"))
        let first = position
        var value = 0
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            guard position - first < 18 else { return nil }
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        let digits = position - first
        guard digits > 0, !(digits > 1 && bytes[first] == UInt8(ascii: "0")), !continuesNumber() else { return nil }
        return negative ? -value : value
    }

    /// A JSON integer as an `Int64` (see `integer()`).
    public mutating func integer64() -> Int64? { integer().map(Int64.init) }

    /// A JSON number, as a `Double`.
    public mutating func number() -> Double? {
        let start = position
        _ = take(UInt8(ascii: "-"))
        let first = position
        guard skipDigits() > 0, !(position - first > 1 && bytes[first] == UInt8(ascii: "0")) else { return nil }
        if take(UInt8(ascii: ".")), skipDigits() == 0 { return nil }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
            if skipDigits() == 0 { return nil }
        }
        guard position - start <= 40, let value = Double(string(start..<position)), value.isFinite else { return nil }
        return value
    }

    // MARK: bytes

    /// The byte range inside the quotes of a string of printable ASCII without escapes.
    mutating func plainString() -> Range<Int>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return start..<(position - 1)
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            position += 1
        }
        return nil
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private mutating func skipDigits() -> Int {
        let first = position
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") { position += 1 }
        return position - first
    }

    /// Whether a fraction or exponent follows an integer (then it is not one).
    private func continuesNumber() -> Bool {
        guard position < bytes.count else { return false }
        let byte = bytes[position]
        return byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        for index in 0..<count where bytes[position + index] != word.utf8Start[index] { return false }
        position += count
        return true
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// Moves past JSON white space (space, tab, line feed, carriage return).
    public mutating func skipWhitespace() {
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }
}
