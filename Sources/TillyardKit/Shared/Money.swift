/// An amount of money in integer minor units (fen for CNY) with its ISO 4217 currency.
///
/// Never a floating point number: sums of Double drift, and regulators reconcile to the fen.
public struct Money: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Amount in minor units (e.g. 1999 = ¥19.99).
    public var minorUnits: Int64
    /// ISO 4217 alphabetic code, upper case.
    public var currency: String

    public init(minorUnits: Int64, currency: String = "CNY") {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Zero in a currency.
    public static func zero(_ currency: String = "CNY") -> Money { Money(minorUnits: 0, currency: currency) }

    /// Adds two amounts of the same currency; throws on mixed currencies or overflow.
    public func adding(_ other: Money) throws -> Money {
        guard currency == other.currency else {
            throw DomainError.validation([FieldError(field: "currency", message: "cannot add \(other.currency) to \(currency)")])
        }
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        guard !overflow else { throw DomainError.validation([FieldError(field: "amount", message: "amount out of range")]) }
        return Money(minorUnits: sum, currency: currency)
    }

    /// Fen from a typed yuan amount ("1850", "1850.5", "1850.50"): no sign, at most two decimals,
    /// so nothing is ever rounded away silently.
    public static func minorUnits(fromYuan raw: String, field: String) throws -> Int64 {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let problem = DomainError.invalid(field, "must be an amount in yuan with at most two decimals, like 1850.00")
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 15,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts.count == 1 || (1...2).contains(parts[1].count),
              let yuan = Int64(parts[0]) else { throw problem }
        let fraction = parts.count == 2 ? Int64(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0 : 0
        return yuan * 100 + fraction
    }

    /// "CNY 19.99": the amount with two decimals (every currency we settle in has two).
    public var description: String { "\(currency) \(decimalText)" }

    /// "19.99", "-0.08": the amount alone with two decimals, for places that show the currency once
    /// (a receipt's columns) rather than on every figure.
    public var decimalText: String {
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
