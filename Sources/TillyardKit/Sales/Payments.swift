import Crypto
import Foundation

/// A charge of a customer's wallet payment code (付款码, scanned by the cashier) for an order.
public struct QRCharge: Sendable, Equatable {
    public var method: TenderKind
    public var amount: Int64
    /// The one-time code from the customer's phone.
    public var authCode: String
    /// Our reference for the charge: the provider treats a repeat with the same one as the same charge.
    public var reference: String
    public var description: String

    public init(method: TenderKind, amount: Int64, authCode: String, reference: String, description: String) {
        self.method = method
        self.amount = amount
        self.authCode = authCode
        self.reference = reference
        self.description = description
    }
}

/// A refund of an earlier charge, keyed by our refund reference (repeats are the same refund).
public struct QRRefund: Sendable, Equatable {
    public var method: TenderKind
    public var providerTransactionId: String
    public var amount: Int64
    public var reference: String

    public init(method: TenderKind, providerTransactionId: String, amount: Int64, reference: String) {
        self.method = method
        self.providerTransactionId = providerTransactionId
        self.amount = amount
        self.reference = reference
    }
}

/// What the provider said.
public struct ProviderAnswer: Sendable, Equatable {
    public var approved: Bool
    public var transactionId: String?
    public var message: String

    public init(approved: Bool, transactionId: String?, message: String) {
        self.approved = approved
        self.transactionId = transactionId
        self.message = message
    }
}

/// A QR wallet gateway (WeChat Pay, Alipay, UnionPay QR through an acquirer). A real one is plugged in
/// here; both calls must be idempotent by `reference`, since the register retries after timeouts.
public protocol PaymentProvider: Sendable {
    /// Short name recorded with every payment ("simulator", an acquirer's name…).
    var name: String { get }
    func charge(_ charge: QRCharge) async throws -> ProviderAnswer
    func refund(_ refund: QRRefund) async throws -> ProviderAnswer
}

/// The built-in provider: a **simulator** for demos and tests, never real money. It checks the payment
/// code's shape per wallet, declines codes ending in `0000` ("insufficient balance"), and derives
/// transaction ids from the reference, so repeats give the same answer as a real gateway would.
public struct SimulatedPaymentProvider: PaymentProvider {
    public let name = "simulator"

    public init() {}

    /// Whether a payment code looks like one of the wallet's: WeChat 18 digits starting 10–15,
    /// Alipay 16–24 digits starting 25–30, UnionPay QR 19 digits starting 62.
    public static func looksValid(_ code: String, for method: TenderKind) -> Bool {
        guard code.allSatisfy({ $0.isASCII && $0.isNumber }), let prefix = Int(code.prefix(2)) else { return false }
        switch method {
        case .wechat: return code.count == 18 && (10...15).contains(prefix)
        case .alipay: return (16...24).contains(code.count) && (25...30).contains(prefix)
        case .unionpayQR: return code.count == 19 && prefix == 62
        default: return false
        }
    }

    public func charge(_ charge: QRCharge) async throws -> ProviderAnswer {
        guard Self.looksValid(charge.authCode, for: charge.method) else {
            return ProviderAnswer(approved: false, transactionId: nil, message: "payment code is not a \(charge.method.rawValue) code")
        }
        guard !charge.authCode.hasSuffix("0000") else {
            return ProviderAnswer(approved: false, transactionId: nil, message: "insufficient balance (simulated decline)")
        }
        return ProviderAnswer(approved: true, transactionId: Self.transactionId("C", charge.reference), message: "paid (simulator)")
    }

    public func refund(_ refund: QRRefund) async throws -> ProviderAnswer {
        ProviderAnswer(approved: true, transactionId: Self.transactionId("R", refund.reference), message: "refunded (simulator)")
    }

    private static func transactionId(_ kind: String, _ reference: String) -> String {
        let digest = SHA256.hash(data: Data(reference.utf8)).prefix(10).map { String(format: "%02X", $0) }.joined()
        return "SIM\(kind)\(digest)"
    }
}

/// Tag for payment ids.
public enum PaymentTag {}
/// Id of a wallet payment record.
public typealias PaymentID = Identifier<PaymentTag>

/// A wallet charge or refund as recorded: the payment code masked, the provider's answer kept.
public struct Payment: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case charge
        case refund
    }

    public var id: PaymentID
    public var kind: Kind
    public var saleId: SaleID
    public var storeId: OrgID
    public var method: TenderKind
    public var amount: Int64
    /// The customer's payment code with only its first 4 and last 4 digits kept.
    public var authCodeMasked: String?
    public var reference: String
    public var provider: String
    public var approved: Bool
    public var providerTransactionId: String?
    public var message: String
    public var createdAt: Date

    public init(id: PaymentID, kind: Kind, saleId: SaleID, storeId: OrgID, method: TenderKind, amount: Int64, authCodeMasked: String?,
                reference: String, provider: String, approved: Bool, providerTransactionId: String?, message: String, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.saleId = saleId
        self.storeId = storeId
        self.method = method
        self.amount = amount
        self.authCodeMasked = authCodeMasked
        self.reference = reference
        self.provider = provider
        self.approved = approved
        self.providerTransactionId = providerTransactionId
        self.message = message
        self.createdAt = createdAt
    }
}

/// Wallet payment records.
public protocol PaymentRepository: Sendable {
    func insert(_ payment: Payment, orgPath: String) async throws
    func find(reference: String) async throws -> Payment?
    /// Approved charges and refunds of an order.
    func payments(of sale: SaleID) async throws -> [Payment]
}
