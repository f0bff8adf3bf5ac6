import Foundation
import Testing
import TillyardKit

/// Cursor paging: validated parameters, opaque URL-safe cursors, and pages built from limit + 1 rows.
@Suite struct PagingTests {
    @Test func defaultsWhenNothingIsGiven() throws {
        let page = try PageRequest.parse(limit: nil, cursor: nil)
        #expect(page == PageRequest(limit: PageRequest.defaultLimit, cursor: nil))
        #expect(page.afterKey == nil)
        #expect(try PageRequest.parse(limit: nil, cursor: "").cursor == nil, "an empty cursor means the first page")
    }

    @Test(arguments: ["1", "2", "50", "199", "200"])
    func acceptsLimitsFromOneToTwoHundred(limit: String) throws {
        #expect(try PageRequest.parse(limit: limit, cursor: nil).limit == Int(limit))
    }

    @Test(arguments: ["0", "201", "-1", "1000000", "abc", "1.5", "", " 5", "5 ", "0x10", "99999999999999999999999"])
    func refusesBadLimits(limit: String) {
        let error = #expect(throws: DomainError.self) { try PageRequest.parse(limit: limit, cursor: nil) }
        #expect(error?.fieldNames == ["limit"])
    }

    @Test func acceptsItsOwnCursor() throws {
        let cursor = PageCursor.encode("0190f3a2-7b1c-7d2e-8f3a-0123456789ab")
        let page = try PageRequest.parse(limit: "10", cursor: cursor)
        #expect(page.cursor == cursor)
        #expect(page.afterKey == "0190f3a2-7b1c-7d2e-8f3a-0123456789ab")
    }

    @Test(arguments: [
        "!!!!", "not a cursor", "0190f3a2-7b1c-7d2e-8f3a-0123456789ab",
        // Valid base64 of text without our "c1:" prefix (a forged or foreign cursor).
        Data("c2:abc".utf8).base64EncodedString(), Data("abc".utf8).base64EncodedString(),
        Data("C1:abc".utf8).base64EncodedString(),
        // Valid base64 that is not UTF-8.
        Data([0xFF, 0xFE, 0xFD]).base64EncodedString(),
    ])
    func refusesForeignCursors(cursor: String) {
        let error = #expect(throws: DomainError.self) { try PageRequest.parse(limit: nil, cursor: cursor) }
        #expect(error?.fieldNames == ["cursor"])
    }

    @Test(arguments: ["", "a", "ab", "abc", "12345", "0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "??>>??", "年/月/日 + = &", "\u{1F}x"])
    func cursorsRoundTripAndAreURLSafe(key: String) {
        let cursor = PageCursor.encode(key)
        #expect(cursor.wholeMatch(of: /[A-Za-z0-9_-]*/) != nil, "not URL-safe: \(cursor)")
        #expect(PageCursor.decode(cursor) == key)
    }

    @Test func pageWithoutExtraRowIsTheLastPage() {
        let page = Page.from(rows: [5, 4, 3], limit: 3) { String($0) }
        #expect(page.items == [5, 4, 3])
        #expect(page.nextCursor == nil)
        let short = Page.from(rows: [2, 1], limit: 3) { String($0) }
        #expect(short.items == [2, 1])
        #expect(short.nextCursor == nil)
        let empty = Page.from(rows: [Int](), limit: 3) { String($0) }
        #expect(empty.items.isEmpty && empty.nextCursor == nil)
    }

    @Test func extraRowYieldsTheCursorOfTheLastReturnedItem() throws {
        let page = Page.from(rows: [9, 8, 7, 6], limit: 3) { "key-\($0)" }
        #expect(page.items == [9, 8, 7])
        let cursor = try #require(page.nextCursor)
        #expect(PageCursor.decode(cursor) == "key-7", "the cursor is the last returned item, not the extra row")
        #expect(try PageRequest.parse(limit: "3", cursor: cursor).afterKey == "key-7")
    }

    @Test func mapKeepsTheCursor() {
        let page = Page.from(rows: [3, 2, 1], limit: 2) { String($0) }
        let mapped = page.map { "#\($0)" }
        #expect(mapped.items == ["#3", "#2"])
        #expect(mapped.nextCursor == page.nextCursor)
    }
}
