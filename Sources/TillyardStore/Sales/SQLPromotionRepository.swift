import Foundation
import SQLKit
import TillyardKit

/// SQL storage of promotions (one JSON document each; dates as columns for the running lookup).
struct SQLPromotionRepository: PromotionRepository {
    let db: any SQLDatabase

    func insert(_ record: PromotionRecord, orgPath: String) async throws {
        let window = record.promotion.window
        try await db.raw("""
            INSERT INTO promotions (id, merchant_id, org_path, name, starts_at, ends_at, body, created_at, version)
            VALUES (\(bind: record.promotion.id.rawValue), \(bind: record.merchantId.rawValue), \(bind: orgPath), \(bind: record.promotion.name),
                    \(bind: window.startsAt.millis), \(bind: window.endsAt.millis), \(bind: try JSONColumn.encode(record)),
                    \(bind: record.createdAt.millis), \(bind: record.version))
            """).run()
    }

    func update(_ record: PromotionRecord) async throws {
        let window = record.promotion.window
        let changed = try await db.raw("""
            UPDATE promotions SET name = \(bind: record.promotion.name), starts_at = \(bind: window.startsAt.millis),
                ends_at = \(bind: window.endsAt.millis), body = \(bind: try JSONColumn.encode(record)), version = \(bind: record.version)
            WHERE id = \(bind: record.promotion.id.rawValue) AND version = \(bind: record.version - 1) RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("the promotion was changed by someone else; reload it") }
    }

    func find(_ id: PromotionID) async throws -> PromotionRecord? {
        try await db.raw("SELECT body FROM promotions WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func list(merchant: OrgID, status: PromotionStatus?, at now: Date, page: PageRequest) async throws -> Page<PromotionRecord> {
        var query: SQLQueryString = "SELECT body FROM promotions WHERE merchant_id = \(bind: merchant.rawValue)"
        switch status {
        case .scheduled?: query += " AND starts_at > \(bind: now.millis) AND (ends_at IS NULL OR ends_at > \(bind: now.millis))"
        case .running?: query += " AND (starts_at IS NULL OR starts_at <= \(bind: now.millis)) AND (ends_at IS NULL OR ends_at > \(bind: now.millis))"
        case .ended?: query += " AND ends_at <= \(bind: now.millis)"
        case nil: break
        }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(Self.decode), limit: page.limit) { $0.promotion.id.rawValue }
    }

    func running(merchant: OrgID, at: Date) async throws -> [Promotion] {
        try await db.raw("""
            SELECT body FROM promotions WHERE merchant_id = \(bind: merchant.rawValue)
            AND (ends_at IS NULL OR ends_at > \(bind: at.millis)) AND (starts_at IS NULL OR starts_at <= \(bind: at.millis))
            ORDER BY id
            """).all().map { try Self.decode($0).promotion }
    }

    func live(merchant: OrgID, at: Date) async throws -> [Promotion] {
        try await db.raw("""
            SELECT body FROM promotions WHERE merchant_id = \(bind: merchant.rawValue)
            AND (ends_at IS NULL OR ends_at > \(bind: at.millis)) ORDER BY id
            """).all().map { try Self.decode($0).promotion }
    }

    func liveCount(merchant: OrgID, at: Date) async throws -> Int {
        try await db.raw("""
            SELECT COUNT(*) AS n FROM promotions WHERE merchant_id = \(bind: merchant.rawValue) AND (ends_at IS NULL OR ends_at > \(bind: at.millis))
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func decode(_ row: any SQLRow) throws -> PromotionRecord {
        try JSONColumn.decode(PromotionRecord.self, from: try row.decode(column: "body", as: String.self))
    }
}
