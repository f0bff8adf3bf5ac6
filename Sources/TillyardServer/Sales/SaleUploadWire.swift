import Foundation
import TillyardKit

/// Every upload's answer is the sale: written by `SaleJSON`, the bytes the API's encoder gives (checked
/// by `SaleJSONTests` over 600 varied sales), at a fraction of its cost.
extension Sale: WireWritable {
    public var wireJSON: String { SaleJSON.encode(self, style: .wire) }
}

/// The sale upload's fast lane (`POST /sales`, every register's every sale): the plain body read in
/// one pass, as `HeartbeatWire` reads a heartbeat.
///
/// Why: the strict scan, the card-data guard and `JSONDecoder` cost about 7% of the server's time per
/// sale. This reader accepts the plain form only — each known field at most once, ASCII strings
/// without escapes and with fewer than 12 digits (or in UUID form, as ids are), integers where integers
/// belong, `soldAt` as `Date.iso8601` writes it, no `approval` — and gives exactly what the strict
/// decoder gives. Anything else (an unknown or repeated key at any depth, an escape, non-ASCII,
/// a float or exponent, a null where a value is required, an unknown tender kind, an approval)
/// returns nil and the body takes the strict path, which decides it and words its error.
extension SaleUploadInput {
    /// The upload in `data` when it is in the plain form, else nil (decode it strictly).
    static func readPlain(_ data: Data) -> SaleUploadInput? {
        PlainJSONReader.document(data) { $0.saleUpload() }
    }
}

/// The fields' names as bytes, in the order of their `CodingKeys` (a field's position is its bit
/// in the readers' `seen` masks).
private enum SaleUploadKeys {
    // Made once: `allCases` builds a new array at every call.
    static let fields = SaleUploadInput.CodingKeys.allCases
    static let upload = fields.map { Array($0.stringValue.utf8) }
    static let line = ["productId", "quantity", "unitPrice", "discount", "promotionId", "promotionName", "manualDiscount"].map { Array($0.utf8) }
    static let tender = ["kind", "amount", "tendered", "maskedPan", "authCode", "rrn", "providerTransactionId", "reference"].map { Array($0.utf8) }
}

private extension PlainJSONReader {
    mutating func saleUpload() -> SaleUploadInput? {
        var id: String?, storeId: String?, registerId: String?, registerSeq: Int64?, shiftId: String?, soldAt: Date?
        var lines: [SaleLineInput]?, orderDiscount: Int64?, tenders: [TenderInput]?, memberId: String?, isMember: Bool?
        var expectedTotal: Int64?, note: String?
        var seen: UInt32 = 0
        let complete = object { reader, key -> Bool in
            guard let bit = reader.index(of: key, in: SaleUploadKeys.upload), seen & (1 << bit) == 0 else { return false }
            seen |= 1 << bit
            // Required fields take no null (the strict decoder refuses it); optional ones read null as nil.
            switch SaleUploadKeys.fields[bit] {
            case .id: id = reader.textOrUUID(); return id != nil
            case .storeId: return reader.nullable({ $0.textOrUUID() }, into: &storeId)
            case .registerId: registerId = reader.textOrUUID(); return registerId != nil
            case .registerSeq: registerSeq = reader.integer64(); return registerSeq != nil
            case .shiftId: return reader.nullable({ $0.textOrUUID() }, into: &shiftId)
            case .soldAt: return reader.nullable({ $0.dateText() }, into: &soldAt)
            case .lines: lines = reader.array { $0.saleLine() }; return lines != nil
            case .orderDiscount: return reader.nullable({ $0.integer64() }, into: &orderDiscount)
            case .tenders: tenders = reader.array { $0.tender() }; return tenders != nil
            case .memberId: return reader.nullable({ $0.textOrUUID() }, into: &memberId)
            case .isMember: return reader.nullable({ $0.bool() }, into: &isMember)
            case .expectedTotal: return reader.nullable({ $0.integer64() }, into: &expectedTotal)
            case .note: return reader.nullable({ $0.textOrUUID() }, into: &note)
            // A manager's credentials are rare and are the strict path's to read.
            case .approval: return false
            }
        }
        guard complete, let id, let registerId, let registerSeq, let lines, let tenders else { return nil }
        return SaleUploadInput(id: id, storeId: storeId, registerId: registerId, registerSeq: registerSeq, shiftId: shiftId, soldAt: soldAt,
                               lines: lines, orderDiscount: orderDiscount, tenders: tenders, memberId: memberId, isMember: isMember,
                               expectedTotal: expectedTotal, note: note)
    }

    /// A line: productId and quantity required. Ids decode as the raw text (`Identifier.init(from:)`).
    mutating func saleLine() -> SaleLineInput? {
        var productId: String?, quantity: Int64?, unitPrice: Int64?, discount: Int64?, promotionId: String?, promotionName: String?
        var manualDiscount: Int64?
        var seen: UInt8 = 0
        let complete = object { reader, key -> Bool in
            guard let bit = reader.index(of: key, in: SaleUploadKeys.line), seen & (1 << bit) == 0 else { return false }
            seen |= 1 << bit
            switch bit {
            case 0: productId = reader.textOrUUID(); return productId != nil
            case 1: quantity = reader.integer64(); return quantity != nil
            case 2: return reader.nullable({ $0.integer64() }, into: &unitPrice)
            case 3: return reader.nullable({ $0.integer64() }, into: &discount)
            case 4: return reader.nullable({ $0.textOrUUID() }, into: &promotionId)
            case 5: return reader.nullable({ $0.textOrUUID() }, into: &promotionName)
            default: return reader.nullable({ $0.integer64() }, into: &manualDiscount)
            }
        }
        guard complete, let productId, let quantity else { return nil }
        return SaleLineInput(productId: ProductID(rawValue: productId), quantity: quantity, unitPrice: unitPrice, discount: discount,
                             promotionId: promotionId.map(PromotionID.init(rawValue:)), promotionName: promotionName, manualDiscount: manualDiscount)
    }

    /// A tender: kind required, one of `TenderKind`'s raw values.
    mutating func tender() -> TenderInput? {
        var kind: TenderKind?, amount: Int64?, tendered: Int64?, maskedPan: String?, authCode: String?, rrn: String?
        var providerTransactionId: String?, reference: String?
        var seen: UInt8 = 0
        let complete = object { reader, key -> Bool in
            guard let bit = reader.index(of: key, in: SaleUploadKeys.tender), seen & (1 << bit) == 0 else { return false }
            seen |= 1 << bit
            switch bit {
            case 0: kind = reader.text().flatMap(TenderKind.init(rawValue:)); return kind != nil
            case 1: return reader.nullable({ $0.integer64() }, into: &amount)
            case 2: return reader.nullable({ $0.integer64() }, into: &tendered)
            case 3: return reader.nullable({ $0.textOrUUID() }, into: &maskedPan)
            case 4: return reader.nullable({ $0.textOrUUID() }, into: &authCode)
            case 5: return reader.nullable({ $0.textOrUUID() }, into: &rrn)
            case 6: return reader.nullable({ $0.textOrUUID() }, into: &providerTransactionId)
            default: return reader.nullable({ $0.textOrUUID() }, into: &reference)
            }
        }
        guard complete, let kind else { return nil }
        return TenderInput(kind: kind, amount: amount, tendered: tendered, maskedPan: maskedPan, authCode: authCode, rrn: rrn,
                           providerTransactionId: providerTransactionId, reference: reference)
    }
}
