import Foundation

/// A typed identifier: a UUIDv7 in canonical lowercase text form.
///
/// UUIDv7 starts with a millisecond timestamp, so ids sort by creation time. That gives us
/// cheap cursor paging (`WHERE id < cursor ORDER BY id DESC`) and index locality on both
/// SQLite and PostgreSQL. The phantom `Tag` stops a user id being passed where an org id is meant.
public struct Identifier<Tag>: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Parses and normalises external text; nil when it is not a UUID.
    public init?(validating text: String) {
        guard UUID(uuidString: text) != nil else { return nil }
        self.rawValue = text.lowercased()
    }

    /// A new time-ordered id.
    public static func generate(now: Date = Date()) -> Self {
        Self(rawValue: UUIDv7.make(now: now))
    }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// RFC 9562 version 7 UUIDs, ordered within a millisecond.
///
/// The 12 bits after the version carry a sequence (RFC 9562 §6.2, method 1): ids made one after
/// another in the same millisecond sort in the order they were made, which history lines and
/// "newest first" lists rely on. The timestamp is always the one asked for.
public enum UUIDv7 {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var lastMillis: UInt64 = 0
    nonisolated(unsafe) private static var counter: UInt16 = 0

    /// Builds a UUIDv7 string: 48 bits of Unix milliseconds, version 7, a 12-bit sequence, 62 random bits.
    public static func make(now: Date = Date()) -> String {
        // The same (rounded) milliseconds as `EpochMillis`, so an id's time equals its row's `created_at`.
        let millis = UInt64(max(0, EpochMillis.from(now)))
        var generator = SystemRandomNumberGenerator()
        let sequence: UInt16 = lock.withLock {
            if millis == lastMillis, counter < 0xFFF {
                counter += 1
            } else {
                // A new millisecond starts at a random point of the lower quarter, leaving room to count up.
                lastMillis = millis
                counter = UInt16.random(in: 0...0x3FF, using: &generator)
            }
            return counter
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8((millis >> (8 * (5 - UInt64(index)))) & 0xFF)
        }
        bytes[6] = 0x70 | UInt8(sequence >> 8)
        bytes[7] = UInt8(sequence & 0xFF)
        for index in 8..<16 {
            bytes[index] = UInt8.random(in: 0...255, using: &generator)
        }
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32]
            .map { String(characters[$0]) }
            .joined(separator: "-")
    }
}
