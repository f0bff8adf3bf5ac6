import Foundation
import Hummingbird
import TillyardKit

/// The promotion form of the console: the rule's kind with its number, scope, dates, days and hours.
struct PromotionForm: Decodable, CSRFCarrying {
    var merchantId: String?; var name: String; var kind: String; var percent: String?; var amount: String?; var buy: String?; var free: String?
    var skus: String?; var categories: String?; var startsAt: String?; var endsAt: String?; var hours: String?; var storeId: String?
    var wd1: String?; var wd2: String?; var wd3: String?; var wd4: String?; var wd5: String?; var wd6: String?; var wd7: String?
    var membersOnly: String?; var _csrf: String

    /// The form as a promotion input; dates typed in the console are China Standard Time (the stores' zone).
    func input() throws -> PromotionInput {
        func number(_ raw: String?, _ field: String) throws -> Int? {
            guard let text = raw?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw DomainError.invalid(field, "must be a whole number") }
            return value
        }
        func list(_ raw: String?) -> [String] {
            (raw ?? "").split(whereSeparator: { $0 == "," || $0 == "，" || $0 == "\n" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var basisPoints: Int?
        if let text = percent?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            // Percent with up to two decimals, e.g. 15 or 7.5, kept as basis points.
            basisPoints = Int(try Money.minorUnits(fromYuan: text, field: "percent"))
        }
        let amountFen = try amount.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try Money.minorUnits(fromYuan: $0, field: "amount") }
        let rule = try PromotionRules.rule(kind: kind, basisPoints: basisPoints, amount: amountFen, buy: try number(buy, "buy"), free: try number(free, "free"))
        let days = [wd1, wd2, wd3, wd4, wd5, wd6, wd7].enumerated().compactMap { $1 == nil ? nil : $0 + 1 }
        return PromotionInput(name: name, rule: rule, skus: list(skus), categories: list(categories),
                              startsAt: try Self.localDate(startsAt, field: "startsAt"), endsAt: try Self.localDate(endsAt, field: "endsAt"),
                              weekdays: days.isEmpty || days.count == 7 ? nil : days, hours: hours,
                              storeIds: try storeId.flatMap { $0.isEmpty ? nil : [try OrgID.parse($0, field: "storeId")] },
                              membersOnly: membersOnly != nil)
    }

    /// A `datetime-local` value ("2026-12-24T18:00") in China Standard Time.
    static func localDate(_ raw: String?, field: String) throws -> Date? {
        guard let text = raw?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let date = try? Date(text.prefix(16) + ":00+08:00", strategy: .iso8601) else {
            throw DomainError.invalid(field, "must be a date and time like 2026-12-24T18:00")
        }
        return date
    }
}

/// A form that only carries the version read (ending a promotion).
struct VersionForm: Decodable, CSRFCarrying { var version: String; var _csrf: String }

/// Console page of a merchant's promotions: the list by status, a form to make one, ending one.
struct PromotionConsole {
    let promotions: PromotionService
    let access: AccessService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("promotions", use: list)
        console.post("promotions", use: create)
        console.post("promotions/:id/end", use: end)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await page(request, context, error: nil, status: .ok)
    }

    private func page(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let merchantId = try OrgID.parse(ifPresent: request.query("merchantId"), field: "merchantId")
        let filter = try request.query("status", as: PromotionStatus.self)
        var data: [String: Any] = ["error": error as Any, "canManage": principal.can(.catalogManage),
                                   "statuses": forms.options(PromotionStatus.allCases, prefix: "promotion_status", selected: filter?.rawValue, locale: locale),
                                   "kinds": PromotionRules.kinds.map { ["value": $0, "label": renderer.text("promotion_kind_\($0)", locale: locale)] },
                                   "weekdays": (1...7).map { ["day": $0, "label": renderer.text("weekday_\($0)", locale: locale)] }]
        do {
            let found = try await promotions.list(merchantId: merchantId, status: filter, page: try request.pageRequest(), by: principal)
            let now = promotions.clock.now()
            data["promotions"] = found.items.map { record -> [String: Any] in
                let promotion = record.promotion, state = record.status(at: now)
                let scope = promotion.scope.skus.sorted() + promotion.scope.categories.sorted()
                return ["id": promotion.id.rawValue, "name": promotion.name, "rule": PromotionRules.describe(promotion.rule),
                        "window": PromotionRules.describe(promotion.window),
                        "scope": scope.isEmpty ? renderer.text("promotion_everything", locale: locale) : scope.joined(separator: ", "),
                        "members": promotion.membersOnly, "status": renderer.text("promotion_status_\(state.rawValue)", locale: locale),
                        "live": state != .ended, "version": record.version]
            }
            data["next"] = found.nextCursor as Any
        } catch DomainError.validation(let fields) where fields.first?.field == "merchantId" {
            // Staff see no catalog of their own: they choose the merchant first.
            data["chooseMerchant"] = true
        }
        if principal.orgKind != .merchant, principal.orgKind != .store, principal.can(.orgsRead) {
            // Staff choose whose promotions they see; merchant people have only their own.
            data["merchants"] = try await forms.orgOptions(principal, selected: merchantId?.rawValue) { $0.kind == .merchant }
        }
        data["merchantId"] = merchantId?.rawValue as Any
        return renderer.page("promotions", titleKey: "nav_promotions", context: context, data: data, status: status)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(PromotionForm.self, request, context)
        do {
            let merchant = try OrgID.parse(ifPresent: form.merchantId.flatMap { $0.isEmpty ? nil : $0 }, field: "merchantId")
            _ = try await promotions.create(try form.input(), merchantId: merchant, by: principal)
            return .redirect(to: "/console/promotions" + (merchant.map { "?merchantId=\($0.rawValue)" } ?? ""), type: .found)
        } catch let error as DomainError {
            return try await page(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func end(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: PromotionID = try context.id("id", resource: "promotion")
        let form = try await forms.decode(VersionForm.self, request, context)
        do {
            guard let version = Int(form.version) else { throw DomainError.invalid("version", "reload the page") }
            let record = try await promotions.end(id, expectedVersion: version, by: principal)
            return .redirect(to: "/console/promotions?merchantId=\(record.merchantId.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await page(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }
}
