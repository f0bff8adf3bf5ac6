import Foundation
import SQLKit
import TillyardKit

/// SQL storage of onboarding files, document records and review history. Contacts travel as
/// one JSON document (read and written whole with the file's version).
struct SQLMerchantRepository: MerchantRepository {
    let db: any SQLDatabase

    func insert(_ profile: MerchantProfile, tenant: OrgID, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO merchant_profiles (merchant_id, tenant_id, org_path, legal_name, credit_code, mcc, area_code, business_type,
                business_hours, address, latitude, longitude, account_name, account_bank, account_masked, account_fingerprint,
                contacts, status, risk_level, mid, submitted_by, submitted_at, reviewed_by, reviewed_at, review_note,
                created_by, created_at, updated_at, version)
            VALUES (\(bind: profile.merchantId.rawValue), \(bind: tenant.rawValue), \(bind: orgPath), \(bind: profile.legalName),
                \(bind: profile.creditCode), \(bind: profile.mcc), \(bind: profile.areaCode), \(bind: profile.businessType.rawValue),
                \(bind: profile.businessHours.description), \(bind: profile.address.address), \(bind: profile.address.latitude),
                \(bind: profile.address.longitude), \(bind: profile.settlementAccountName), \(bind: profile.settlementBank),
                \(bind: profile.settlementAccountMasked), \(bind: profile.settlementAccountFingerprint),
                \(bind: try Self.encode(profile.contacts)), \(bind: profile.status.rawValue), \(bind: profile.riskLevel.rawValue),
                \(bind: profile.mid), \(bind: profile.submittedBy), \(bind: profile.submittedAt.millis), \(bind: profile.reviewedBy),
                \(bind: profile.reviewedAt.millis), \(bind: profile.reviewNote), \(bind: profile.createdBy),
                \(bind: profile.createdAt.millis), \(bind: profile.updatedAt.millis), \(bind: profile.version))
            """).run()
    }

    func find(_ merchant: OrgID) async throws -> MerchantProfile? {
        try await db.raw("SELECT * FROM merchant_profiles WHERE merchant_id = \(bind: merchant.rawValue)").first().map(Self.decode)
    }

    func update(_ profile: MerchantProfile) async throws {
        let changed: [any SQLRow]
        do {
            changed = try await db.raw("""
                UPDATE merchant_profiles SET legal_name = \(bind: profile.legalName), credit_code = \(bind: profile.creditCode),
                    mcc = \(bind: profile.mcc), area_code = \(bind: profile.areaCode), business_type = \(bind: profile.businessType.rawValue),
                    business_hours = \(bind: profile.businessHours.description), address = \(bind: profile.address.address),
                    latitude = \(bind: profile.address.latitude), longitude = \(bind: profile.address.longitude),
                    account_name = \(bind: profile.settlementAccountName), account_bank = \(bind: profile.settlementBank),
                    account_masked = \(bind: profile.settlementAccountMasked), account_fingerprint = \(bind: profile.settlementAccountFingerprint),
                    contacts = \(bind: try Self.encode(profile.contacts)), status = \(bind: profile.status.rawValue),
                    risk_level = \(bind: profile.riskLevel.rawValue), mid = \(bind: profile.mid), submitted_by = \(bind: profile.submittedBy),
                    submitted_at = \(bind: profile.submittedAt.millis), reviewed_by = \(bind: profile.reviewedBy),
                    reviewed_at = \(bind: profile.reviewedAt.millis), review_note = \(bind: profile.reviewNote),
                    updated_at = \(bind: profile.updatedAt.millis), version = \(bind: profile.version)
                WHERE merchant_id = \(bind: profile.merchantId.rawValue) AND version = \(bind: profile.version - 1)
                RETURNING merchant_id
                """).all()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("MID \(profile.mid ?? "") already belongs to another merchant")
        }
        guard !changed.isEmpty else { throw DomainError.conflict("the onboarding file was changed by someone else; reload it") }
    }

    func list(under path: String, filter: MerchantFilter, page: PageRequest) async throws -> Page<MerchantProfile> {
        let range = Subtree(path)
        var query: SQLQueryString = "SELECT * FROM merchant_profiles WHERE org_path >= \(bind: range.lower) AND org_path < \(bind: range.upper)"
        if let status = filter.status { query += " AND status = \(bind: status.rawValue)" }
        if let risk = filter.riskLevel { query += " AND risk_level = \(bind: risk.rawValue)" }
        if let mid = filter.mid { query += " AND mid = \(bind: mid)" }
        if let after = page.afterKey { query += " AND merchant_id < \(bind: after)" }
        query += " ORDER BY merchant_id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(Self.decode), limit: page.limit) { $0.merchantId.rawValue }
    }

    func sharingAccount(tenant: OrgID, fingerprint: String, except merchant: OrgID) async throws -> [OrgID] {
        try await db.raw("""
            SELECT merchant_id FROM merchant_profiles
            WHERE tenant_id = \(bind: tenant.rawValue) AND account_fingerprint = \(bind: fingerprint) AND merchant_id <> \(bind: merchant.rawValue)
            ORDER BY merchant_id LIMIT 50
            """).all().map { OrgID(rawValue: try $0.decode(column: "merchant_id", as: String.self)) }
    }

    func lastMID(tenant: OrgID, prefix: String) async throws -> String? {
        // MID prefixes are digits only, so LIKE needs no escaping.
        try await db.raw("""
            SELECT MAX(mid) AS mid FROM merchant_profiles
            WHERE tenant_id = \(bind: tenant.rawValue) AND mid LIKE \(bind: prefix + "%")
            """).first()?.decode(column: "mid", as: String?.self)
    }

    func insertDocument(_ document: MerchantDocument, orgPath: String) async throws {
        try await db.raw("""
            INSERT INTO merchant_documents (id, merchant_id, org_path, kind, filename, format, size, sha256, uploaded_by, uploaded_at)
            VALUES (\(bind: document.id.rawValue), \(bind: document.merchantId.rawValue), \(bind: orgPath), \(bind: document.kind.rawValue),
                    \(bind: document.filename), \(bind: document.format.rawValue), \(bind: document.size), \(bind: document.sha256),
                    \(bind: document.uploadedBy), \(bind: document.uploadedAt.millis))
            """).run()
    }

    func document(_ id: DocumentID) async throws -> MerchantDocument? {
        try await db.raw("SELECT * FROM merchant_documents WHERE id = \(bind: id.rawValue)").first().map(Self.decodeDocument)
    }

    func documents(of merchant: OrgID) async throws -> [MerchantDocument] {
        try await db.raw("SELECT * FROM merchant_documents WHERE merchant_id = \(bind: merchant.rawValue) ORDER BY id")
            .all().map(Self.decodeDocument)
    }

    func deleteDocument(_ id: DocumentID) async throws {
        try await db.raw("DELETE FROM merchant_documents WHERE id = \(bind: id.rawValue)").run()
    }

    func recordReview(_ review: MerchantReview, merchant: OrgID) async throws {
        try await db.raw("""
            INSERT INTO merchant_reviews (id, merchant_id, action, actor, at, note)
            VALUES (\(bind: UUIDv7.make(now: review.at)), \(bind: merchant.rawValue), \(bind: review.action), \(bind: review.actor),
                    \(bind: review.at.millis), \(bind: review.note))
            """).run()
    }

    func reviews(of merchant: OrgID) async throws -> [MerchantReview] {
        try await db.raw("SELECT * FROM merchant_reviews WHERE merchant_id = \(bind: merchant.rawValue) ORDER BY id DESC").all().map { row in
            MerchantReview(action: try row.decode(column: "action", as: String.self), actor: try row.decode(column: "actor", as: String.self),
                           at: try row.requiredDate("at"), note: try row.decode(column: "note", as: String?.self))
        }
    }

    static func encode(_ contacts: [MerchantContact]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(contacts), as: UTF8.self)
    }

    static func decode(_ row: any SQLRow) throws -> MerchantProfile {
        MerchantProfile(
            merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
            legalName: try row.decode(column: "legal_name", as: String.self),
            creditCode: try row.decode(column: "credit_code", as: String.self),
            mcc: try row.decode(column: "mcc", as: String.self),
            areaCode: try row.decode(column: "area_code", as: String.self),
            businessType: try row.enumValue("business_type", as: BusinessType.self),
            businessHours: try BusinessHours.parse(try row.decode(column: "business_hours", as: String.self)),
            address: Placement(address: try row.decode(column: "address", as: String.self),
                               latitude: try row.decode(column: "latitude", as: Double.self),
                               longitude: try row.decode(column: "longitude", as: Double.self)),
            settlementAccountName: try row.decode(column: "account_name", as: String.self),
            settlementBank: try row.decode(column: "account_bank", as: String.self),
            settlementAccountMasked: try row.decode(column: "account_masked", as: String.self),
            settlementAccountFingerprint: try row.decode(column: "account_fingerprint", as: String.self),
            contacts: try JSONDecoder().decode([MerchantContact].self, from: Data(try row.decode(column: "contacts", as: String.self).utf8)),
            status: try row.enumValue("status", as: MerchantStatus.self),
            riskLevel: try row.enumValue("risk_level", as: RiskLevel.self),
            mid: try row.decode(column: "mid", as: String?.self),
            submittedBy: try row.decode(column: "submitted_by", as: String?.self),
            submittedAt: try row.date("submitted_at"),
            reviewedBy: try row.decode(column: "reviewed_by", as: String?.self),
            reviewedAt: try row.date("reviewed_at"),
            reviewNote: try row.decode(column: "review_note", as: String?.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }

    static func decodeDocument(_ row: any SQLRow) throws -> MerchantDocument {
        MerchantDocument(
            id: DocumentID(rawValue: try row.decode(column: "id", as: String.self)),
            merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
            kind: try row.enumValue("kind", as: DocumentKind.self),
            filename: try row.decode(column: "filename", as: String.self),
            format: try row.enumValue("format", as: DocumentFormat.self),
            size: try row.decode(column: "size", as: Int.self),
            sha256: try row.decode(column: "sha256", as: String.self),
            uploadedBy: try row.decode(column: "uploaded_by", as: String.self),
            uploadedAt: try row.requiredDate("uploaded_at"))
    }
}
