import Foundation
import Hummingbird
import TillyardKit

/// Consent flags as the API takes them.
struct ConsentBody: Codable, Sendable {
    var marketing: Bool?
    var analytics: Bool?
    var consent: MemberConsent { MemberConsent(marketing: marketing ?? false, analytics: analytics ?? true) }
}

/// The body of `POST /members` and `PUT /members/{id}`. The phone is a mobile number, never card data;
/// the member card is `memberCard` (the card-data guard refuses any field named like a bank card number).
struct MemberBodyInput: APIInput {
    var merchantId: String?
    var version: Int?
    var phone: String
    var name: String?
    var memberCard: String?
    var birthday: String?
    var tags: [String]?
    var consent: ConsentBody?
    var homeStoreId: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case merchantId, version, phone, name, memberCard, birthday, tags, consent, homeStoreId }
    typealias Field = CodingKeys

    var input: MemberInput {
        get throws {
            MemberInput(phone: phone, name: name, cardNumber: memberCard, birthday: birthday, tags: tags ?? [], consent: consent?.consent ?? MemberConsent(),
                        homeStoreId: try OrgID.parse(ifPresent: homeStoreId, field: "homeStoreId"))
        }
    }
}

/// The body of `POST /members/{id}/top-ups`.
struct TopUpInput: APIInput {
    var amount: Int64
    var tender: TenderKind
    var note: String?
    /// The open shift whose drawer takes the cash, for a top-up at a till.
    var shiftId: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case amount, tender, note, shiftId }
    typealias Field = CodingKeys
}

/// The body of `POST /members/{id}/points-adjustments`.
struct PointsAdjustmentInput: APIInput {
    var delta: Int64
    var note: String
    enum CodingKeys: String, CodingKey, CaseIterable { case delta, note }
    typealias Field = CodingKeys
}

/// The body of `POST /members/{id}/erase`.
struct MemberVersionInput: APIInput {
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case version }
    typealias Field = CodingKeys
}

/// The body of `PUT /member-program`.
struct MemberProgramInput: APIInput {
    var merchantId: String?
    var version: Int
    var sharedAcrossStores: Bool
    var pointsPerYuan: Int
    var fenPerPoint: Int64
    var maxStoredValue: Int64
    var tierBasis: TierBasis
    var tiers: [TierBody]
    var offers: [OfferRule]
    enum CodingKeys: String, CodingKey, CaseIterable {
        case merchantId, version, sharedAcrossStores, pointsPerYuan, fenPerPoint, maxStoredValue, tierBasis, tiers, offers
    }
    typealias Field = CodingKeys

    /// A tier as given: its promotion id is kept from the stored tier of the same code, or made.
    struct TierBody: Codable, Sendable {
        var code: String
        var name: String
        var threshold: Int64
        var memberPrice: Bool?
        var percentOff: Int?
        var pointsMultiplier: Int?
    }

    func program(merchant: OrgID, stored: MemberProgram) -> MemberProgram {
        MemberProgram(merchantId: merchant, sharedAcrossStores: sharedAcrossStores, pointsPerYuan: pointsPerYuan, fenPerPoint: fenPerPoint,
                      maxStoredValue: maxStoredValue, tierBasis: tierBasis,
                      tiers: tiers.map { tier in
                          MemberTier(code: tier.code, name: tier.name, threshold: tier.threshold, memberPrice: tier.memberPrice ?? true,
                                     percentOff: tier.percentOff ?? 0, pointsMultiplier: tier.pointsMultiplier ?? 10_000,
                                     promotionId: stored.tiers.first { $0.code == tier.code }?.promotionId ?? .generate())
                      },
                      offers: offers, version: stored.version)
    }
}

/// `/api/v1/members`, `/member-lookup`, `/member-program`, `/member-offers.csv`, `/member-keys/rotation`.
struct MemberAPI {
    let members: MemberService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let members = self.members
        let routes = self.routes
        api.get("members") { request, context in
            let principal = try context.requirePrincipal()
            let filter = MemberFilter(tier: request.query("tier"), tag: request.query("tag"), cardPrefix: request.query("card"),
                                      includeErased: request.query("erased") == "true")
            let page = try await members.list(merchantId: try CatalogAPI.merchant(request), filter: filter, page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.post("members") { request, context in
            try await routes.create(request, context) { (body: MemberBodyInput, principal) in
                guard body.version == nil else { throw DomainError.invalid("version", "is not used when enrolling a member") }
                return try await members.enroll(try body.input, merchantId: try OrgID.parse(ifPresent: body.merchantId, field: "merchantId"), by: principal)
            }
        }
        api.post("members/import") { request, context in
            let principal = try context.requirePrincipal()
            let merchant = try CatalogAPI.merchant(request)
            let dryRun = try CatalogAPI.dryRun(request)
            let (data, text) = try await CSVTransfer.upload(request)
            return try await routes.idempotency.run(request: request, body: data, principal: principal) {
                let report = try await members.importMembers(csv: text, merchantId: merchant, dryRun: dryRun, by: principal)
                return (dryRun ? .ok : .created, try JSONIO.encode(report))
            }
        }
        api.get("members/:id") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await members.member(try context.id("id", resource: "member"), by: principal))
        }
        api.put("members/:id") { request, context in
            let id: MemberID = try context.id("id", resource: "member")
            return try await routes.update(request, context) { (body: MemberBodyInput, principal) in
                guard let version = body.version else { throw DomainError.invalid("version", "is required: the version you read") }
                guard body.merchantId == nil else { throw DomainError.invalid("merchantId", "a member stays with their merchant") }
                return try await members.update(id, try body.input, expectedVersion: version, by: principal)
            }
        }
        api.get("members/:id/phone") { _, context in
            let principal = try context.requirePrincipal()
            struct Phone: Encodable, Sendable { var phone: String }
            return try JSONResponse.make(Phone(phone: try await members.revealPhone(try context.id("id", resource: "member"), by: principal)))
        }
        api.get("members/:id/ledger") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await members.ledger(try context.id("id", resource: "member"), page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.get("members/:id/purchases") { request, context in
            let principal = try context.requirePrincipal()
            let limit = Int(request.query("limit") ?? "20") ?? 20
            return try JSONResponse.make(try await members.purchases(try context.id("id", resource: "member"), limit: limit, by: principal))
        }
        api.get("members/:id/export") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await members.export(try context.id("id", resource: "member"), by: principal))
        }
        api.post("members/:id/top-ups") { request, context in
            let id: MemberID = try context.id("id", resource: "member")
            return try await routes.create(request, context) { (body: TopUpInput, principal) in
                try await members.topUp(id, amount: body.amount, tender: body.tender, note: body.note,
                                        shiftId: try ShiftID.parse(ifPresent: body.shiftId, field: "shiftId"), by: principal)
            }
        }
        api.post("members/:id/points-adjustments") { request, context in
            let id: MemberID = try context.id("id", resource: "member")
            return try await routes.create(request, context) { (body: PointsAdjustmentInput, principal) in
                try await members.adjustPoints(id, delta: body.delta, note: body.note, by: principal)
            }
        }
        api.post("members/:id/erase") { request, context in
            let id: MemberID = try context.id("id", resource: "member")
            return try await routes.update(request, context) { (body: MemberVersionInput, principal) in
                try await members.erase(id, expectedVersion: body.version, by: principal)
            }
        }
        api.get("member-lookup") { request, context in
            let principal = try context.requirePrincipal()
            guard let query = request.query("q") else { throw DomainError.invalid("q", "give a phone number, card number or member QR code") }
            return try JSONResponse.make(try await members.lookup(query, storeId: try OrgID.parse(ifPresent: request.query("storeId"), field: "storeId"),
                                                                  by: principal))
        }
        api.get("member-program") { request, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await members.program(merchantId: try CatalogAPI.merchant(request), by: principal))
        }
        api.put("member-program") { request, context in
            try await routes.update(request, context) { (body: MemberProgramInput, principal) in
                let stored = try await members.program(merchantId: try OrgID.parse(ifPresent: body.merchantId, field: "merchantId"), by: principal)
                return try await members.saveProgram(body.program(merchant: stored.merchantId, stored: stored), expectedVersion: body.version, by: principal)
            }
        }
        api.get("member-offers.csv") { request, context in
            let principal = try context.requirePrincipal()
            guard let code = request.query("code") else { throw DomainError.invalid("code", "name the offer rule") }
            let csv = try await members.offerCSV(code, merchantId: try CatalogAPI.merchant(request), by: principal)
            return CSVTransfer.attachment(csv, filename: "offer-\(code).csv")
        }
        api.post("member-keys/rotation") { _, context in
            let principal = try context.requirePrincipal()
            struct Rotation: Encodable, Sendable { var resealed: Int }
            return try JSONResponse.make(Rotation(resealed: try await members.rotateKeys(by: principal)))
        }
    }
}
