import Foundation

/// RFC 4180 CSV: reading (quoted fields, doubled quotes, CRLF or LF, a UTF-8 BOM) and writing.
///
/// Small on purpose: imports and exports of our own tables need exactly this, and an exported
/// file must read back the same.
public enum CSV {
    /// A parsed row with the 1-based line it started on (for error messages).
    public struct Row: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    /// Parses text into rows; a quote left open is an error naming its line.
    public static func parse(_ text: String) throws -> [Row] {
        var rows: [Row] = []
        var field = ""
        var fields: [String] = []
        var inQuotes = false
        var line = 1
        var rowLine = 1
        var characters = Array(text)
        if characters.first == "\u{FEFF}" { characters.removeFirst() }
        var index = 0
        func endRow() {
            fields.append(field)
            field = ""
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(line: rowLine, fields: fields)) }
            fields = []
        }
        while index < characters.count {
            let character = characters[index]
            if inQuotes {
                if character == "\"" {
                    if index + 1 < characters.count, characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if character == "\n" || character == "\r\n" { line += 1 }
                    field.append(character)
                }
            } else {
                switch character {
                case "\"" where field.isEmpty: inQuotes = true
                case ",": fields.append(field); field = ""
                case "\n", "\r\n", "\r":
                    endRow()
                    line += 1
                    rowLine = line
                default: field.append(character)
                }
            }
            index += 1
        }
        if inQuotes { throw DomainError.invalid("line \(rowLine)", "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }

    /// One CSV line (without the line break) from fields, quoting where needed.
    public static func line(_ fields: [String]) -> String {
        fields.map { field in
            // A leading = + - @ would be run as a formula by spreadsheets: neutralise it.
            var value = field
            if let first = value.first, "=+-@".contains(first), Double(value) == nil { value = "'" + value }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }
}
