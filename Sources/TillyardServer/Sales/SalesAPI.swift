import Foundation
import Hummingbird
import TillyardKit

/// The body of `POST /sales`: a completed sale as a register uploads it. The plain body registers
/// send is read in one pass (`readPlain`, SaleUploadWire.swift); Equatable so tests can hold that
/// reader to the strict decoder.
struct SaleUploadInput: APIInput, Equatable {
    var id: String
    var storeId: String?
    var registerId: String
    var registerSeq: Int64
    var shiftId: String?
    var soldAt: Date?
    var lines: [SaleLineInput]
    var orderDiscount: Int64?
    var tenders: [TenderInput]
    var memberId: String?
    var isMember: Bool?
    var expectedTotal: Int64?
    var approval: ApprovalInput?
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, storeId, registerId, registerSeq, shiftId, soldAt, lines, orderDiscount, tenders, memberId, isMember, expectedTotal, approval, note
    }
    typealias Field = CodingKeys

    func input() throws -> SaleInput {
        SaleInput(id: try SaleID.parse(id, field: "id"), storeId: try OrgID.parse(ifPresent: storeId, field: "storeId"), registerId: registerId,
                  registerSeq: registerSeq, shiftId: try ShiftID.parse(ifPresent: shiftId, field: "shiftId"), soldAt: soldAt, lines: lines,
                  orderDiscount: orderDiscount ?? 0, tenders: tenders, memberId: memberId, isMember: isMember ?? false, expectedTotal: expectedTotal,
                  approval: approval, note: note)
    }
}

/// The body of `POST /orders`: a cart held open at a register.
struct OrderUploadInput: APIInput {
    var id: String
    var storeId: String?
    var registerId: String
    var lines: [SaleLineInput]
    var isMember: Bool?
    var memberId: String?
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case id, storeId, registerId, lines, isMember, memberId, note }
    typealias Field = CodingKeys
}

/// The body of `POST /carts/price`.
struct CartPriceInput: APIInput {
    var storeId: String?
    var lines: [SaleLineInput]
    var isMember: Bool?
    /// A recognised member: their tier prices the cart.
    var memberId: String?
    var at: Date?
    enum CodingKeys: String, CodingKey, CaseIterable { case storeId, lines, isMember, memberId, at }
    typealias Field = CodingKeys
}

/// The body of `POST /orders/{id}/void`.
struct VoidInput: APIInput {
    var reason: SaleReason
    var approval: ApprovalInput?
    enum CodingKeys: String, CodingKey, CaseIterable { case reason, approval }
    typealias Field = CodingKeys
}

/// The body of `POST /sales/{id}/refunds`.
struct RefundUploadInput: APIInput {
    var id: String
    var registerId: String
    var registerSeq: Int64
    var shiftId: String?
    var lines: [RefundLineInput]?
    var tenders: [TenderInput]?
    var reason: SaleReason
    var restock: Bool?
    var approval: ApprovalInput?
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case id, registerId, registerSeq, shiftId, lines, tenders, reason, restock, approval, note }
    typealias Field = CodingKeys
}

/// The body of `POST /payments`: a wallet payment code scanned for an order.
struct WalletChargeInput: APIInput {
    var saleId: String
    var storeId: String?
    var method: TenderKind
    var amount: Int64
    var authCode: String
    enum CodingKeys: String, CodingKey, CaseIterable { case saleId, storeId, method, amount, authCode }
    typealias Field = CodingKeys
    /// A wallet payment code is a one-time token of 18–24 digits, not a card number: it is masked at once.
    static var allowedSensitiveFields: Set<String> { ["authCode"] }
}

/// The body of `POST /shifts`.
struct OpenShiftInput: APIInput {
    var storeId: String?
    var registerId: String
    var openingFloat: Int64
    enum CodingKeys: String, CodingKey, CaseIterable { case storeId, registerId, openingFloat }
    typealias Field = CodingKeys
}

/// The body of `POST /shifts/{id}/cash-movements`.
struct CashMovementInput: APIInput {
    var direction: CashMovement.Direction
    var amount: Int64
    var reason: String
    enum CodingKeys: String, CodingKey, CaseIterable { case direction, amount, reason }
    typealias Field = CodingKeys
}

/// The body of `POST /shifts/{id}/close`: counted amounts per tender (`{"cash": 123400}`).
struct CloseShiftInput: APIInput {
    var counted: [String: Int64]?
    var force: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case counted, force }
    typealias Field = CodingKeys

    func amounts() throws -> [TenderKind: Int64] {
        var result: [TenderKind: Int64] = [:]
        for (key, value) in counted ?? [:] {
            guard let kind = TenderKind(rawValue: key) else {
                throw DomainError.invalid("counted.\(key)", "is not a tender (\(TenderKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            result[kind] = value
        }
        return result
    }
}

/// The body of `PUT /stores/{id}/register-settings`.
struct RegisterSettingsInput: APIInput {
    var version: Int
    var timeZone: String?
    var cashRounding: CashRounding?
    var cashierDiscountLimit: Int?
    var receiptHeader: [String]?
    var receiptFooter: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable { case version, timeZone, cashRounding, cashierDiscountLimit, receiptHeader, receiptFooter }
    typealias Field = CodingKeys
}

/// The body of `POST /stores/{id}/stock-adjustments`.
struct StockAdjustmentInput: APIInput {
    var productId: String
    var delta: Int64?
    var counted: Int64?
    var reason: String
    enum CodingKeys: String, CodingKey, CaseIterable { case productId, delta, counted, reason }
    typealias Field = CodingKeys
}

/// `/api/v1` routes of the register: sales, orders, refunds, wallet payments, shifts, Z reports,
/// register settings, stock and the store journal.
struct SalesAPI {
    let sales: SalesService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        registerSales(on: api)
        registerShifts(on: api)
        registerStores(on: api)
    }

    private func registerSales(on api: RouterGroup<AppRequestContext>) {
        let sales = self.sales
        let routes = self.routes
        // The sale's own id is its idempotency key: the same upload answers the same sale, 201 both times.
        api.post("sales") { request, context in
            try await routes.create(request, context) { (body: SaleUploadInput, principal) in
                try await sales.complete(try body.input(), by: principal)
            }
        }
        api.get("sales") { request, context in
            let principal = try context.requirePrincipal()
            let filter = SaleFilter(storeId: try OrgID.parse(ifPresent: request.query("storeId"), field: "storeId"),
                                    kind: try request.query("kind", as: SaleKind.self), status: try request.query("status", as: SaleStatus.self),
                                    registerId: request.query("registerId"),
                                    shiftId: try ShiftID.parse(ifPresent: request.query("shiftId"), field: "shiftId"),
                                    from: try Self.date(request, "from"), to: try Self.date(request, "to"))
            let page = try await sales.sales(filter, page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.get("sales/:id") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.sale(try context.id("id", resource: "sale"), by: principal))
        }
        api.get("sales/:id/refunds") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(["items": try await sales.refunds(of: try context.id("id", resource: "sale"), by: principal)])
        }
        api.post("sales/:id/refunds") { request, context in
            let id: SaleID = try context.id("id", resource: "sale")
            return try await routes.create(request, context) { (body: RefundUploadInput, principal) in
                let input = RefundInput(id: try SaleID.parse(body.id, field: "id"), registerId: body.registerId, registerSeq: body.registerSeq,
                                        shiftId: try ShiftID.parse(ifPresent: body.shiftId, field: "shiftId"), lines: body.lines ?? [],
                                        tenders: body.tenders, reason: body.reason, restock: body.restock ?? true, approval: body.approval, note: body.note)
                return try await sales.refund(id, input, by: principal)
            }
        }
        api.post("orders") { request, context in
            try await routes.create(request, context) { (body: OrderUploadInput, principal) in
                try await sales.hold(OrderInput(id: try SaleID.parse(body.id, field: "id"), storeId: try OrgID.parse(ifPresent: body.storeId, field: "storeId"),
                                                registerId: body.registerId, lines: body.lines, isMember: body.isMember ?? false,
                                                memberId: body.memberId, note: body.note), by: principal)
            }
        }
        api.post("orders/:id/void") { request, context in
            let id: SaleID = try context.id("id", resource: "sale")
            return try await routes.update(request, context) { (body: VoidInput, principal) in
                try await sales.void(id, reason: body.reason, approval: body.approval, by: principal)
            }
        }
        api.post("carts/price") { request, context in
            // Pricing changes nothing, so no idempotency key: the same cart asked twice gets today's answer twice.
            try await routes.update(request, context) { (body: CartPriceInput, principal) in
                try await sales.quote(CartQuoteInput(storeId: try OrgID.parse(ifPresent: body.storeId, field: "storeId"), lines: body.lines,
                                                     isMember: body.isMember ?? false, memberId: body.memberId, at: body.at), by: principal)
            }
        }
        api.post("payments") { request, context in
            try await routes.create(request, context) { (body: WalletChargeInput, principal) in
                try await sales.chargeWallet(saleId: try SaleID.parse(body.saleId, field: "saleId"),
                                             storeId: try OrgID.parse(ifPresent: body.storeId, field: "storeId"), method: body.method,
                                             amount: body.amount, authCode: body.authCode, by: principal)
            }
        }
        api.get("register-sync") { request, context in
            let principal = try context.requirePrincipal()
            guard let register = request.query("registerId") else { throw DomainError.invalid("registerId", "is required") }
            return try JSONResponse.make(try await sales.registerSync(register, by: principal))
        }
    }

    private func registerShifts(on api: RouterGroup<AppRequestContext>) {
        let sales = self.sales
        let routes = self.routes
        api.post("shifts") { request, context in
            try await routes.create(request, context) { (body: OpenShiftInput, principal) in
                try await sales.openShift(storeId: try OrgID.parse(ifPresent: body.storeId, field: "storeId"), registerId: body.registerId,
                                          openingFloat: body.openingFloat, by: principal)
            }
        }
        api.get("shifts") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await sales.shifts(storeId: try OrgID.parse(ifPresent: request.query("storeId"), field: "storeId"),
                                              page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.get("shifts/:id") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.shift(try context.id("id", resource: "shift"), by: principal))
        }
        api.get("shifts/:id/report") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.xReport(try context.id("id", resource: "shift"), by: principal))
        }
        api.get("shifts/:id/cash-movements") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(["items": try await sales.movements(of: try context.id("id", resource: "shift"), by: principal)])
        }
        api.post("shifts/:id/cash-movements") { request, context in
            let id: ShiftID = try context.id("id", resource: "shift")
            return try await routes.create(request, context) { (body: CashMovementInput, principal) in
                try await sales.cashMovement(shiftId: id, direction: body.direction, amount: body.amount, reason: body.reason, by: principal)
            }
        }
        api.post("shifts/:id/close") { request, context in
            let id: ShiftID = try context.id("id", resource: "shift")
            return try await routes.create(request, context) { (body: CloseShiftInput, principal) in
                try await sales.closeShift(id, counted: try body.amounts(), force: body.force ?? false, by: principal)
            }
        }
        api.get("z-reports") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await sales.zReports(storeId: try OrgID.parse(ifPresent: request.query("storeId"), field: "storeId"),
                                                page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.get("z-reports/:id") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.zReport(try context.id("id", resource: "z-report"), by: principal))
        }
    }

    private func registerStores(on api: RouterGroup<AppRequestContext>) {
        let sales = self.sales
        let routes = self.routes
        api.get("stores/:id/register-settings") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.settings(storeId: try context.id("id", resource: "store"), by: principal))
        }
        api.put("stores/:id/register-settings") { request, context in
            let id: OrgID = try context.id("id", resource: "store")
            return try await routes.update(request, context) { (body: RegisterSettingsInput, principal) in
                let current = try await sales.settings(storeId: id, by: principal)
                let settings = RegisterSettings(storeId: id, timeZone: body.timeZone ?? current.timeZone, cashRounding: body.cashRounding ?? current.cashRounding,
                                                cashierDiscountLimit: body.cashierDiscountLimit ?? current.cashierDiscountLimit,
                                                receiptHeader: body.receiptHeader ?? current.receiptHeader,
                                                receiptFooter: body.receiptFooter ?? current.receiptFooter)
                return try await sales.updateSettings(settings, expectedVersion: body.version, by: principal)
            }
        }
        api.get("stores/:id/stock") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await sales.stock(storeId: try context.id("id", resource: "store"), page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.post("stores/:id/stock-adjustments") { request, context in
            let id: OrgID = try context.id("id", resource: "store")
            return try await routes.create(request, context) { (body: StockAdjustmentInput, principal) in
                try await sales.adjustStock(storeId: id, productId: try ProductID.parse(body.productId, field: "productId"), delta: body.delta,
                                            counted: body.counted, reason: body.reason, by: principal)
            }
        }
        api.get("stores/:id/journal-verification") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await sales.verifyJournal(store: try context.id("id", resource: "store"), by: principal))
        }
    }

    /// An ISO 8601 date query parameter.
    static func date(_ request: Request, _ name: String) throws -> Date? {
        guard let text = request.query(name) else { return nil }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        throw DomainError.invalid(name, "must be an ISO 8601 time like 2026-11-23T08:00:00Z")
    }
}
