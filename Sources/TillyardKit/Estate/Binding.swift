import Crypto
import Foundation

/// The five elements bound together under PBOC document 259 (一机一码一户): terminal SN,
/// acquirer code, merchant code (MID), the merchant's unified social credit code, the settlement
/// account, plus where the terminal stands.
///
/// A binding is immutable: changing any element means unbinding (closing this record, with a
/// reason) and binding anew; both are audited.
public struct Binding: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    /// The merchant organisation.
    public var merchantId: OrgID
    public var storeId: OrgID?
    public var sn: String
    public var acquirerCode: String
    public var mid: String
    public var creditCode: String
    /// e.g. "6222 **** **** 0123": enough for a person to recognise, useless to a thief.
    public var settlementAccountMasked: String
    /// HMAC-SHA256 of the account under the installation's key: lets us find the same account
    /// again (duplicates, fraud checks) without storing it.
    public var settlementAccountFingerprint: String
    public var placement: Placement
    public var boundAt: Date
    public var boundBy: String
    public var unboundAt: Date?
    public var unboundBy: String?
    public var unbindReason: String?

    public init(id: String, terminalId: TerminalID, merchantId: OrgID, storeId: OrgID?, sn: String, acquirerCode: String,
                mid: String, creditCode: String, settlementAccountMasked: String, settlementAccountFingerprint: String,
                placement: Placement, boundAt: Date, boundBy: String, unboundAt: Date? = nil, unboundBy: String? = nil,
                unbindReason: String? = nil) {
        self.id = id
        self.terminalId = terminalId
        self.merchantId = merchantId
        self.storeId = storeId
        self.sn = sn
        self.acquirerCode = acquirerCode
        self.mid = mid
        self.creditCode = creditCode
        self.settlementAccountMasked = settlementAccountMasked
        self.settlementAccountFingerprint = settlementAccountFingerprint
        self.placement = placement
        self.boundAt = boundAt
        self.boundBy = boundBy
        self.unboundAt = unboundAt
        self.unboundBy = unboundBy
        self.unbindReason = unbindReason
    }
}

/// Protects settlement account numbers: masked for display, keyed hash for matching.
public struct AccountProtector: Sendable {
    private let key: SymmetricKey

    /// A protector with the installation's secret key (32 random bytes kept outside the database).
    public init(key: Data) { self.key = SymmetricKey(data: key) }

    /// Digits of an account number (spaces and dashes dropped), or a validation error.
    public static func normalise(_ raw: String, field: String = "settlementAccount") throws -> String {
        let digits = raw.filter { $0 != " " && $0 != "-" }
        guard (8...32).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw DomainError.invalid(field, "must be 8 to 32 digits")
        }
        return digits
    }

    /// First 4 and last 4 digits with the rest hidden.
    public static func mask(_ digits: String) -> String {
        "\(digits.prefix(4)) **** **** \(digits.suffix(4))"
    }

    /// HMAC-SHA256 of the digits, hex.
    public func fingerprint(_ digits: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(digits.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }
}
