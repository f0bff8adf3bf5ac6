import Foundation

/// JSON as the API and the terminal protocol speak it, shared by the server (`JSONIO`) and the
/// terminal agent so both sides write and read dates the same way.
public enum WireJSON {
    /// ISO 8601 dates with milliseconds, sorted keys, slashes unescaped.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.iso8601)
        }
        return encoder
    }

    /// Dates as ISO 8601, with or without fractional seconds, or a bare day (midnight UTC).
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = Date(utcISO8601: text) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            if let day = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return day }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid date '\(text)': use ISO 8601, e.g. 2027-06-30 or 2027-06-30T00:00:00Z")
        }
        return decoder
    }

    /// A JSON string literal for `text`, quotes included, escaped as RFC 8259 requires (slashes
    /// left alone, as the encoder leaves them).
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
