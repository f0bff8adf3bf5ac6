import Foundation
import TillyardKit

extension JSONColumn {
    /// A terminal's status as its stored document, written by hand: the same JSON `encode(_:)` gives
    /// for it (sorted keys, dates as epoch milliseconds, absent fields left out), so either reads back
    /// with `decode`.
    ///
    /// Why: every heartbeat flush writes each terminal's status twice (latest state and sampled
    /// history), and a `JSONEncoder` per document was the writer's largest cost on the heartbeat path.
    static func encode(_ status: TerminalStatus) throws -> String {
        let beat = status.heartbeat
        let numbers = [beat.location?.latitude, beat.location?.longitude, beat.location?.accuracy].compactMap { $0 }
        guard numbers.allSatisfy(\.isFinite) else { return try encode(generic: status) }
        var fields: [String] = []
        if let text = beat.appVersion { fields.append(#""appVersion":"# + WireJSON.quoted(text)) }
        if let battery = beat.battery { fields.append(#""battery":\#(battery)"#) }
        if let text = beat.firmwareVersion { fields.append(#""firmwareVersion":"# + WireJSON.quoted(text)) }
        if let location = beat.location {
            var parts: [String] = []
            if let accuracy = location.accuracy { parts.append(#""accuracy":\#(accuracy)"#) }
            parts.append(#""latitude":\#(location.latitude)"#)
            parts.append(#""longitude":\#(location.longitude)"#)
            parts.append(#""reportedAt":\#(millis(location.reportedAt))"#)
            parts.append(#""source":"# + WireJSON.quoted(location.source.rawValue))
            fields.append(#""location":{"# + parts.joined(separator: ",") + "}")
        }
        if let paper = beat.paper { fields.append(#""paper":"# + WireJSON.quoted(paper.rawValue)) }
        if let text = beat.parametersVersion { fields.append(#""parametersVersion":"# + WireJSON.quoted(text)) }
        if let seconds = beat.secondsSinceTransaction { fields.append(#""secondsSinceTransaction":\#(seconds)"#) }
        if let signal = beat.signal { fields.append(#""signal":\#(signal)"#) }
        var document = #"{"heartbeat":{"# + fields.joined(separator: ",") + #"},"lastSeenAt":\#(millis(status.lastSeenAt))"#
        if let at = status.lastTransactionAt { document += #","lastTransactionAt":\#(millis(at))"# }
        return document + #","terminalId":"# + WireJSON.quoted(status.terminalId.rawValue) + "}"
    }

    /// A date as `JSONEncoder`'s `.millisecondsSince1970` writes it (a double, so it reads back exactly).
    private static func millis(_ date: Date) -> String { "\(1000.0 * date.timeIntervalSince1970)" }

    /// The generic encoder (for a value the hand-written form does not cover, and to check it against).
    static func encode<T: Encodable>(generic value: T) throws -> String { try encode(value) }
}
