import Foundation

/// Reads the heartbeat body terminals send every few minutes, in one pass over its bytes, for the
/// terminal gateway's fast lane.
///
/// Why: decoding the heartbeat with the strict scan and `JSONDecoder` was a quarter of the server's
/// time per heartbeat. This reader accepts only the plain form of the body — the known fields once
/// each, ASCII strings without escapes, integers where integers belong, the location's fields, UTC
/// dates as `Date.iso8601` writes them — and for that form gives exactly what the strict decoder
/// gives. Anything else (an unknown or repeated key, an escape, non-ASCII text, a string with many
/// digits, an odd number, a missing location field) returns nil, and the caller hands the body to
/// the strict decoder, which decides it and words the error. So the card-data guard cannot be
/// side-stepped here: no string this reader accepts can hold a card number or track data.
public enum HeartbeatWire {
    /// The heartbeat in `data`, or nil when the body is not in the plain form (decode it strictly).
    public static func parse(_ data: Data) -> Heartbeat? {
        data.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw.bindMemory(to: UInt8.self))
            return reader.heartbeat()
        }
    }

    /// The heartbeat's fields, and their names' bytes in the same order.
    static let heartbeatFields = Heartbeat.CodingKeys.allCases
    static let heartbeatKeys = heartbeatFields.map { Array($0.stringValue.utf8) }
    /// The location's fields' names, in the order `Reader.location` numbers them.
    static let locationKeys = ["latitude", "longitude", "source", "accuracy", "reportedAt"].map { Array($0.utf8) }

    /// Strings with this many digits or more go to the strict decoder and its card-data guard
    /// (a card number has 15 to 19; a version string a handful).
    static let digitLimit = 12

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func heartbeat() -> Heartbeat? {
            var result = Heartbeat()
            var seen: UInt16 = 0
            let complete = object { reader, key -> Bool in
                guard let bit = reader.index(of: key, in: HeartbeatWire.heartbeatKeys), seen & (1 << bit) == 0 else { return false }
                seen |= 1 << bit
                switch HeartbeatWire.heartbeatFields[bit] {
                case .appVersion: return reader.nullable({ $0.text() }, into: &result.appVersion)
                case .firmwareVersion: return reader.nullable({ $0.text() }, into: &result.firmwareVersion)
                case .parametersVersion: return reader.nullable({ $0.text() }, into: &result.parametersVersion)
                case .battery: return reader.nullable({ $0.integer() }, into: &result.battery)
                case .signal: return reader.nullable({ $0.integer() }, into: &result.signal)
                case .secondsSinceTransaction: return reader.nullable({ $0.integer() }, into: &result.secondsSinceTransaction)
                case .paper: return reader.nullable({ $0.text().flatMap(PaperStatus.init(rawValue:)) }, into: &result.paper)
                case .location: return reader.nullable({ $0.location() }, into: &result.location)
                }
            }
            skipWhitespace()
            guard complete, position == bytes.count else { return nil }
            return result
        }

        /// `null` (the field is nil) or a value `read` takes; false when neither is there.
        /// A value not in the plain form fails the whole body, so nothing is reset on failure.
        mutating func nullable<T>(_ read: (inout Reader) -> T?, into field: inout T?) -> Bool {
            skipWhitespace()
            if literal("null") {
                field = nil
                return true
            }
            guard let value = read(&self) else { return false }
            field = value
            return true
        }

        /// The location object: latitude, longitude, source and reportedAt required, accuracy optional.
        mutating func location() -> LocationReport? {
            var latitude: Double?, longitude: Double?, source: LocationSource?, accuracy: Double?, reportedAt: Date?
            var seen: UInt8 = 0
            let complete = object { reader, key -> Bool in
                guard let bit = reader.index(of: key, in: HeartbeatWire.locationKeys), seen & (1 << bit) == 0 else { return false }
                seen |= 1 << bit
                reader.skipWhitespace()
                switch bit {
                case 0: latitude = reader.number(); return latitude != nil
                case 1: longitude = reader.number(); return longitude != nil
                case 2: source = reader.text().flatMap(LocationSource.init(rawValue:)); return source != nil
                case 3: return reader.nullable({ $0.number() }, into: &accuracy)
                default: reportedAt = reader.dateText(); return reportedAt != nil
                }
            }
            guard complete, let latitude, let longitude, let source, let reportedAt else { return nil }
            return LocationReport(latitude: latitude, longitude: longitude, source: source, accuracy: accuracy, reportedAt: reportedAt)
        }

        /// `{ "key": value, … }`, each key (its bytes' range) handed to `member`, which reads the
        /// value; false when the syntax or a member fails.
        private mutating func object(_ member: (inout Reader, Range<Int>) -> Bool) -> Bool {
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return false }
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return true }
            while true {
                skipWhitespace()
                guard let key = plainString() else { return false }
                skipWhitespace()
                guard take(UInt8(ascii: ":")), member(&self, key) else { return false }
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                return take(UInt8(ascii: "}"))
            }
        }

        /// The position in `table` of the key whose bytes are `range`.
        func index(of range: Range<Int>, in table: [[UInt8]]) -> Int? {
            let key = UnsafeBufferPointer(rebasing: bytes[range])
            return table.firstIndex { $0.count == key.count && $0.elementsEqual(key) }
        }

        /// A string of printable ASCII without escapes and with fewer than `digitLimit` digits.
        mutating func text() -> String? {
            guard let range = plainString() else { return nil }
            var digits = 0
            for index in range where bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") { digits += 1 }
            guard digits < HeartbeatWire.digitLimit else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }

        /// A UTC date as `Date.iso8601` writes it (with or without milliseconds).
        mutating func dateText() -> Date? {
            guard let range = plainString(), let millis = Date.parseUTC(UnsafeBufferPointer(rebasing: bytes[range])) else { return nil }
            return Date(timeIntervalSince1970: Double(millis) / 1000)
        }

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

        /// A JSON integer that fits in an `Int` (no fraction, no exponent, no leading zeros).
        mutating func integer() -> Int? {
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

        /// A JSON number, as a `Double`.
        mutating func number() -> Double? {
            let start = position
            _ = take(UInt8(ascii: "-"))
            let first = position
            guard skipDigits() > 0, !(position - first > 1 && bytes[first] == UInt8(ascii: "0")) else { return nil }
            if take(UInt8(ascii: ".")), skipDigits() == 0 { return nil }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                if skipDigits() == 0 { return nil }
            }
            guard position - start <= 40, let value = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)),
                  value.isFinite else { return nil }
            return value
        }

        private mutating func skipDigits() -> Int {
            let first = position
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") { position += 1 }
            return position - first
        }

        /// Whether a fraction or exponent follows an integer (then it is not one).
        private func continuesNumber() -> Bool {
            guard position < bytes.count else { return false }
            return [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position])
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

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
        }
    }
}
