import Foundation

/// Where "now" comes from, so tests can move time (lock-outs, expiries) without sleeping.
public struct Clock: Sendable {
    private let source: @Sendable () -> Date

    public init(_ source: @escaping @Sendable () -> Date) { self.source = source }

    /// The real wall clock.
    public static let system = Clock { Date() }

    /// Current time.
    public func now() -> Date { source() }
}

/// Conversions between `Date` and the integer epoch milliseconds stored in every `*_at` column.
///
/// Integers compare and index identically on SQLite and PostgreSQL; all times are UTC.
public enum EpochMillis {
    /// Milliseconds since 1970 (UTC).
    public static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    /// The date for stored milliseconds.
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

extension Date {
    /// ISO 8601 in UTC with milliseconds: the one text form of time in APIs and exports.
    public var iso8601: String {
        // Print the stored (rounded) millisecond. The formatter truncates, and a binary fraction such
        // as .123 is really .12299…, so format a point safely inside that millisecond.
        Date(timeIntervalSince1970: (Double(EpochMillis.from(self)) + 0.25) / 1000)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
