import Foundation
import Hummingbird
import TillyardKit

/// The enrolment form. The card field is `memberCard`: the card-data guard refuses any field named like a bank card number.
struct MemberForm: Decodable, CSRFCarrying {
    var merchantId: String?; var version: String?; var phone: String; var name: String?; var memberCard: String?; var birthday: String?
    var tags: String?; var marketing: String?; var analytics: String?; var _csrf: String

    var input: MemberInput {
        MemberInput(phone: phone, name: name, cardNumber: memberCard.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 },
                    birthday: birthday, tags: (tags ?? "").split(whereSeparator: { $0 == "," || $0 == "，" }).map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty },
                    consent: MemberConsent(marketing: marketing != nil, analytics: analytics != nil))
    }
}

/// A balance form: a top-up in yuan with its tender, or a points correction with its note.
struct MemberBalanceForm: Decodable, CSRFCarrying { var amount: String?; var tender: String?; var delta: String?; var note: String?; var _csrf: String }

/// The member import form (the page's script reads a chosen file into the text).
struct MemberImportForm: Decodable, CSRFCarrying { var merchantId: String?; var csv: String; var dryRun: String?; var _csrf: String }

/// The member program form: numbers, and tiers and offers one per line.
struct MemberProgramForm: Decodable, CSRFCarrying {
    var merchantId: String?; var version: String; var shared: String?; var pointsPerYuan: String; var fenPerPoint: String; var maxStoredValue: String
    var tierBasis: String; var tiers: String; var offers: String; var _csrf: String
}

/// Console pages of members: the list with enrolment, import and offer lists; one member with
/// balances, ledger, purchases, the audited phone read, top-up, points correction and erasure; the program.
struct MemberConsole {
    let members: MemberService
    let access: AccessService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("members", use: list)
        console.post("members", use: enroll)
        console.post("members/import", use: importCSV)
        console.get("members/program", use: program)
        console.post("members/program", use: saveProgram)
        console.get("members/:id", use: detail)
        console.post("members/:id/phone", use: revealPhone)
        console.post("members/:id/top-up", use: topUp)
        console.post("members/:id/points", use: adjustPoints)
        console.post("members/:id/erase", use: erase)
    }

    // MARK: - List

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await listPage(request, context, notice: nil, error: nil, importText: nil, status: .ok)
    }

    private func listPage(_ request: Request, _ context: AppRequestContext, notice: String?, error: String?, importText: String?,
                          status: HTTPResponse.Status, merchantOverride: String? = nil) async throws -> Response {
        let principal = try context.requirePrincipal()
        let merchantId = try CatalogConsole.id(merchantOverride ?? request.query("merchantId"), field: "merchantId")
        var data: [String: Any] = ["notice": notice as Any, "error": error as Any, "importText": importText ?? "",
                                   "canManage": principal.can(.membersManage), "csvColumns": MemberService.csvColumns.joined(separator: ","),
                                   "card": request.query("card") ?? "", "tier": request.query("tier") ?? ""]
        do {
            let program = try await members.program(merchantId: merchantId, by: principal)
            let found = try await members.list(merchantId: merchantId, filter: MemberFilter(tier: request.query("tier"), cardPrefix: request.query("card")),
                                               page: try request.pageRequest(), by: principal)
            data["members"] = found.items.map(Self.row)
            data["next"] = found.nextCursor as Any
            data["tiers"] = program.tiers.map { ["code": $0.code, "name": $0.name, "selected": request.query("tier") == $0.code] }
            data["offers"] = program.offers.map { ["code": $0.code, "name": $0.name, "message": $0.message] }
            data["merchantQuery"] = merchantId.map { "&merchantId=\($0.rawValue)" } ?? ""
        } catch DomainError.validation(let fields) where fields.first?.field == "merchantId" {
            data["chooseMerchant"] = true
        }
        if principal.orgKind != .merchant, principal.orgKind != .store, principal.can(.orgsRead) {
            data["merchants"] = try await forms.orgOptions(principal, selected: merchantId?.rawValue) { $0.kind == .merchant }
        }
        data["merchantId"] = merchantId?.rawValue as Any
        return renderer.page("members", titleKey: "nav_members", context: context, data: data, status: status)
    }

    static func row(_ member: MemberView) -> [String: Any] {
        ["id": member.id.rawValue, "card": member.cardNumber, "phone": member.phone ?? "", "name": member.name ?? "", "tier": member.tierName,
         "points": member.points, "storedValue": Money(minorUnits: member.storedValue).decimalText,
         "spend": Money(minorUnits: member.lifetimeSpend).decimalText, "visits": member.visits,
         "lastVisit": member.lastVisitAt.map { ISO8601DateFormatter().string(from: $0) } ?? "", "erased": member.erasedAt != nil]
    }

    @Sendable func enroll(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(MemberForm.self, request, context)
        do {
            let member = try await members.enroll(form.input, merchantId: try CatalogConsole.id(form.merchantId, field: "merchantId"), by: principal)
            return .redirect(to: "/console/members/\(member.id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await listPage(request, context, notice: nil, error: error.message, importText: nil, status: ConsoleForms.status(error),
                                      merchantOverride: form.merchantId)
        }
    }

    @Sendable func importCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var limited = context
        limited.bodyLimit = CSVTransfer.importLimit
        let form = try await forms.decode(MemberImportForm.self, request, limited)
        do {
            let report = try await members.importMembers(csv: form.csv, merchantId: try CatalogConsole.id(form.merchantId, field: "merchantId"),
                                                         dryRun: form.dryRun != nil, by: principal)
            let message = renderer.text(report.dryRun ? "member_import_checked" : "member_import_done", locale: context.locale)
                .replacingOccurrences(of: "{rows}", with: String(report.rows))
            return try await listPage(request, context, notice: message, error: nil, importText: report.dryRun ? form.csv : nil,
                                      status: report.dryRun ? .ok : .created, merchantOverride: form.merchantId)
        } catch let error as DomainError {
            return try await listPage(request, context, notice: nil, error: CatalogConsole.lines(error), importText: form.csv,
                                      status: ConsoleForms.status(error), merchantOverride: form.merchantId)
        }
    }

    // MARK: - One member

    @Sendable func detail(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await detailPage(context, phone: nil, error: nil, status: .ok)
    }

    private func detailPage(_ context: AppRequestContext, phone: String?, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: MemberID = try context.id("id", resource: "member")
        let member = try await members.member(id, by: principal)
        let ledger = try await members.ledger(id, page: PageRequest(limit: 50), by: principal).items
        let purchases = try await members.purchases(id, limit: 10, by: principal)
        let formatter = ISO8601DateFormatter()
        var data = Self.row(member)
        data["error"] = error as Any
        data["fullPhone"] = phone as Any
        data["birthday"] = member.birthday ?? ""
        data["tags"] = member.tags.joined(separator: ", ")
        data["marketing"] = member.consent.marketing
        data["analytics"] = member.consent.analytics
        data["version"] = member.version
        data["qr"] = member.qr
        data["canManage"] = principal.can(.membersManage) && member.erasedAt == nil
        data["canPrivacy"] = principal.can(.membersPrivacy) && member.erasedAt == nil
        data["tenders"] = [TenderKind.cash, .card, .wechat, .alipay, .unionpayQR].map {
            ["value": $0.rawValue, "label": renderer.text("member_tender_\($0.rawValue)", locale: context.locale)]
        }
        data["ledger"] = ledger.map { entry -> [String: Any] in
            ["at": formatter.string(from: entry.createdAt), "balance": renderer.text("member_balance_\(entry.balance.rawValue)", locale: context.locale),
             "reason": renderer.text("member_reason_\(entry.reason.rawValue)", locale: context.locale),
             "delta": entry.balance == .points ? String(entry.delta) : Money(minorUnits: entry.delta).decimalText,
             "after": entry.balance == .points ? String(entry.balanceAfter) : Money(minorUnits: entry.balanceAfter).decimalText,
             "actor": entry.actor, "note": entry.note ?? ""]
        }
        data["purchases"] = purchases.map { ["at": formatter.string(from: $0.soldAt), "kind": $0.kind.rawValue, "total": Money(minorUnits: $0.total).decimalText,
                                             "points": $0.pointsEarned, "saleId": $0.saleId.rawValue] }
        return renderer.page("member", titleKey: "nav_members", context: context, data: data, status: status)
    }

    @Sendable func revealPhone(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(VersionForm.self, request, context)
        let phone = try await members.revealPhone(try context.id("id", resource: "member"), by: principal)
        return try await detailPage(context, phone: phone, error: nil, status: .ok)
    }

    @Sendable func topUp(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: MemberID = try context.id("id", resource: "member")
        let form = try await forms.decode(MemberBalanceForm.self, request, context)
        do {
            let amount = try Money.minorUnits(fromYuan: form.amount ?? "", field: "amount")
            guard let tender = TenderKind(rawValue: form.tender ?? "") else { throw DomainError.invalid("tender", "choose how it was paid") }
            _ = try await members.topUp(id, amount: amount, tender: tender, note: form.note, by: principal)
            return .redirect(to: "/console/members/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await detailPage(context, phone: nil, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func adjustPoints(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: MemberID = try context.id("id", resource: "member")
        let form = try await forms.decode(MemberBalanceForm.self, request, context)
        do {
            guard let delta = Int64((form.delta ?? "").trimmingCharacters(in: .whitespaces)) else { throw DomainError.invalid("delta", "give a whole number of points") }
            _ = try await members.adjustPoints(id, delta: delta, note: form.note ?? "", by: principal)
            return .redirect(to: "/console/members/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await detailPage(context, phone: nil, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func erase(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: MemberID = try context.id("id", resource: "member")
        let form = try await forms.decode(VersionForm.self, request, context)
        do {
            guard let version = Int(form.version) else { throw DomainError.invalid("version", "reload the page") }
            _ = try await members.erase(id, expectedVersion: version, by: principal)
            return .redirect(to: "/console/members/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await detailPage(context, phone: nil, error: error.message, status: ConsoleForms.status(error))
        }
    }

    // MARK: - Program

    @Sendable func program(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await programPage(request, context, merchant: request.query("merchantId"), error: nil, status: .ok)
    }

    private func programPage(_ request: Request, _ context: AppRequestContext, merchant: String?, error: String?, status: HTTPResponse.Status,
                             typed: MemberProgramForm? = nil) async throws -> Response {
        let principal = try context.requirePrincipal()
        let program = try await members.program(merchantId: try CatalogConsole.id(merchant, field: "merchantId"), by: principal)
        let data: [String: Any] = [
            "error": error as Any, "merchantId": program.merchantId.rawValue, "version": program.version, "canManage": principal.can(.membersManage),
            "shared": typed.map { $0.shared != nil } ?? program.sharedAcrossStores, "pointsPerYuan": typed?.pointsPerYuan ?? String(program.pointsPerYuan),
            "fenPerPoint": typed?.fenPerPoint ?? String(program.fenPerPoint),
            "maxStoredValue": typed?.maxStoredValue ?? Money(minorUnits: program.maxStoredValue).decimalText,
            "basisSpend": (typed?.tierBasis ?? program.tierBasis.rawValue) == "spend",
            "tiers": typed?.tiers ?? MemberProgramText.tiers(program.tiers), "offers": typed?.offers ?? MemberProgramText.offers(program.offers),
        ]
        return renderer.page("member_program", titleKey: "member_program_title", context: context, data: data, status: status)
    }

    @Sendable func saveProgram(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(MemberProgramForm.self, request, context)
        do {
            let stored = try await members.program(merchantId: try CatalogConsole.id(form.merchantId, field: "merchantId"), by: principal)
            guard let version = Int(form.version) else { throw DomainError.invalid("version", "reload the page") }
            guard let perYuan = Int(form.pointsPerYuan.trimmingCharacters(in: .whitespaces)) else { throw DomainError.invalid("pointsPerYuan", "give a whole number") }
            guard let fen = Int64(form.fenPerPoint.trimmingCharacters(in: .whitespaces)) else { throw DomainError.invalid("fenPerPoint", "give a whole number") }
            guard let basis = TierBasis(rawValue: form.tierBasis) else { throw DomainError.invalid("tierBasis", "spend or points") }
            let program = MemberProgram(merchantId: stored.merchantId, sharedAcrossStores: form.shared != nil, pointsPerYuan: perYuan, fenPerPoint: fen,
                                        maxStoredValue: try Money.minorUnits(fromYuan: form.maxStoredValue, field: "maxStoredValue"), tierBasis: basis,
                                        tiers: try MemberProgramText.tiers(form.tiers, basis: basis, stored: stored.tiers),
                                        offers: try MemberProgramText.offers(form.offers))
            _ = try await members.saveProgram(program, expectedVersion: version, by: principal)
            return .redirect(to: "/console/members/program?merchantId=\(stored.merchantId.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await programPage(request, context, merchant: form.merchantId, error: CatalogConsole.lines(error), status: ConsoleForms.status(error),
                                         typed: form)
        }
    }
}

/// The program's tiers and offers as editable text, one per line (the console's form).
enum MemberProgramText {
    /// `code, name, threshold, member price yes/no, percent off, points multiplier` (threshold in yuan for spend tiers).
    static func tiers(_ tiers: [MemberTier]) -> String {
        tiers.map { tier in
            [tier.code, tier.name, Money(minorUnits: tier.threshold).decimalText, tier.memberPrice ? "yes" : "no",
             Money(minorUnits: Int64(tier.percentOff)).decimalText, Money(minorUnits: Int64(tier.pointsMultiplier / 100)).decimalText].joined(separator: ", ")
        }.joined(separator: "\n")
    }

    static func tiers(_ text: String, basis: TierBasis, stored: [MemberTier]) throws -> [MemberTier] {
        try lines(text).enumerated().map { index, cells in
            let field = "tiers line \(index + 1)"
            guard cells.count == 6 else { throw DomainError.invalid(field, "give code, name, threshold, member price yes/no, percent off, points multiplier") }
            let threshold = try Money.minorUnits(fromYuan: cells[2], field: field)
            return MemberTier(code: cells[0], name: cells[1], threshold: threshold, memberPrice: ["yes", "是", "true", "1"].contains(cells[3].lowercased()),
                              percentOff: Int(try Money.minorUnits(fromYuan: cells[4], field: field)),
                              pointsMultiplier: Int(try Money.minorUnits(fromYuan: cells[5], field: field)) * 100,
                              promotionId: stored.first { $0.code == cells[0] }?.promotionId ?? .generate())
        }
    }

    /// `code, name, kind, number (days, spend in yuan or category), message`.
    static func offers(_ offers: [OfferRule]) -> String {
        offers.map { offer in
            let number: String
            switch offer.kind {
            case .lapsed: number = offer.days.map(String.init) ?? ""
            case .topSpend: number = offer.minimumSpend.map { Money(minorUnits: $0).decimalText } ?? ""
            case .favouriteCategory: number = offer.category ?? ""
            case .birthdayMonth: number = ""
            }
            return [offer.code, offer.name, offer.kind.rawValue, number, offer.message].joined(separator: ", ")
        }.joined(separator: "\n")
    }

    static func offers(_ text: String) throws -> [OfferRule] {
        try lines(text).enumerated().map { index, cells in
            let field = "offers line \(index + 1)"
            guard cells.count >= 5, let kind = OfferKind(rawValue: cells[2]) else {
                throw DomainError.invalid(field, "give code, name, kind (\(OfferKind.allCases.map(\.rawValue).joined(separator: "/"))), number, message")
            }
            var rule = OfferRule(code: cells[0], name: cells[1], kind: kind, message: cells[4...].joined(separator: ", "))
            switch kind {
            case .lapsed: rule.days = Int(cells[3])
            case .topSpend: rule.minimumSpend = try Money.minorUnits(fromYuan: cells[3], field: field)
            case .favouriteCategory: rule.category = cells[3]
            case .birthdayMonth: break
            }
            return rule
        }
    }

    private static func lines(_ text: String) -> [[String]] {
        text.split(whereSeparator: \.isNewline).map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }.filter { !($0.count == 1 && $0[0].isEmpty) }
    }
}
