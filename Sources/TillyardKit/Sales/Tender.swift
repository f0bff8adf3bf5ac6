import Foundation

/// How a customer pays. Raw values are the stable names of the API, the database and reports.
public enum TenderKind: String, Codable, Sendable, CaseIterable {
    case cash
    /// Bank card, paid on the POS terminal; we record its masked PAN, auth code and RRN, never the card number.
    case card
    case wechat
    case alipay
    /// UnionPay QR (云闪付).
    case unionpayQR = "unionpay_qr"
    /// A member's stored-value balance (储值).
    case storedValue = "stored_value"
    /// A member's points redeemed as money (`MemberProgram.fenPerPoint` per point).
    case points

    /// QR wallets are charged through a `PaymentProvider` while the customer waits.
    public var isQR: Bool { self == .wechat || self == .alipay || self == .unionpayQR }
}

/// One payment of a sale (or, on a refund, one repayment).
public struct Tender: Codable, Sendable, Equatable {
    public var kind: TenderKind
    /// What this tender pays of the total, fen (for cash: what stays in the drawer, after change).
    public var amount: Int64
    /// Cash handed over by the customer, fen (cash only; change = tendered − amount).
    public var tendered: Int64?
    /// Card number as the terminal printed it: first 6 and last 4 digits at most (PCI DSS 3.4).
    public var maskedPan: String?
    public var authCode: String?
    /// Retrieval reference number of the card transaction.
    public var rrn: String?
    /// The payment provider's transaction id (QR wallets).
    public var providerTransactionId: String?
    /// Member card or voucher reference (stored value).
    public var reference: String?

    public init(kind: TenderKind, amount: Int64, tendered: Int64? = nil, maskedPan: String? = nil, authCode: String? = nil,
                rrn: String? = nil, providerTransactionId: String? = nil, reference: String? = nil) {
        self.kind = kind
        self.amount = amount
        self.tendered = tendered
        self.maskedPan = maskedPan
        self.authCode = authCode
        self.rrn = rrn
        self.providerTransactionId = providerTransactionId
        self.reference = reference
    }
}

/// How cash totals are rounded at a store (China: 抹零 drops the fen or the jiao in the customer's favour).
public struct CashRounding: Codable, Sendable, Equatable {
    /// Rounding step in fen: 1 (none), 10 (to the jiao) or 100 (to the yuan).
    public var step: Int64
    public var mode: Mode

    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Always in the customer's favour (抹零).
        case down
        /// To the nearest step, halves up.
        case nearest
    }

    public init(step: Int64 = 1, mode: Mode = .down) {
        self.step = step
        self.mode = mode
    }

    public static let none = CashRounding()

    /// Checks the step.
    public func validate() throws {
        guard [1, 10, 100].contains(step) else { throw DomainError.invalid("cashRounding.step", "must be 1, 10 or 100 fen") }
    }

    /// The amount the customer pays in cash for `due` fen.
    public func apply(_ due: Int64) -> Int64 {
        guard step > 1, due > 0 else { return due }
        switch mode {
        case .down: return due / step * step
        case .nearest: return (due + step / 2) / step * step
        }
    }
}
