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

    /// Refuses rows any cell of which looks like a full card number or track data: the card-data
    /// guard of JSON bodies, applied to CSV (the message names the cell, never echoes its value).
    public static func guardCardData(_ rows: [Row]) throws {
        for row in rows {
            for (index, cell) in row.fields.enumerated() where CardDataGuard.looksLikeCardData(cell) {
                throw DomainError.unprocessable("line \(row.line), column \(index + 1) looks like a full card number or track data, which Tillyard never accepts")
            }
        }
    }

    /// A file of our own imports: a header line naming the columns, then data rows. The checks
    /// every import makes (known and required columns, not empty, not too long, every row as wide
    /// as the header) live here once, with the same messages everywhere.
    public struct Table: Sendable {
        /// Column names of the header, trimmed and lower-cased.
        public var columns: [String]
        /// The data rows (header excluded), with their lines.
        public var rows: [Row]

        /// Reads a file; `noun` names its rows in messages ("terminals", "products").
        public init(_ text: String, known: [String], required: [String], noun: String, maxRows: Int = 100_000) throws {
            let all = try CSV.parse(text)
            guard let header = all.first else { throw DomainError.invalid("file", "is empty: the first line must name the columns") }
            let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            for name in required where !names.contains(name) {
                throw DomainError.invalid("file", "line 1 must have a column \(name) (columns: \(known.joined(separator: ",")))")
            }
            let unknown = names.filter { !known.contains($0) }
            guard unknown.isEmpty else { throw DomainError.invalid("file", "line 1 has unknown columns: \(unknown.joined(separator: ", "))") }
            let repeated = Set(names.filter { name in names.filter { $0 == name }.count > 1 })
            guard repeated.isEmpty else { throw DomainError.invalid("file", "line 1 names a column twice: \(repeated.sorted().joined(separator: ", "))") }
            let data = Array(all.dropFirst())
            guard !data.isEmpty else { throw DomainError.invalid("file", "has a header but no \(noun)") }
            guard data.count <= maxRows else { throw DomainError.invalid("file", "has \(data.count) rows; import at most \(maxRows) at a time") }
            columns = names
            rows = data
        }

        /// The trimmed cell of a column in a row; nil when the column is absent or the cell blank.
        /// The apostrophe `line` puts before a formula-like cell is taken off again, so an exported
        /// file reads back exactly as it was written.
        public func value(_ name: String, in row: Row) -> String? {
            guard let index = columns.firstIndex(of: name), index < row.fields.count else { return nil }
            var text = row.fields[index].trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("'"), let next = text.dropFirst().first, "=+-@".contains(next) { text.removeFirst() }
            return text.isEmpty ? nil : text
        }

        /// The problem of a row that is not as wide as the header, if it is not.
        public func widthProblem(_ row: Row) -> FieldError? {
            guard row.fields.count != columns.count else { return nil }
            return FieldError(field: "line \(row.line): row", message: "has \(row.fields.count) fields, the header has \(columns.count)")
        }

        /// Refuses the file if any data cell looks like card data (see `CSV.guardCardData`).
        public func guardCardData() throws { try CSV.guardCardData(rows) }
    }
}

