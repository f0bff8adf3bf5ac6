/// How a customer pays. The raw values are the wire and storage names, shared by the sales domain,
/// receipts and reports, so they never change once written.
public enum TenderKind: String, Codable, Sendable, CaseIterable {
    case cash
    case card
    case wechat
    case alipay
    case unionpayQR = "unionpay_qr"
    case storedValue = "stored_value"
}
