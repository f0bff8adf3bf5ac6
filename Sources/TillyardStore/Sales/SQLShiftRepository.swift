import Foundation
import SQLKit
import TillyardKit

/// SQL storage of shifts: running totals as columns changed by increments (concurrent sales of one
/// shift never overwrite each other), tender totals in `shift_tenders`, and the immutable Z reports.
struct SQLShiftRepository: ShiftRepository {
    let db: any SQLDatabase

    func insert(_ shift: Shift, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO shifts (id, merchant_id, store_id, org_path, register_id, open_register, number, status, opened_by_id, opened_by,
                                opened_at, opening_float, sale_count, sale_amount, refund_count, refund_amount, discount, rounding, cash_in,
                                cash_out, late_sales, version)
            VALUES (\(bind: shift.id.rawValue), \(bind: shift.merchantId.rawValue), \(bind: shift.storeId.rawValue), \(bind: orgPath),
                    \(bind: shift.registerId), \(bind: shift.registerId), \(bind: shift.number), 'open', \(bind: shift.openedById.rawValue),
                    \(bind: shift.openedBy), \(bind: shift.openedAt.millis), \(bind: shift.openingFloat), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
            """).run()
    }

    func find(_ id: ShiftID) async throws -> Shift? {
        try await shifts(db.raw("SELECT * FROM shifts WHERE id = \(bind: id.rawValue)").all()).first
    }

    func open(register: String) async throws -> Shift? {
        try await shifts(db.raw("SELECT * FROM shifts WHERE open_register = \(bind: register)").all()).first
    }

    func apply(_ delta: ShiftDelta, to id: ShiftID) async throws {
        _ = try await apply(delta, to: id, onlyOpen: false)
    }

    func applyIfOpen(_ delta: ShiftDelta, to id: ShiftID) async throws -> Bool {
        try await apply(delta, to: id, onlyOpen: true)
    }

    /// The totals first (answering whether the shift row matched), then the tender totals only if it did.
    private func apply(_ delta: ShiftDelta, to id: ShiftID, onlyOpen: Bool) async throws -> Bool {
        let changed = try await db.raw("""
            UPDATE shifts SET sale_count = sale_count + \(bind: delta.saleCount), sale_amount = sale_amount + \(bind: delta.saleAmount),
                   refund_count = refund_count + \(bind: delta.refundCount), refund_amount = refund_amount + \(bind: delta.refundAmount),
                   discount = discount + \(bind: delta.discount), rounding = rounding + \(bind: delta.rounding),
                   cash_in = cash_in + \(bind: delta.cashIn), cash_out = cash_out + \(bind: delta.cashOut)
            WHERE id = \(bind: id.rawValue)\(unsafeRaw: onlyOpen ? " AND status = 'open'" : "")
            RETURNING id
            """).all()
        guard !changed.isEmpty else { return false }
        guard !delta.tenders.isEmpty else { return true }
        // All tender kinds of the delta in one multi-row upsert.
        var upsert: SQLQueryString = "INSERT INTO shift_tenders (shift_id, kind, sales_amount, sales_count, refund_amount, refund_count) VALUES "
        for (index, tender) in delta.tenders.enumerated() {
            upsert += index == 0 ? "" : ", "
            upsert += """
                (\(bind: id.rawValue), \(bind: tender.kind.rawValue), \(bind: tender.salesAmount), \(bind: tender.salesCount), \(bind: tender.refundAmount), \(bind: tender.refundCount))
                """
        }
        upsert += """
             ON CONFLICT (shift_id, kind) DO UPDATE SET sales_amount = shift_tenders.sales_amount + excluded.sales_amount,
                sales_count = shift_tenders.sales_count + excluded.sales_count,
                refund_amount = shift_tenders.refund_amount + excluded.refund_amount,
                refund_count = shift_tenders.refund_count + excluded.refund_count
            """
        try await db.raw(upsert).run()
        return true
    }

    func countLate(_ id: ShiftID) async throws {
        try await db.raw("UPDATE shifts SET late_sales = late_sales + 1 WHERE id = \(bind: id.rawValue)").run()
    }

    func close(_ id: ShiftID, by: String, at: Date, zNumber: Int64) async throws {
        let changed = try await db.raw("""
            UPDATE shifts SET status = 'closed', open_register = NULL, closed_by = \(bind: by), closed_at = \(bind: at.millis),
                   z_number = \(bind: zNumber), version = version + 1
            WHERE id = \(bind: id.rawValue) AND status = 'open' RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("the shift is already closed") }
    }

    func list(under path: String, store: OrgID?, page: PageRequest) async throws -> Page<Shift> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM shifts WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let store { query += " AND store_id = \(bind: store.rawValue)" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await shifts(db.raw(query).all()), limit: page.limit) { $0.id.rawValue }
    }

    func insertMovement(_ movement: CashMovement) async throws {
        try await db.raw("""
            INSERT INTO cash_movements (id, shift_id, direction, amount, reason, by_user, at)
            VALUES (\(bind: movement.id), \(bind: movement.shiftId.rawValue), \(bind: movement.direction.rawValue), \(bind: movement.amount),
                    \(bind: movement.reason), \(bind: movement.by), \(bind: movement.at.millis))
            """).run()
    }

    func movements(of id: ShiftID) async throws -> [CashMovement] {
        try await db.raw("SELECT * FROM cash_movements WHERE shift_id = \(bind: id.rawValue) ORDER BY id").all().map { row in
            CashMovement(id: try row.decode(column: "id", as: String.self), shiftId: id,
                         direction: try row.enumValue("direction", as: CashMovement.Direction.self),
                         amount: try row.decode(column: "amount", as: Int64.self), reason: try row.decode(column: "reason", as: String.self),
                         by: try row.decode(column: "by_user", as: String.self), at: try row.requiredDate("at"))
        }
    }

    func insertReport(_ report: ShiftSummary, storeId: OrgID, orgPath: String) async throws {
        guard let id = report.id, let number = report.zNumber else { throw DomainError.conflict("only Z reports are stored") }
        try await db.raw("""
            INSERT INTO z_reports (id, store_id, org_path, shift_id, z_number, body, created_at)
            VALUES (\(bind: id.rawValue), \(bind: storeId.rawValue), \(bind: orgPath), \(bind: report.shift.id.rawValue), \(bind: number),
                    \(bind: try JSONColumn.encode(report)), \(bind: report.printedAt.millis))
            """).run()
    }

    func report(_ id: ZReportID) async throws -> (summary: ShiftSummary, orgPath: String)? {
        guard let row = try await db.raw("SELECT body, org_path FROM z_reports WHERE id = \(bind: id.rawValue)").first() else { return nil }
        return (try Self.report(row), try row.decode(column: "org_path", as: String.self))
    }

    func reports(under path: String, store: OrgID?, page: PageRequest) async throws -> Page<ShiftSummary> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT body FROM z_reports WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let store { query += " AND store_id = \(bind: store.rawValue)" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        let reports = try await db.raw(query).all().map(Self.report)
        return Page.from(rows: reports, limit: page.limit) { $0.id?.rawValue ?? "" }
    }

    static func report(_ row: any SQLRow) throws -> ShiftSummary {
        try JSONColumn.decode(ShiftSummary.self, from: try row.decode(column: "body", as: String.self))
    }

    /// Shifts from their rows, with the tender totals of all of them read in one query.
    private func shifts(_ rows: [any SQLRow]) async throws -> [Shift] {
        guard !rows.isEmpty else { return [] }
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        var tenders: [String: [ShiftTenderTotal]] = [:]
        for row in try await db.raw("SELECT * FROM shift_tenders WHERE shift_id IN (\(binds: ids)) ORDER BY kind").all() {
            tenders[try row.decode(column: "shift_id", as: String.self), default: []].append(
                ShiftTenderTotal(kind: try row.enumValue("kind", as: TenderKind.self), salesAmount: try row.decode(column: "sales_amount", as: Int64.self),
                                 salesCount: try row.decode(column: "sales_count", as: Int.self),
                                 refundAmount: try row.decode(column: "refund_amount", as: Int64.self),
                                 refundCount: try row.decode(column: "refund_count", as: Int.self)))
        }
        return try zip(rows, ids).map { row, id in
            Shift(id: ShiftID(rawValue: id), merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
                  storeId: OrgID(rawValue: try row.decode(column: "store_id", as: String.self)),
                  registerId: try row.decode(column: "register_id", as: String.self), number: try row.decode(column: "number", as: Int64.self),
                  status: try row.enumValue("status", as: ShiftStatus.self), openedById: UserID(rawValue: try row.decode(column: "opened_by_id", as: String.self)),
                  openedBy: try row.decode(column: "opened_by", as: String.self), openedAt: try row.requiredDate("opened_at"),
                  openingFloat: try row.decode(column: "opening_float", as: Int64.self), closedBy: try row.decode(column: "closed_by", as: String?.self),
                  closedAt: try row.date("closed_at"), zNumber: try row.decode(column: "z_number", as: Int64?.self),
                  saleCount: try row.decode(column: "sale_count", as: Int.self), saleAmount: try row.decode(column: "sale_amount", as: Int64.self),
                  refundCount: try row.decode(column: "refund_count", as: Int.self), refundAmount: try row.decode(column: "refund_amount", as: Int64.self),
                  discount: try row.decode(column: "discount", as: Int64.self), rounding: try row.decode(column: "rounding", as: Int64.self),
                  cashIn: try row.decode(column: "cash_in", as: Int64.self), cashOut: try row.decode(column: "cash_out", as: Int64.self),
                  lateSales: try row.decode(column: "late_sales", as: Int.self), tenders: tenders[id] ?? [],
                  version: try row.decode(column: "version", as: Int.self))
        }
    }
}
