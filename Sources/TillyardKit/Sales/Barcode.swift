import Foundation

/// The barcode symbologies a product can carry.
public enum BarcodeKind: String, Codable, Sendable, CaseIterable {
    /// EAN-13 (the Chinese retail standard, GS1 prefix 690–699 for Chinese products).
    case ean13
    /// EAN-8, for small packs.
    case ean8
    /// UPC-A (12 digits), on imported goods.
    case upcA = "upc_a"
    /// A merchant's own code (shelf labels, loose goods): 1–32 letters, digits or '-'.
    case custom
}

/// Barcode validation by GS1 check digits, and reading weighed-goods labels from scales.
public enum Barcodes {
    /// The GS1 check digit (mod 10, weights 3 and 1 from the right) of the digits before it.
    public static func checkDigit(_ body: String) -> Int? {
        let digits = body.compactMap(\.wholeNumberValue)
        guard digits.count == body.count, !digits.isEmpty else { return nil }
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() { sum += digit * (offset % 2 == 0 ? 3 : 1) }
        return (10 - sum % 10) % 10
    }

    /// Whether `code` is a valid barcode of `kind` (length, digits, check digit).
    public static func isValid(_ code: String, kind: BarcodeKind) -> Bool {
        let length: Int
        switch kind {
        case .ean13: length = 13
        case .ean8: length = 8
        case .upcA: length = 12
        case .custom:
            return (1...32).contains(code.count) && code.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        guard code.count == length, code.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return checkDigit(String(code.dropLast())) == code.last?.wholeNumberValue
    }

    /// The kind a scanned code most likely is: a valid GS1 code by its length, else custom.
    public static func kind(of code: String) -> BarcodeKind {
        for kind in [BarcodeKind.ean13, .upcA, .ean8] where isValid(code, kind: kind) { return kind }
        return .custom
    }

    /// A validated, normalised barcode (trimmed; custom codes upper-cased).
    public static func normalise(_ raw: String, kind: BarcodeKind, field: String = "barcode") throws -> String {
        let code = raw.trimmingCharacters(in: .whitespaces)
        let value = kind == .custom ? code.uppercased() : code
        guard isValid(value, kind: kind) else {
            switch kind {
            case .custom: throw DomainError.invalid(field, "must be 1 to 32 letters, digits or '-'")
            default: throw DomainError.invalid(field, "is not a valid \(kind.rawValue) code (length or check digit)")
            }
        }
        return value
    }
}

/// How a store's scale prints weighed-goods labels: an EAN-13 starting with a configured
/// prefix (GS1 reserves 20–29 for in-store use), then the item code, then the weight or the
/// price, then the check digit. The common Chinese layout is `2` + 1-digit flag + 5-digit
/// item + 5-digit value + check.
public struct ScaleBarcodeFormat: Codable, Sendable, Equatable {
    /// What the value digits carry.
    public enum Value: String, Codable, Sendable {
        /// Grams.
        case weight
        /// Fen (the label's total price).
        case price
    }

    /// Leading digits that mark a scale label (e.g. ["20", "21", "22"]).
    public var prefixes: [String]
    public var itemDigits: Int
    public var valueDigits: Int
    public var value: Value

    public init(prefixes: [String] = ["20", "21", "22", "23", "24", "25", "26", "27", "28", "29"], itemDigits: Int = 5,
                valueDigits: Int = 5, value: Value = .weight) {
        self.prefixes = prefixes
        self.itemDigits = itemDigits
        self.valueDigits = valueDigits
        self.value = value
    }

    /// Checks the layout adds up to an EAN-13.
    public func validate() throws {
        guard !prefixes.isEmpty, prefixes.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
              Set(prefixes.map(\.count)).count == 1 else {
            throw DomainError.invalid("prefixes", "give one or more digit prefixes of the same length")
        }
        guard prefixes[0].count + itemDigits + valueDigits + 1 == 13, itemDigits >= 1, valueDigits >= 1 else {
            throw DomainError.invalid("itemDigits", "prefix, item and value digits plus the check digit must make 13")
        }
    }

    /// A read scale label: which item, and its weight in grams or total price in fen.
    public struct Reading: Sendable, Equatable {
        public var itemCode: String
        public var grams: Int64?
        public var priceFen: Int64?
    }

    /// Reads a scanned code as a scale label; nil when it is not one (wrong prefix, length or check digit).
    public func read(_ code: String) -> Reading? {
        guard code.count == 13, Barcodes.isValid(code, kind: .ean13),
              let prefix = prefixes.first(where: { code.hasPrefix($0) }) else { return nil }
        let digits = Array(code)
        let itemStart = prefix.count
        let item = String(digits[itemStart..<(itemStart + itemDigits)])
        guard let amount = Int64(String(digits[(itemStart + itemDigits)..<(itemStart + itemDigits + valueDigits)])) else { return nil }
        switch value {
        case .weight: return Reading(itemCode: item, grams: amount, priceFen: nil)
        case .price: return Reading(itemCode: item, grams: nil, priceFen: amount)
        }
    }
}
