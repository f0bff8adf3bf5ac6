import Foundation
import SQLKit
import TillyardKit

/// SQL storage of sales, refunds and open orders: the document as JSON, the fields lists and
/// uniqueness need as columns. Also the per-store journal head and the registers' numbering.
struct SQLSaleRepository: SaleRepository {
    let db: any SQLDatabase
    let backend: SQLBackend

    func insert(_ sale: Sale, orgPath: String, content: SaleRules.JournalContent?) async throws {
        let body = SaleJSON.encode(sale, style: .column, lines: content?.lines, tenders: content?.tenders)
        try await db.raw("""
            INSERT INTO sales (id, kind, status, merchant_id, store_id, org_path, register_id, register_seq, shift_id, receipt_number,
                               cashier_id, sold_at, recorded_at, total, original_sale_id, hash, body, version)
            VALUES (\(bind: sale.id.rawValue), \(bind: sale.kind.rawValue), \(bind: sale.status.rawValue), \(bind: sale.merchantId.rawValue),
                    \(bind: sale.storeId.rawValue), \(bind: orgPath), \(bind: sale.registerId), \(bind: sale.registerSeq),
                    \(bind: sale.shiftId?.rawValue), \(bind: sale.receiptNumber), \(bind: sale.cashierId.rawValue), \(bind: sale.soldAt.millis),
                    \(bind: sale.recordedAt.millis), \(bind: sale.total), \(bind: sale.originalSaleId?.rawValue), \(bind: sale.hash),
                    \(bind: body), \(bind: sale.version))
            """).run()
    }

    func update(_ sale: Sale) async throws {
        let changed = try await db.raw("""
            UPDATE sales SET status = \(bind: sale.status.rawValue), register_seq = \(bind: sale.registerSeq), shift_id = \(bind: sale.shiftId?.rawValue),
                   receipt_number = \(bind: sale.receiptNumber), cashier_id = \(bind: sale.cashierId.rawValue), sold_at = \(bind: sale.soldAt.millis),
                   recorded_at = \(bind: sale.recordedAt.millis), total = \(bind: sale.total), hash = \(bind: sale.hash),
                   body = \(bind: SaleJSON.encode(sale, style: .column)), version = \(bind: sale.version)
            WHERE id = \(bind: sale.id.rawValue) AND version = \(bind: sale.version - 1) AND status = 'open'
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("order \(sale.id) was changed meanwhile; reload it") }
    }

    func find(_ id: SaleID) async throws -> Sale? {
        try await db.raw("SELECT body FROM sales WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(register: String, seq: Int64) async throws -> Sale? {
        try await db.raw("SELECT body FROM sales WHERE register_id = \(bind: register) AND register_seq = \(bind: seq)").first().map(Self.decode)
    }

    func find(_ id: SaleID, orRegister register: String, seq: Int64) async throws -> (byId: Sale?, bySequence: Sale?) {
        // An OR of two indexed equalities: both engines answer it from the id and (register_id, register_seq) indexes.
        let sales = try await db.raw("""
            SELECT body FROM sales WHERE id = \(bind: id.rawValue) OR (register_id = \(bind: register) AND register_seq = \(bind: seq))
            """).all().map(Self.decode)
        return (sales.first { $0.id == id }, sales.first { $0.registerId == register && $0.registerSeq == seq })
    }

    func refunds(of id: SaleID) async throws -> [Sale] {
        try await db.raw("SELECT body FROM sales WHERE original_sale_id = \(bind: id.rawValue) ORDER BY id").all().map(Self.decode)
    }

    func list(under path: String, filter: SaleFilter, page: PageRequest) async throws -> Page<Sale> {
        var query: SQLQueryString
        if let storeId = filter.storeId {
            query = "SELECT body FROM sales WHERE store_id = \(bind: storeId.rawValue)"
        } else {
            let range = Subtree(path)
            query = "SELECT body FROM sales WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        }
        if let kind = filter.kind { query += " AND kind = \(bind: kind.rawValue)" }
        if let status = filter.status { query += " AND status = \(bind: status.rawValue)" }
        if let register = filter.registerId { query += " AND register_id = \(bind: register)" }
        if let shift = filter.shiftId { query += " AND shift_id = \(bind: shift.rawValue)" }
        if let from = filter.from { query += " AND sold_at >= \(bind: from.millis)" }
        if let to = filter.to { query += " AND sold_at < \(bind: to.millis)" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        let sales = try await db.raw(query).all().map(Self.decode)
        return Page.from(rows: sales, limit: page.limit) { $0.id.rawValue }
    }

    func journal(store: OrgID, after receiptNumber: Int64, limit: Int) async throws -> [Sale] {
        try await db.raw("""
            SELECT body FROM sales WHERE store_id = \(bind: store.rawValue) AND receipt_number > \(bind: receiptNumber)
            ORDER BY receipt_number LIMIT \(bind: limit)
            """).all().map(Self.decode)
    }

    func lockJournal(store: OrgID) async throws -> JournalHead {
        // One statement creates the row when missing and answers it. The no-op DO UPDATE (unlike DO
        // NOTHING, which answers no row for an existing one) locks the row on PostgreSQL until the
        // transaction ends, as SELECT … FOR UPDATE did; SQLite's BEGIN IMMEDIATE already holds the only write lock.
        guard let row = try await db.raw("""
            INSERT INTO store_ledgers (store_id, receipt_number, shift_number, z_number, hash)
            VALUES (\(bind: store.rawValue), 0, 0, 0, '') ON CONFLICT (store_id) DO UPDATE SET store_id = excluded.store_id
            RETURNING receipt_number, shift_number, z_number, hash
            """).first() else {
            throw DomainError.conflict("the journal of store \(store) could not be opened")
        }
        return try Self.head(row)
    }

    func journalHead(store: OrgID) async throws -> JournalHead {
        try await db.raw("SELECT * FROM store_ledgers WHERE store_id = \(bind: store.rawValue)").first().map(Self.head) ?? JournalHead()
    }

    func saveJournal(store: OrgID, head: JournalHead) async throws {
        try await db.raw("""
            UPDATE store_ledgers SET receipt_number = \(bind: head.receiptNumber), shift_number = \(bind: head.shiftNumber),
                   z_number = \(bind: head.zNumber), hash = \(bind: head.hash)
            WHERE store_id = \(bind: store.rawValue)
            """).run()
    }

    func recordSequence(register: String, store: OrgID, seq: Int64, at: Date) async throws {
        let greatest = backend == .postgres ? "GREATEST" : "MAX"
        try await db.raw("""
            INSERT INTO registers (id, store_id, last_seq, received, last_seen_at)
            VALUES (\(bind: register), \(bind: store.rawValue), \(bind: seq), 1, \(bind: at.millis))
            ON CONFLICT (id) DO UPDATE SET last_seq = \(unsafeRaw: greatest)(registers.last_seq, excluded.last_seq),
                received = registers.received + 1, last_seen_at = excluded.last_seen_at
            """).run()
    }

    func register(_ id: String) async throws -> RegisterDevice? {
        guard let row = try await db.raw("SELECT * FROM registers WHERE id = \(bind: id)").first() else { return nil }
        return RegisterDevice(id: id, storeId: OrgID(rawValue: try row.decode(column: "store_id", as: String.self)),
                              lastSeq: try row.decode(column: "last_seq", as: Int64.self), received: try row.decode(column: "received", as: Int64.self),
                              lastSeenAt: try row.requiredDate("last_seen_at"))
    }

    func gaps(register: String, limit: Int) async throws -> [SequenceGap] {
        // Walks the register's (register_id, register_seq) index once; a window compares neighbours.
        try await db.raw("""
            SELECT prev + 1 AS gap_from, seq - 1 AS gap_to FROM (
                SELECT register_seq AS seq, LAG(register_seq, 1, 0) OVER (ORDER BY register_seq) AS prev
                FROM sales WHERE register_id = \(bind: register) AND register_seq IS NOT NULL
            ) steps WHERE seq > prev + 1 ORDER BY seq LIMIT \(bind: limit)
            """).all().map { row in
            SequenceGap(from: try row.decode(column: "gap_from", as: Int64.self), to: try row.decode(column: "gap_to", as: Int64.self))
        }
    }

    static func decode(_ row: any SQLRow) throws -> Sale {
        try JSONColumn.decode(Sale.self, from: try row.decode(column: "body", as: String.self))
    }

    static func head(_ row: any SQLRow) throws -> JournalHead {
        JournalHead(receiptNumber: try row.decode(column: "receipt_number", as: Int64.self),
                    shiftNumber: try row.decode(column: "shift_number", as: Int64.self),
                    zNumber: try row.decode(column: "z_number", as: Int64.self), hash: try row.decode(column: "hash", as: String.self))
    }
}

/// SQL storage of stock per store.
struct SQLStockRepository: StockRepository {
    let db: any SQLDatabase

    func adjust(store: OrgID, product: ProductID, by delta: Int64, at: Date) async throws {
        try await adjust(store: store, deltas: [(product: product, delta: delta)], at: at)
    }

    func adjust(store: OrgID, deltas: [(product: ProductID, delta: Int64)], at: Date) async throws {
        guard !deltas.isEmpty else { return }
        // One multi-row upsert for all lines of a sale; rows in the given order (callers sort by
        // product, so concurrent PostgreSQL transactions lock stock rows in one order).
        var upsert: SQLQueryString = "INSERT INTO stock_levels (store_id, product_id, quantity, updated_at) VALUES "
        for (index, entry) in deltas.enumerated() {
            upsert += index == 0 ? "" : ", "
            upsert += "(\(bind: store.rawValue), \(bind: entry.product.rawValue), \(bind: entry.delta), \(bind: at.millis))"
        }
        upsert += """
             ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = stock_levels.quantity + excluded.quantity,
                updated_at = excluded.updated_at
            """
        try await db.raw(upsert).run()
    }

    func levels(store: OrgID, products: [ProductID]) async throws -> [ProductID: Int64] {
        guard !products.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT product_id, quantity FROM stock_levels WHERE store_id = \(bind: store.rawValue) AND product_id IN (\(binds: products.map(\.rawValue)))
            """).all()
        var levels: [ProductID: Int64] = [:]
        for row in rows {
            levels[ProductID(rawValue: try row.decode(column: "product_id", as: String.self))] = try row.decode(column: "quantity", as: Int64.self)
        }
        return levels
    }

    func list(store: OrgID, page: PageRequest) async throws -> Page<StockLevel> {
        var query: SQLQueryString = "SELECT * FROM stock_levels WHERE store_id = \(bind: store.rawValue)"
        if let after = page.afterKey { query += " AND product_id < \(bind: after)" }
        query += " ORDER BY product_id DESC LIMIT \(bind: page.limit + 1)"
        let levels = try await db.raw(query).all().map { row in
            StockLevel(storeId: store, productId: ProductID(rawValue: try row.decode(column: "product_id", as: String.self)),
                       quantity: try row.decode(column: "quantity", as: Int64.self), updatedAt: try row.requiredDate("updated_at"))
        }
        return Page.from(rows: levels, limit: page.limit) { $0.productId.rawValue }
    }
}

/// SQL storage of register settings (one JSON document per store).
struct SQLRegisterSettingsRepository: RegisterSettingsRepository {
    let db: any SQLDatabase

    func find(store: OrgID) async throws -> RegisterSettings? {
        guard let row = try await db.raw("SELECT body FROM register_settings WHERE store_id = \(bind: store.rawValue)").first() else { return nil }
        return try JSONColumn.decode(RegisterSettings.self, from: try row.decode(column: "body", as: String.self))
    }

    func save(_ settings: RegisterSettings) async throws {
        let body = try JSONColumn.encode(settings)
        if settings.version == 1 {
            try await db.raw("""
                INSERT INTO register_settings (store_id, body, version) VALUES (\(bind: settings.storeId.rawValue), \(bind: body), 1)
                """).run()
            return
        }
        let changed = try await db.raw("""
            UPDATE register_settings SET body = \(bind: body), version = \(bind: settings.version)
            WHERE store_id = \(bind: settings.storeId.rawValue) AND version = \(bind: settings.version - 1) RETURNING store_id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("the settings were changed by someone else; reload them") }
    }
}

/// SQL storage of wallet payments (one JSON document per charge or refund, unique by our reference).
struct SQLPaymentRepository: PaymentRepository {
    let db: any SQLDatabase

    func insert(_ payment: Payment, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO payments (id, reference, sale_id, store_id, org_path, body, created_at)
            VALUES (\(bind: payment.id.rawValue), \(bind: payment.reference), \(bind: payment.saleId.rawValue), \(bind: payment.storeId.rawValue),
                    \(bind: orgPath), \(bind: try JSONColumn.encode(payment)), \(bind: payment.createdAt.millis))
            """).run()
    }

    func find(reference: String) async throws -> Payment? {
        try await db.raw("SELECT body FROM payments WHERE reference = \(bind: reference)").first().map(Self.decode)
    }

    func payments(of sale: SaleID) async throws -> [Payment] {
        try await db.raw("SELECT body FROM payments WHERE sale_id = \(bind: sale.rawValue) ORDER BY id").all().map(Self.decode)
    }

    static func decode(_ row: any SQLRow) throws -> Payment {
        try JSONColumn.decode(Payment.self, from: try row.decode(column: "body", as: String.self))
    }
}
