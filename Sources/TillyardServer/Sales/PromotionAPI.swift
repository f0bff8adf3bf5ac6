import Foundation
import Hummingbird
import TillyardKit

/// A promotion's rule in flat form: its kind and the number that kind needs.
struct PromotionRuleBody: Codable, Sendable {
    var kind: String
    /// percentOff: basis points (1500 = 15% off).
    var basisPoints: Int?
    /// amountOff and fixedPrice: fen per unit (per piece, or per kilogram of weighed goods).
    var amount: Int64?
    /// buyXGetY.
    var buy: Int?
    var free: Int?

    init(_ rule: PromotionRule) {
        (kind, basisPoints, amount, buy, free) = PromotionRules.parts(rule)
    }

    var rule: PromotionRule {
        get throws { try PromotionRules.rule(kind: kind, basisPoints: basisPoints, amount: amount, buy: buy, free: free) }
    }
}

/// A promotion as the API shows it.
struct PromotionBody: Codable, Sendable {
    var id: String
    var merchantId: String
    var name: String
    var rule: PromotionRuleBody
    /// Plain-language rule ("15% off", "buy 2 get 1 free").
    var description: String
    var skus: [String]
    var categories: [String]
    var startsAt: Date?
    var endsAt: Date?
    var weekdays: [Int]?
    var hours: String?
    var storeIds: [String]?
    var membersOnly: Bool
    var status: PromotionStatus
    var createdBy: String
    var createdAt: Date
    var updatedAt: Date
    var endedAt: Date?
    var version: Int

    init(_ record: PromotionRecord, now: Date) {
        let promotion = record.promotion
        id = promotion.id.rawValue; merchantId = record.merchantId.rawValue; name = promotion.name
        rule = PromotionRuleBody(promotion.rule); description = PromotionRules.describe(promotion.rule)
        skus = promotion.scope.skus.sorted(); categories = promotion.scope.categories.sorted()
        startsAt = promotion.window.startsAt; endsAt = promotion.window.endsAt; weekdays = promotion.window.weekdays?.sorted()
        hours = promotion.window.hours?.description; storeIds = promotion.stores?.map(\.rawValue).sorted(); membersOnly = promotion.membersOnly
        status = record.status(at: now); createdBy = record.createdBy; createdAt = record.createdAt; updatedAt = record.updatedAt
        endedAt = record.endedAt; version = record.version
    }
}

/// The body of `POST /promotions` and `PUT /promotions/{id}`.
struct PromotionBodyInput: APIInput {
    var merchantId: String?
    var version: Int?
    var name: String
    var rule: PromotionRuleBody
    var skus: [String]?
    var categories: [String]?
    var startsAt: Date?
    var endsAt: Date?
    var weekdays: [Int]?
    var hours: String?
    var storeIds: [String]?
    var membersOnly: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case merchantId, version, name, rule, skus, categories, startsAt, endsAt, weekdays, hours, storeIds, membersOnly
    }
    typealias Field = CodingKeys

    var input: PromotionInput {
        get throws {
            PromotionInput(name: name, rule: try rule.rule, skus: skus ?? [], categories: categories ?? [], startsAt: startsAt, endsAt: endsAt,
                           weekdays: weekdays, hours: hours,
                           storeIds: try storeIds?.enumerated().map { try OrgID.parse($1, field: "storeIds.\($0)") },
                           membersOnly: membersOnly ?? false)
        }
    }
}

/// The body of `POST /promotions/{id}/end`.
struct PromotionEndInput: APIInput {
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case version }
    typealias Field = CodingKeys
}

/// `/api/v1/promotions`: a merchant's promotions (the register prices with them through `POST /carts/price`).
struct PromotionAPI {
    let promotions: PromotionService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let promotions = self.promotions
        let routes = self.routes
        let clock = promotions.clock
        api.get("promotions") { request, context in
            let principal = try context.requirePrincipal()
            let page = try await promotions.list(merchantId: try CatalogAPI.merchant(request), status: try request.query("status", as: PromotionStatus.self),
                                                 page: try request.pageRequest(), by: principal)
            let now = clock.now()
            return try JSONResponse.make(PageBody(page) { PromotionBody($0, now: now) })
        }
        api.post("promotions") { request, context in
            try await routes.create(request, context) { (body: PromotionBodyInput, principal) in
                guard body.version == nil else { throw DomainError.invalid("version", "is not used when creating a promotion") }
                let merchant = try OrgID.parse(ifPresent: body.merchantId, field: "merchantId")
                return PromotionBody(try await promotions.create(try body.input, merchantId: merchant, by: principal), now: clock.now())
            }
        }
        api.get("promotions/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id: PromotionID = try context.id("id", resource: "promotion")
            return try JSONResponse.make(PromotionBody(try await promotions.promotion(id, by: principal), now: clock.now()))
        }
        api.put("promotions/:id") { request, context in
            let id: PromotionID = try context.id("id", resource: "promotion")
            return try await routes.update(request, context) { (body: PromotionBodyInput, principal) in
                guard let version = body.version else { throw DomainError.invalid("version", "is required: the version you read") }
                guard body.merchantId == nil else { throw DomainError.invalid("merchantId", "a promotion stays with its merchant") }
                return PromotionBody(try await promotions.update(id, try body.input, expectedVersion: version, by: principal), now: clock.now())
            }
        }
        api.post("promotions/:id/end") { request, context in
            let id: PromotionID = try context.id("id", resource: "promotion")
            return try await routes.update(request, context) { (body: PromotionEndInput, principal) in
                PromotionBody(try await promotions.end(id, expectedVersion: body.version, by: principal), now: clock.now())
            }
        }
    }
}
