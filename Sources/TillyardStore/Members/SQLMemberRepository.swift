import Foundation
import SQLKit
import TillyardKit

/// SQL storage of members (sealed phone and name, balances as columns), their ledgers, purchases,
/// category spend and the merchants' member programs.
struct SQLMemberRepository: MemberRepository {
    let db: any SQLDatabase

    func insert(_ member: Member, orgPath: String) async throws {
        let contact = member.contact
        do {
            try await db.raw("""
                INSERT INTO members (id, merchant_id, org_path, home_store_id, card_number, key_id, phone_hash, phone_sealed, name_sealed, birthday,
                    birth_month, tier, points, stored_value, lifetime_spend, lifetime_points, visits, tags, consent_marketing, consent_analytics,
                    created_at, last_visit_at, erased_at, version)
                VALUES (\(bind: member.id.rawValue), \(bind: member.merchantId.rawValue), \(bind: orgPath), \(bind: member.homeStoreId?.rawValue),
                    \(bind: member.cardNumber), \(bind: contact.keyId), \(bind: contact.phoneHash), \(bind: Self.text(contact.phone)),
                    \(bind: Self.text(contact.name)), \(bind: member.birthday), \(bind: member.birthMonth), \(bind: member.tier), \(bind: member.points),
                    \(bind: member.storedValue), \(bind: member.lifetimeSpend), \(bind: member.lifetimePoints), \(bind: Int64(member.visits)),
                    \(bind: try JSONColumn.encode(member.tags)), \(bind: member.consent.marketing ? 1 : 0), \(bind: member.consent.analytics ? 1 : 0),
                    \(bind: member.createdAt.millis), \(bind: member.lastVisitAt.millis), \(bind: member.erasedAt.millis), \(bind: Int64(member.version)))
                """).run()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("the card number or phone is already a member of this merchant")
        }
    }

    func update(_ member: Member) async throws {
        let contact = member.contact
        let changed: [any SQLRow]
        do {
            changed = try await db.raw("""
                UPDATE members SET home_store_id = \(bind: member.homeStoreId?.rawValue), card_number = \(bind: member.cardNumber),
                    key_id = \(bind: contact.keyId), phone_hash = \(bind: contact.phoneHash), phone_sealed = \(bind: Self.text(contact.phone)),
                    name_sealed = \(bind: Self.text(contact.name)), birthday = \(bind: member.birthday), birth_month = \(bind: member.birthMonth),
                    tags = \(bind: try JSONColumn.encode(member.tags)), consent_marketing = \(bind: member.consent.marketing ? 1 : 0),
                    consent_analytics = \(bind: member.consent.analytics ? 1 : 0), erased_at = \(bind: member.erasedAt.millis),
                    version = \(bind: Int64(member.version))
                WHERE id = \(bind: member.id.rawValue) AND version = \(bind: Int64(member.version - 1)) RETURNING id
                """).all()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("the card number or phone is already a member of this merchant")
        }
        guard !changed.isEmpty else { throw DomainError.conflict("the member was changed by someone else; reload it") }
    }

    func find(_ id: MemberID) async throws -> Member? {
        try await db.raw("SELECT * FROM members WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(merchant: OrgID, phoneHash: String) async throws -> Member? {
        try await db.raw("SELECT * FROM members WHERE merchant_id = \(bind: merchant.rawValue) AND phone_hash = \(bind: phoneHash)").first().map(Self.decode)
    }

    func find(merchant: OrgID, cardNumber: String) async throws -> Member? {
        try await db.raw("SELECT * FROM members WHERE merchant_id = \(bind: merchant.rawValue) AND card_number = \(bind: cardNumber)").first().map(Self.decode)
    }

    func list(merchant: OrgID, filter: MemberFilter, page: PageRequest) async throws -> Page<Member> {
        var query: SQLQueryString = "SELECT * FROM members WHERE merchant_id = \(bind: merchant.rawValue)"
        if let tier = filter.tier { query += " AND tier = \(bind: tier)" }
        if let prefix = filter.cardPrefix, !prefix.isEmpty {
            query += " AND card_number >= \(bind: prefix) AND card_number < \(bind: prefix + "\u{10FFFF}")"
        }
        if !filter.includeErased { query += " AND erased_at IS NULL" }
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        // Tags are a small JSON list: filtered here, so a tag filter may give short pages (the cursor carries on).
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map(Self.decode)
        let result = Page.from(rows: rows, limit: page.limit) { $0.id.rawValue }
        guard let tag = filter.tag else { return result }
        return Page(items: result.items.filter { $0.tags.contains(tag) }, nextCursor: result.nextCursor)
    }

    func scan(merchant: OrgID?, notKey: String?, after: MemberID?, limit: Int) async throws -> [Member] {
        var query: SQLQueryString = "SELECT * FROM members WHERE 1 = 1"
        if let merchant { query += " AND merchant_id = \(bind: merchant.rawValue)" }
        if let notKey { query += " AND key_id <> \(bind: notKey)" }
        if let after { query += " AND id > \(bind: after.rawValue)" }
        query += " ORDER BY id LIMIT \(bind: limit)"
        return try await db.raw(query).all().map(Self.decode)
    }

    func apply(_ movement: MemberMovement, to id: MemberID) async throws -> Member? {
        var query: SQLQueryString = """
            UPDATE members SET points = points + \(bind: movement.points), stored_value = stored_value + \(bind: movement.storedValue),
                lifetime_spend = lifetime_spend + \(bind: movement.spend), lifetime_points = lifetime_points + \(bind: movement.pointsEarned),
                visits = visits + \(bind: Int64(movement.visits))
            """
        if let at = movement.visitAt {
            query += ", last_visit_at = CASE WHEN last_visit_at IS NULL OR last_visit_at < \(bind: at.millis) THEN \(bind: at.millis) ELSE last_visit_at END"
        }
        query += " WHERE id = \(bind: id.rawValue) AND points + \(bind: movement.points) >= 0 AND stored_value + \(bind: movement.storedValue) >= 0"
        if let max = movement.maxStoredValue { query += " AND stored_value + \(bind: movement.storedValue) <= \(bind: max)" }
        query += " RETURNING *"
        return try await db.raw(query).first().map(Self.decode)
    }

    func setTier(_ id: MemberID, tier: String) async throws {
        try await db.raw("UPDATE members SET tier = \(bind: tier) WHERE id = \(bind: id.rawValue)").run()
    }

    func appendLedger(_ entries: [MemberLedgerEntry], orgPath: String) async throws {
        guard let first = entries.first else { return }
        precondition(entries.allSatisfy { $0.memberId == first.memberId }, "ledger lines are appended per member")
        let last = try await db.raw("""
            SELECT MAX(line) AS line FROM member_ledger WHERE member_id = \(bind: first.memberId.rawValue)
            """).first()?.decode(column: "line", as: Int64?.self) ?? 0
        var query: SQLQueryString = """
            INSERT INTO member_ledger (id, member_id, line, merchant_id, org_path, balance, delta, balance_after, reason, sale_id, actor, note, created_at) VALUES
            """
        for (index, entry) in entries.enumerated() {
            query += index == 0 ? " " : ", "
            query += """
                (\(bind: entry.id.rawValue), \(bind: entry.memberId.rawValue), \(bind: last + Int64(index) + 1), \(bind: entry.merchantId.rawValue),
                \(bind: orgPath), \(bind: entry.balance.rawValue), \(bind: entry.delta), \(bind: entry.balanceAfter), \(bind: entry.reason.rawValue),
                \(bind: entry.saleId?.rawValue), \(bind: entry.actor), \(bind: entry.note), \(bind: entry.createdAt.millis))
                """
        }
        try await db.raw(query).run()
    }

    func ledger(member: MemberID, page: PageRequest) async throws -> Page<MemberLedgerEntry> {
        var query: SQLQueryString = "SELECT * FROM member_ledger WHERE member_id = \(bind: member.rawValue)"
        if let after = page.afterKey.flatMap(Int64.init) { query += " AND line < \(bind: after)" }
        query += " ORDER BY line DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map { row in
            MemberLedgerEntry(id: MemberLedgerID(rawValue: try row.decode(column: "id", as: String.self)),
                              memberId: MemberID(rawValue: try row.decode(column: "member_id", as: String.self)),
                              line: try row.decode(column: "line", as: Int64.self),
                              merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
                              balance: try row.enumValue("balance", as: MemberBalance.self), delta: try row.decode(column: "delta", as: Int64.self),
                              balanceAfter: try row.decode(column: "balance_after", as: Int64.self),
                              reason: try row.enumValue("reason", as: MemberLedgerReason.self),
                              saleId: try row.decode(column: "sale_id", as: String?.self).map(SaleID.init(rawValue:)),
                              actor: try row.decode(column: "actor", as: String.self), note: try row.decode(column: "note", as: String?.self),
                              createdAt: try row.requiredDate("created_at"))
        }
        return Page.from(rows: rows, limit: page.limit) { String($0.line) }
    }

    func ledgerSums(member: MemberID) async throws -> [MemberBalance: Int64] {
        var sums: [MemberBalance: Int64] = [:]
        for row in try await db.raw("""
            SELECT balance, CAST(SUM(delta) AS BIGINT) AS total FROM member_ledger WHERE member_id = \(bind: member.rawValue) GROUP BY balance
            """).all() {
            sums[try row.enumValue("balance", as: MemberBalance.self)] = try row.decode(column: "total", as: Int64.self)
        }
        return sums
    }

    func recordPurchase(_ purchase: MemberPurchase, merchant: OrgID, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO member_purchases (sale_id, member_id, merchant_id, org_path, store_id, kind, original_sale_id, sold_at, total, paid,
                points_earned, points_redeemed, stored_value_spent)
            VALUES (\(bind: purchase.saleId.rawValue), \(bind: purchase.memberId.rawValue), \(bind: merchant.rawValue), \(bind: orgPath),
                \(bind: purchase.storeId.rawValue), \(bind: purchase.kind.rawValue), \(bind: purchase.originalSaleId?.rawValue), \(bind: purchase.soldAt.millis),
                \(bind: purchase.total), \(bind: purchase.paid), \(bind: purchase.pointsEarned), \(bind: purchase.pointsRedeemed),
                \(bind: purchase.storedValueSpent))
            """).run()
    }

    func purchase(sale: SaleID) async throws -> MemberPurchase? {
        try await db.raw("SELECT * FROM member_purchases WHERE sale_id = \(bind: sale.rawValue)").first().map(Self.purchase)
    }

    func refunds(of sale: SaleID) async throws -> [MemberPurchase] {
        try await db.raw("SELECT * FROM member_purchases WHERE original_sale_id = \(bind: sale.rawValue) ORDER BY sale_id").all().map(Self.purchase)
    }

    func purchases(member: MemberID, limit: Int) async throws -> [MemberPurchase] {
        try await db.raw("""
            SELECT * FROM member_purchases WHERE member_id = \(bind: member.rawValue) ORDER BY sale_id DESC LIMIT \(bind: limit)
            """).all().map(Self.purchase)
    }

    func addCategorySpend(_ id: MemberID, spend: [String: Int64]) async throws {
        guard !spend.isEmpty else { return }
        var query: SQLQueryString = "INSERT INTO member_categories (member_id, category, spend) VALUES"
        for (index, item) in spend.sorted(by: { $0.key < $1.key }).enumerated() {
            query += index == 0 ? " " : ", "
            query += "(\(bind: id.rawValue), \(bind: item.key), \(bind: item.value))"
        }
        query += " ON CONFLICT (member_id, category) DO UPDATE SET spend = member_categories.spend + excluded.spend"
        try await db.raw(query).run()
    }

    func favourites(_ ids: [MemberID]) async throws -> [MemberID: String] {
        guard !ids.isEmpty else { return [:] }
        var result: [MemberID: (String, Int64)] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = ids[start..<min(start + 500, ids.count)]
            let list = chunk.map(\.rawValue)
            let rows = try await db.raw("""
                SELECT member_id, category, spend FROM member_categories WHERE member_id IN (\(binds: list)) AND spend > 0
                """).all()
            for row in rows {
                let id = MemberID(rawValue: try row.decode(column: "member_id", as: String.self))
                let category = try row.decode(column: "category", as: String.self)
                let spend = try row.decode(column: "spend", as: Int64.self)
                // Highest spend wins; ties go to the first category by name, so the answer is stable.
                if let best = result[id], best.1 > spend || (best.1 == spend && best.0 < category) { continue }
                result[id] = (category, spend)
            }
        }
        return result.mapValues(\.0)
    }

    func clearCategorySpend(_ id: MemberID) async throws {
        try await db.raw("DELETE FROM member_categories WHERE member_id = \(bind: id.rawValue)").run()
    }

    func program(merchant: OrgID) async throws -> MemberProgram? {
        try await db.raw("SELECT body FROM member_programs WHERE merchant_id = \(bind: merchant.rawValue)").first().map { row in
            try JSONColumn.decode(MemberProgram.self, from: try row.decode(column: "body", as: String.self))
        }
    }

    func saveProgram(_ program: MemberProgram, orgPath: String) async throws {
        let body = try JSONColumn.encode(program)
        if program.version == 1 {
            do {
                try await db.raw("""
                    INSERT INTO member_programs (merchant_id, org_path, body, version)
                    VALUES (\(bind: program.merchantId.rawValue), \(bind: orgPath), \(bind: body), 1)
                    """).run()
            } catch where Dialect.isUniqueViolation(error) {
                throw DomainError.conflict("the member program was changed by someone else; reload it")
            }
            return
        }
        let changed = try await db.raw("""
            UPDATE member_programs SET body = \(bind: body), version = \(bind: Int64(program.version))
            WHERE merchant_id = \(bind: program.merchantId.rawValue) AND version = \(bind: Int64(program.version - 1)) RETURNING merchant_id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("the member program was changed by someone else; reload it") }
    }

    // MARK: - Rows

    static func text(_ blob: [UInt8]?) -> String? { blob.map { Data($0).base64EncodedString() } }

    static func blob(_ row: any SQLRow, _ column: String) throws -> [UInt8]? {
        try row.decode(column: column, as: String?.self).map { Array(Data(base64Encoded: $0) ?? Data()) }
    }

    static func decode(_ row: any SQLRow) throws -> Member {
        let id = MemberID(rawValue: try row.decode(column: "id", as: String.self))
        return Member(id: id, merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
                      homeStoreId: try row.decode(column: "home_store_id", as: String?.self).map(OrgID.init(rawValue:)),
                      cardNumber: try row.decode(column: "card_number", as: String.self),
                      contact: SealedContact(keyId: try row.decode(column: "key_id", as: String.self),
                                             phoneHash: try row.decode(column: "phone_hash", as: String?.self),
                                             phone: try blob(row, "phone_sealed"), name: try blob(row, "name_sealed")),
                      birthday: try row.decode(column: "birthday", as: String?.self), tier: try row.decode(column: "tier", as: String.self),
                      points: try row.decode(column: "points", as: Int64.self), storedValue: try row.decode(column: "stored_value", as: Int64.self),
                      lifetimeSpend: try row.decode(column: "lifetime_spend", as: Int64.self),
                      lifetimePoints: try row.decode(column: "lifetime_points", as: Int64.self),
                      visits: Int(try row.decode(column: "visits", as: Int64.self)),
                      tags: try JSONColumn.decode([String].self, from: try row.decode(column: "tags", as: String.self)),
                      consent: MemberConsent(marketing: try row.decode(column: "consent_marketing", as: Int64.self) != 0,
                                             analytics: try row.decode(column: "consent_analytics", as: Int64.self) != 0),
                      createdAt: try row.requiredDate("created_at"), lastVisitAt: try row.date("last_visit_at"), erasedAt: try row.date("erased_at"),
                      version: Int(try row.decode(column: "version", as: Int64.self)))
    }

    static func purchase(_ row: any SQLRow) throws -> MemberPurchase {
        MemberPurchase(saleId: SaleID(rawValue: try row.decode(column: "sale_id", as: String.self)),
                       memberId: MemberID(rawValue: try row.decode(column: "member_id", as: String.self)),
                       storeId: OrgID(rawValue: try row.decode(column: "store_id", as: String.self)), kind: try row.enumValue("kind", as: SaleKind.self),
                       originalSaleId: try row.decode(column: "original_sale_id", as: String?.self).map(SaleID.init(rawValue:)),
                       soldAt: try row.requiredDate("sold_at"), total: try row.decode(column: "total", as: Int64.self),
                       paid: try row.decode(column: "paid", as: Int64.self), pointsEarned: try row.decode(column: "points_earned", as: Int64.self),
                       pointsRedeemed: try row.decode(column: "points_redeemed", as: Int64.self),
                       storedValueSpent: try row.decode(column: "stored_value_spent", as: Int64.self))
    }
}
