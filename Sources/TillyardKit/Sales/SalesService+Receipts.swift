import Crypto
import Foundation

/// Receipts and shift reports: the stored documents mapped onto the one receipt model the renderers draw.
extension SalesService {
    /// The receipt of a completed sale or refund. `copy` marks a reprint (COPY 重印, the drawer stays shut).
    public func receipt(_ id: SaleID, copy: Bool, language: ReceiptLanguage = .zh, by principal: Principal) async throws -> Receipt {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let (sale, storeOrg) = try await Self.visibleSale(id, repos: repos, principal: principal)
            return try await receipt(sale, store: storeOrg, copy: copy, language: language, repos: repos)
        }
    }

    /// The receipt a customer opens from the link printed on it: no login, but the link's token must
    /// be the one this installation made for the sale.
    public func customerReceipt(_ id: SaleID, token: String, language: ReceiptLanguage = .zh) async throws -> Receipt {
        guard token.count == 32, Self.constantTimeEqual(token, receiptToken(id)) else {
            throw DomainError.notFound(resource: "receipt", id: id.rawValue)
        }
        return try await store.read { repos in
            guard let sale = try await repos.sales.find(id), sale.status == .completed, let storeOrg = try await repos.orgs.find(sale.storeId) else {
                throw DomainError.notFound(resource: "receipt", id: id.rawValue)
            }
            return try await receipt(sale, store: storeOrg, copy: false, language: language, repos: repos)
        }
    }

    /// The token of a sale's customer link: HMAC-SHA256 under the installation key, so links cannot be guessed.
    public func receiptToken(_ id: SaleID) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("receipt:\(id.rawValue)".utf8), using: receiptKey)
        return Data(code).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The printable form of an X or Z report.
    public func shiftReport(_ summary: ShiftSummary, copy: Bool, language: ReceiptLanguage = .zh, by principal: Principal) async throws -> ShiftReport {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let (shift, storeOrg) = try await Self.visibleShift(summary.shift.id, repos: repos, principal: principal)
            let merchant = try await storeOrg.parentId.asyncMap { try await repos.orgs.find($0) } ?? nil
            let settings = try await repos.registerSettings.find(store: storeOrg.id) ?? RegisterSettings(storeId: storeOrg.id)
            let totals = summary.shift
            return ShiftReport(merchantName: merchant?.name ?? "", storeName: storeOrg.name, storeCode: storeOrg.code, register: shift.registerId,
                               cashier: summary.closedBy ?? shift.openedBy, kind: summary.kind == .z ? .z : .x,
                               zNumber: summary.zNumber.map { Int($0) }, shiftNumber: Int(shift.number), openedAt: shift.openedAt,
                               closedAt: totals.closedAt, printedAt: summary.printedAt, timeZone: settings.timeZone, openingFloat: totals.openingFloat,
                               saleCount: totals.saleCount, saleAmount: totals.saleAmount, refundCount: totals.refundCount,
                               refundAmount: totals.refundAmount, discount: totals.discount, rounding: totals.rounding, cashIn: totals.cashIn,
                               cashOut: totals.cashOut,
                               tenders: summary.tenders.map { ShiftTenderLine(kind: $0.kind, expected: $0.expected, counted: $0.counted, difference: $0.difference) },
                               copy: copy, language: language)
        }
    }

    /// "S-LOTUS-XH-00000123": the store's code and its gap-free number.
    public static func receiptNumber(_ number: Int64?, store: Organization) -> String {
        "\(store.code)-\(String(format: "%08lld", number ?? 0))"
    }

    private func receipt(_ sale: Sale, store storeOrg: Organization, copy: Bool, language: ReceiptLanguage, repos: any Repositories) async throws -> Receipt {
        guard sale.status == .completed else { throw DomainError.conflict("an \(sale.status.rawValue) order has no receipt") }
        let merchant = try await repos.orgs.find(sale.merchantId)
        let settings = try await repos.registerSettings.find(store: storeOrg.id) ?? RegisterSettings(storeId: storeOrg.id)
        let original = try await sale.originalSaleId.asyncMap { try await repos.sales.find($0) } ?? nil
        let manualLabel = language == .zh ? "手动优惠" : "Manual discount"
        let lines = sale.lines.map { line in
            ReceiptLine(name: line.name, sku: line.sku, quantity: line.quantity, weighed: line.weighed, unitPrice: line.unitPrice, gross: line.gross,
                        discount: line.gross - line.net,
                        discountLabel: line.promotionName ?? (line.manualDiscount + line.orderDiscountShare > 0 ? manualLabel : nil), net: line.net)
        }
        var byRate: [Int: Int64] = [:]
        for line in sale.lines { byRate[line.taxRate, default: 0] += line.net }
        let taxes = byRate.keys.sorted().filter { $0 > 0 }.map { ReceiptTax(rate: $0, amount: SaleRules.includedTax(byRate[$0] ?? 0, rate: $0)) }
        return Receipt(merchantName: merchant?.name ?? "", storeName: storeOrg.name, storeCode: storeOrg.code, headerLines: settings.receiptHeader,
                       footerLines: settings.receiptFooter, receiptNumber: Self.receiptNumber(sale.receiptNumber, store: storeOrg),
                       kind: sale.kind == .refund ? .refund : .sale,
                       originalReceiptNumber: original.map { Self.receiptNumber($0.receiptNumber, store: storeOrg) }, issuedAt: sale.soldAt,
                       timeZone: settings.timeZone, cashier: sale.cashier, register: sale.registerId, lines: lines, gross: sale.gross,
                       discount: sale.gross - lines.reduce(0) { $0 + $1.net }, rounding: sale.rounding, total: sale.total,
                       tenders: sale.tenders.map {
                           ReceiptTender(kind: $0.kind, amount: $0.amount, tendered: $0.tendered, maskedPan: $0.maskedPan, authCode: $0.authCode,
                                         rrn: $0.rrn, providerTransactionId: $0.providerTransactionId, reference: $0.reference)
                       },
                       change: sale.change, taxes: taxes, member: sale.memberId, link: "/r/\(sale.id.rawValue)?t=\(receiptToken(sale.id))",
                       copy: copy, language: language)
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8), right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
