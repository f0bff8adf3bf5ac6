import Foundation

/// A request for one page of a list, newest first.
///
/// Cursor paging (Square's convention) rather than offsets: stable under concurrent inserts and
/// O(page) at any depth, because the cursor is the last seen sort key.
public struct PageRequest: Sendable, Equatable {
    /// Upper bound for `limit`, so one request cannot ask for the whole table.
    public static let maxLimit = 200
    /// Default page size.
    public static let defaultLimit = 50

    public var limit: Int
    /// Opaque cursor from the previous page's `nextCursor`, nil for the first page.
    public var cursor: String?

    public init(limit: Int = PageRequest.defaultLimit, cursor: String? = nil) {
        self.limit = limit
        self.cursor = cursor
    }

    /// Validates user-supplied paging parameters.
    public static func parse(limit: String?, cursor: String?) throws -> PageRequest {
        var result = PageRequest()
        if let limit {
            guard let value = Int(limit), value >= 1, value <= maxLimit else {
                throw DomainError.invalid("limit", "must be a whole number from 1 to \(maxLimit)")
            }
            result.limit = value
        }
        if let cursor, !cursor.isEmpty {
            guard PageCursor.decode(cursor) != nil else {
                throw DomainError.invalid("cursor", "is not a cursor returned by this API")
            }
            result.cursor = cursor
        }
        return result
    }

    /// The last sort key the cursor stands for.
    public var afterKey: String? { cursor.flatMap(PageCursor.decode) }
}

/// One page of results plus the cursor of the next page (nil on the last page).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// Builds a page from `limit + 1` fetched rows: the extra row only tells that more exist.
    public static func from(rows: [Item], limit: Int, key: (Item) -> String) -> Page<Item> {
        guard rows.count > limit else { return Page(items: rows, nextCursor: nil) }
        let items = Array(rows.prefix(limit))
        return Page(items: items, nextCursor: items.last.map { PageCursor.encode(key($0)) })
    }

    /// The same page with its items transformed.
    public func map<T: Sendable>(_ transform: (Item) throws -> T) rethrows -> Page<T> {
        Page<T>(items: try items.map(transform), nextCursor: nextCursor)
    }
}

/// Encoding of sort keys into opaque URL-safe cursors.
public enum PageCursor {
    private static let prefix = "c1:"

    /// Opaque cursor for a sort key.
    public static func encode(_ key: String) -> String {
        Data((prefix + key).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The sort key of a cursor, nil when it is not one of ours.
    public static func decode(_ cursor: String) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
              text.hasPrefix(prefix) else { return nil }
        return String(text.dropFirst(prefix.count))
    }
}
