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

    /// "CNY 19.99": the amount with two decimals (every currency we settle in has two).
    public var description: String {
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        let fraction = magnitude % 100
        return "\(currency) \(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
