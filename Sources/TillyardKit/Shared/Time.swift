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
        let millis = EpochMillis.from(self)
        // Written by hand (every response carries dates, and a format style costs microseconds
        // each), for years 1–9999; anything else goes through the formatter.
        guard (Self.firstMillis..<Self.endMillis).contains(millis) else {
            // Print the stored (rounded) millisecond. The formatter truncates, and a binary fraction such
            // as .123 is really .12299…, so format a point safely inside that millisecond.
            return Date(timeIntervalSince1970: (Double(millis) + 0.25) / 1000)
                .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let ofDay = millis - days * 86_400_000
        let (year, month, day) = CivilDays.civil(days)
        var text = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int64, _ digits: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, 4, at: 0); text[4] = UInt8(ascii: "-")
        put(month, 2, at: 5); text[7] = UInt8(ascii: "-")
        put(day, 2, at: 8); text[10] = UInt8(ascii: "T")
        put(ofDay / 3_600_000, 2, at: 11); text[13] = UInt8(ascii: ":")
        put(ofDay / 60_000 % 60, 2, at: 14); text[16] = UInt8(ascii: ":")
        put(ofDay / 1000 % 60, 2, at: 17); text[19] = UInt8(ascii: ".")
        put(ofDay % 1000, 3, at: 20); text[23] = UInt8(ascii: "Z")
        return String(decoding: text, as: UTF8.self)
    }

    /// Reads the UTC forms `iso8601` writes, `2026-12-07T03:51:03.852Z` and `2026-12-07T03:51:03Z`,
    /// without a format style; nil for anything else (offsets, other precisions, bad dates), which
    /// callers hand to the full ISO 8601 parser.
    public init?(utcISO8601 text: String) {
        var text = text
        guard let millis = text.withUTF8({ Self.parseUTC($0) }) else { return nil }
        self.init(timeIntervalSince1970: Double(millis) / 1000)
    }

    static func parseUTC(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard bytes.count == 20 || bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              bytes[bytes.count - 1] == UInt8(ascii: "Z") else { return nil }
        func number(_ offset: Int, _ digits: Int) -> Int64? {
            var value: Int64 = 0
            for index in offset..<(offset + digits) {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2), year >= 1, (1...12).contains(month),
              day >= 1, day <= CivilDays.length(of: month, in: year), hour < 24, minute < 60, second < 60 else { return nil }
        var fraction: Int64 = 0
        if bytes.count == 24 {
            guard bytes[19] == UInt8(ascii: "."), let millis = number(20, 3) else { return nil }
            fraction = millis
        }
        return CivilDays.days(year: year, month: month, day: day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + fraction
    }

    /// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in milliseconds since 1970.
    private static let firstMillis: Int64 = -62_135_596_800_000
    private static let endMillis: Int64 = 253_402_300_800_000
}

extension Date {
    /// The HTTP Date header's form (RFC 9110 IMF-fixdate), e.g. "Mon, 07 Dec 2026 07:45:00 GMT".
    public var httpDate: String {
        let seconds = Int64(timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let civil = CivilDays.civil(days)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Int(civil.month) - 1]
        let time = seconds - days * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(two(civil.day)) \(month) \(civil.year) \(two(time / 3600)):\(two(time / 60 % 60)):\(two(time % 60)) GMT"
    }
}

/// Days since 1970-01-01 ⇄ proleptic Gregorian dates (Howard Hinnant's algorithms).
enum CivilDays {
    static func civil(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func length(of month: Int64, in year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
