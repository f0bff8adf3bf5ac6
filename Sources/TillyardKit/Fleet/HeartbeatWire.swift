import Foundation

/// Reads the heartbeat body terminals send every few minutes, in one pass over its bytes, for the
/// terminal gateway's fast lane.
///
/// Why: decoding the heartbeat with the strict scan and `JSONDecoder` was a quarter of the server's
/// time per heartbeat. This reader (built on `PlainJSONReader`) accepts only the plain form of the
/// body — the known fields once each, ASCII strings without escapes, integers where integers belong,
/// the location's fields, UTC dates as `Date.iso8601` writes them — and for that form gives exactly
/// what the strict decoder gives. Anything else (an unknown or repeated key, an escape, non-ASCII
/// text, a string with many digits, an odd number, a missing location field) returns nil, and the
/// caller hands the body to the strict decoder, which decides it and words the error. So the
/// card-data guard cannot be side-stepped here: no string this reader accepts can hold a card
/// number or track data.
public enum HeartbeatWire {
    /// The heartbeat in `data`, or nil when the body is not in the plain form (decode it strictly).
    public static func parse(_ data: Data) -> Heartbeat? {
        PlainJSONReader.document(data) { $0.heartbeat() }
    }

    /// The heartbeat's fields, and their names' bytes in the same order.
    static let heartbeatFields = Heartbeat.CodingKeys.allCases
    static let heartbeatKeys = heartbeatFields.map { Array($0.stringValue.utf8) }
    /// The location's fields' names, in the order `location()` numbers them.
    static let locationKeys = ["latitude", "longitude", "source", "accuracy", "reportedAt"].map { Array($0.utf8) }
}

private extension PlainJSONReader {
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
        return complete ? result : nil
    }

    /// The location object: latitude, longitude, source and reportedAt required, accuracy optional.
    mutating func location() -> LocationReport? {
        var latitude: Double?, longitude: Double?, source: LocationSource?, accuracy: Double?, reportedAt: Date?
        var seen: UInt8 = 0
        let complete = object { reader, key -> Bool in
            guard let bit = reader.index(of: key, in: HeartbeatWire.locationKeys), seen & (1 << bit) == 0 else { return false }
            seen |= 1 << bit
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
}
