import Foundation

/// Escaping for markup made by the server (HTML receipts, SVG charts): one place, so every page
/// escapes alike.
public enum Markup {
    /// Text safe in element content and in quoted attribute values (HTML and XML).
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
