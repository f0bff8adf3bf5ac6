import Testing
import TillyardKit

/// RFC 4180 reading and writing, and that an export reads back the same.
@Suite struct CSVTests {
    @Test func quotedFieldsLineBreaksAndBOM() throws {
        let text = "\u{FEFF}sn,notes\r\nA-1,\"has, comma\"\r\nA-2,\"two\nlines\"\nA-3,\"say \"\"hi\"\"\"\n\n"
        let rows = try CSV.parse(text)
        #expect(rows.map(\.fields) == [["sn", "notes"], ["A-1", "has, comma"], ["A-2", "two\nlines"], ["A-3", "say \"hi\""]])
        #expect(rows.map(\.line) == [1, 2, 3, 5], "a quoted line break moves the line count")
    }

    @Test func unclosedQuoteNamesItsLine() {
        #expect(throws: DomainError.invalid("line 2", "a quoted field is not closed")) { try CSV.parse("a,b\n\"open,x\n") }
    }

    @Test func writingRoundTripsAndDefusesFormulas() throws {
        let fields = ["plain", "with,comma", "with \"quote\"", "multi\nline", "=HYPERLINK(\"x\")", "-12.5", ""]
        let parsed = try CSV.parse(CSV.line(fields) + "\r\n")
        #expect(parsed.count == 1)
        #expect(parsed[0].fields[0...3] == fields[0...3])
        #expect(parsed[0].fields[4] == "'=HYPERLINK(\"x\")", "a formula is written as text")
        #expect(parsed[0].fields[5] == "-12.5", "numbers keep their sign")
        #expect(parsed[0].fields[6] == "")
    }
}
