import Foundation

/// One pass over a JSON request body, before it is decoded: checks the syntax, refuses duplicate
/// keys, applies the card-data guard (`CardDataGuard`) to every key and string, and returns the
/// top-level keys for the unknown-field check.
///
/// Why not `JSONSerialization` and a re-serialised copy for the decoder: building a whole object
/// tree of bridged values, walking it, writing it out again and decoding that was most of a
/// heartbeat's cost. Refusing duplicate keys is what makes decoding the raw bytes safe: with
/// a key twice, the guard and the decoder could each read a different copy, and card data could
/// slip past the guard.
public enum StrictJSON {
    /// The body is not one well-formed JSON object; `reason` says where, never echoing a value.
    public struct Malformed: Error, Equatable, Sendable {
        public let reason: String
    }

    /// Objects and arrays nested deeper than this are refused: no request of ours needs it, and
    /// a recursive scanner must not be driven into the stack's end.
    public static let maxDepth = 64

    /// Scans `data` (UTF-8) and returns its top-level keys in order.
    ///
    /// Throws `Malformed` for bad syntax, a top level that is not an object, or a duplicate key;
    /// `DomainError.unprocessable` naming the field when card data is present. `allowing` names
    /// fields (dotted paths) whose string value may carry digits, as in `CardDataGuard.check`.
    public static func scan(_ data: Data, allowing: Set<String> = []) throws -> [String] {
        try data.withUnsafeBytes { raw in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self), allowing: allowing)
            return try scanner.document()
        }
    }

    /// A path component, turned into text only when an error or an allowed field needs it.
    private enum Component {
        case key(String)
        case index(Int)
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let allowing: Set<String>
        var position = 0
        var path: [Component] = []

        init(bytes: UnsafeBufferPointer<UInt8>, allowing: Set<String>) {
            self.bytes = bytes
            self.allowing = allowing
        }

        mutating func document() throws -> [String] {
            skipWhitespace()
            guard peek() == UInt8(ascii: "{") else {
                throw Malformed(reason: position < bytes.count ? "request body must be a JSON object" : "request body is empty")
            }
            let keys = try object(depth: 1, collectKeys: true)
            skipWhitespace()
            guard position == bytes.count else { throw malformed("unexpected text after the JSON object") }
            return keys
        }

        // MARK: values

        mutating func value(depth: Int) throws {
            guard depth <= StrictJSON.maxDepth else { throw malformed("nested deeper than \(StrictJSON.maxDepth) levels") }
            guard let byte = peek() else { throw malformed("the JSON ends early") }
            switch byte {
            case UInt8(ascii: "{"): _ = try object(depth: depth, collectKeys: false)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""):
                let (start, end, escaped) = try stringSpan()
                // A card number is at least 15 characters, and track data longer still; text
                // shorter than that in bytes is shorter in characters too and cannot be either.
                if end - start >= 15 {
                    let text = escaped ? try unescape(start, end) : String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                    if CardDataGuard.looksLikeCardData(text) {
                        throw DomainError.unprocessable("field \(dotted()) looks like a full card number or track data, which Tillyard never accepts; send only a masked PAN (first 6 + last 4)")
                    }
                }
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw malformed("unexpected character")
            }
        }

        mutating func object(depth: Int, collectKeys: Bool) throws -> [String] {
            guard depth <= StrictJSON.maxDepth else { throw malformed("nested deeper than \(StrictJSON.maxDepth) levels") }
            position += 1 // {
            var keys: [String] = []
            var seen: Set<String> = []
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return keys
            }
            while true {
                guard peek() == UInt8(ascii: "\"") else { throw malformed("expected a quoted key") }
                let (start, end, escaped) = try stringSpan()
                let key = escaped ? try unescape(start, end) : String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                // A set only for large objects: most have a handful of keys, where a scan is cheaper.
                if keys.count < 16 ? keys.contains(key) : seen.contains(key) {
                    throw malformed("the key \"\(key)\" appears twice in one object")
                }
                keys.append(key)
                if keys.count == 16 { seen = Set(keys) } else if keys.count > 16 { seen.insert(key) }
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw malformed("expected ':' after a key") }
                position += 1
                skipWhitespace()
                path.append(.key(key))
                if !allowing.isEmpty, peek() == UInt8(ascii: "\""), allowing.contains(dotted()) {
                    // An allowed field's text is masked and fingerprinted by its handler at once.
                    _ = try stringSpan()
                } else {
                    if CardDataGuard.isForbiddenKey(key), peek() != UInt8(ascii: "n") || !isNull() {
                        throw DomainError.unprocessable("field \(dotted()) carries sensitive card data, which Tillyard never accepts; send only a masked PAN (first 6 + last 4)")
                    }
                    try value(depth: depth + 1)
                }
                path.removeLast()
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","):
                    position += 1
                    skipWhitespace()
                case UInt8(ascii: "}"):
                    position += 1
                    return collectKeys ? keys : []
                default:
                    throw malformed("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws {
            position += 1 // [
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return
            }
            var index = 0
            while true {
                path.append(.index(index))
                try value(depth: depth + 1)
                path.removeLast()
                index += 1
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","):
                    position += 1
                    skipWhitespace()
                case UInt8(ascii: "]"):
                    position += 1
                    return
                default:
                    throw malformed("expected ',' or ']' in an array")
                }
            }
        }

        /// Whether a `null` literal starts here (without consuming it).
        func isNull() -> Bool {
            var probe = self
            return (try? probe.literal("null")) != nil
        }

        mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw malformed("the JSON ends early") }
            for offset in 0..<count where bytes[position + offset] != word.utf8Start[offset] {
                throw malformed("unexpected character")
            }
            position += count
        }

        /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
        mutating func number() throws {
            if peek() == UInt8(ascii: "-") { position += 1 }
            guard let first = peek(), isDigit(first) else { throw malformed("a number needs digits") }
            position += 1
            if first != UInt8(ascii: "0") { skipDigits() }
            if peek() == UInt8(ascii: ".") {
                position += 1
                guard let next = peek(), isDigit(next) else { throw malformed("a number needs digits after '.'") }
                skipDigits()
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                position += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
                guard let next = peek(), isDigit(next) else { throw malformed("a number needs digits in its exponent") }
                skipDigits()
            }
        }

        // MARK: strings

        /// Moves past a string; returns the span between its quotes and whether it has escapes.
        mutating func stringSpan() throws -> (Int, Int, Bool) {
            position += 1 // "
            let start = position
            var escaped = false
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    position += 1
                    return (start, position - 1, escaped)
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                    guard position + 1 < bytes.count else { break }
                    switch bytes[position + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                         UInt8(ascii: "r"), UInt8(ascii: "t"):
                        position += 2
                    case UInt8(ascii: "u"):
                        guard position + 6 <= bytes.count, (position + 2..<position + 6).allSatisfy({ isHexDigit(bytes[$0]) }) else {
                            throw malformed("\\u needs four hex digits")
                        }
                        position += 6
                    default:
                        throw malformed("unknown escape in a string")
                    }
                } else if byte < 0x20 {
                    throw malformed("a control character inside a string must be escaped")
                } else {
                    position += 1
                }
            }
            throw malformed("a string is not closed")
        }

        /// The text of a string with escapes, checking each escape.
        func unescape(_ start: Int, _ end: Int) throws -> String {
            var units: [UInt16] = []
            var utf8: [UInt8] = []
            var index = start
            func flush() {
                if !utf8.isEmpty { units += String(decoding: utf8, as: UTF8.self).utf16; utf8.removeAll(keepingCapacity: true) }
            }
            while index < end {
                let byte = bytes[index]
                guard byte == UInt8(ascii: "\\") else {
                    utf8.append(byte)
                    index += 1
                    continue
                }
                guard index + 1 < end else { throw malformed("a string ends inside an escape") }
                flush()
                let kind = bytes[index + 1]
                index += 2
                switch kind {
                case UInt8(ascii: "\""): units.append(0x22)
                case UInt8(ascii: "\\"): units.append(0x5C)
                case UInt8(ascii: "/"): units.append(0x2F)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "u"):
                    guard index + 4 <= end, let unit = UInt16(String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<index + 4]), as: UTF8.self),
                                                              radix: 16) else {
                        throw malformed("\\u needs four hex digits")
                    }
                    units.append(unit)
                    index += 4
                default:
                    throw malformed("unknown escape in a string")
                }
            }
            flush()
            // Lone surrogates become U+FFFD, as decoders do; they cannot hide a digit.
            return String(decoding: units, as: UTF16.self)
        }

        // MARK: bytes

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        func isHexDigit(_ byte: UInt8) -> Bool {
            isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }

        mutating func skipDigits() {
            while let byte = peek(), isDigit(byte) { position += 1 }
        }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        /// The field being read, as `CardDataGuard` names fields: `location.latitude`, `lines.0.sku`.
        func dotted() -> String {
            path.map { component in
                switch component {
                case .key(let key): return key
                case .index(let index): return String(index)
                }
            }.joined(separator: ".")
        }

        func malformed(_ reason: String) -> Malformed {
            Malformed(reason: "request body is not valid JSON: \(reason) (at byte \(position))")
        }
    }
}
