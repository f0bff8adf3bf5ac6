import Foundation

/// What a member import did.
public struct MemberImportReport: Codable, Sendable, Equatable {
    public var rows: Int
    public var created: Int
    public var dryRun: Bool
}

extension MemberService {
    /// Columns of a member list file. Amounts in yuan; tags joined by `|`; consent yes/no.
    public static let csvColumns = ["phone", "name", "card_number", "birthday", "tags", "points", "stored_value", "marketing_consent"]

    /// Imports an existing member list into a merchant: every row is checked first (phone, card,
    /// birthday, balances, duplicates in the file and at the merchant) and every problem reported by
    /// line; only a clean file is written, in one transaction with opening-balance ledger lines.
    public func importMembers(csv text: String, merchantId: OrgID?, dryRun: Bool = false, by principal: Principal) async throws -> MemberImportReport {
        try principal.require(.membersManage)
        let table = try CSV.Table(text, known: Self.csvColumns, required: ["phone"], noun: "members", maxRows: 50_000)
        try table.guardCardData()
        let now = clock.now()
        let keyring = self.keyring
        var problems: [FieldError] = []
        struct Row: Sendable {
            var phone: String, name: String?, card: String?, birthday: String?, tags: [String], points: Int64, storedValue: Int64, marketing: Bool
        }
        var rows: [Row] = []
        var phones: [String: Int] = [:], cards: [String: Int] = [:]
        for row in table.rows {
            if let problem = table.widthProblem(row) { problems.append(problem); continue }
            func cell(_ name: String, _ check: (String) throws -> Void) {
                guard let value = table.value(name, in: row) else { return }
                do { try check(value) } catch let DomainError.validation(errors) {
                    problems += errors.map { FieldError(field: "line \(row.line): \(name)", message: $0.message) }
                } catch {
                    problems.append(FieldError(field: "line \(row.line): \(name)", message: "\(error)"))
                }
            }
            var item = Row(phone: "", name: nil, card: nil, birthday: nil, tags: [], points: 0, storedValue: 0, marketing: false)
            if table.value("phone", in: row) == nil { problems.append(FieldError(field: "line \(row.line): phone", message: "is required")) }
            cell("phone") { item.phone = try MemberRules.phone($0) }
            cell("name") { item.name = try SaleRules.optionalText($0, field: "name", max: 40) }
            cell("card_number") { item.card = try MemberRules.cardNumber($0) }
            cell("birthday") { item.birthday = try MemberRules.birthday($0) }
            cell("tags") { item.tags = try MemberRules.tags($0.split(separator: "|").map(String.init)) }
            cell("points") {
                guard let points = Int64($0), points >= 0, points <= Self.maxMovement else { throw DomainError.invalid("points", "must be a whole number, 0 or more") }
                item.points = points
            }
            cell("stored_value") { item.storedValue = try Money.minorUnits(fromYuan: $0, field: "stored_value") }
            cell("marketing_consent") {
                switch $0.lowercased() {
                case "yes", "true", "1", "是": item.marketing = true
                case "no", "false", "0", "否": item.marketing = false
                default: throw DomainError.invalid("marketing_consent", "must be yes or no")
                }
            }
            if !item.phone.isEmpty, let first = phones.updateValue(row.line, forKey: item.phone) {
                problems.append(FieldError(field: "line \(row.line): phone", message: "is also on line \(first)"))
            }
            if let card = item.card, let first = cards.updateValue(row.line, forKey: card) {
                problems.append(FieldError(field: "line \(row.line): card_number", message: "is also on line \(first)"))
            }
            rows.append(item)
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        let checked = rows
        let lines = table.rows.map(\.line)
        return try await store.write { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            var problems: [FieldError] = []
            var members: [Member] = []
            for (index, row) in checked.enumerated() {
                let line = lines[index]
                if row.storedValue > program.maxStoredValue {
                    problems.append(FieldError(field: "line \(line): stored_value", message: "is above the limit of \(Money(minorUnits: program.maxStoredValue))"))
                }
                let id = MemberID.generate(now: now)
                let member = Member(id: id, merchantId: merchant.id, homeStoreId: nil, cardNumber: row.card ?? MemberRules.newCardNumber(),
                                    contact: try keyring.seal(phone: row.phone, name: row.name, member: id), birthday: row.birthday,
                                    tier: program.tiers[0].code, tags: row.tags, consent: MemberConsent(marketing: row.marketing), createdAt: now)
                do { try await Self.checkUnique(member, repos: repos) } catch let DomainError.conflict(message) {
                    problems.append(FieldError(field: "line \(line)", message: message))
                }
                members.append(member)
            }
            guard problems.isEmpty else { throw DomainError.validation(problems) }
            guard !dryRun else { return MemberImportReport(rows: checked.count, created: checked.count, dryRun: true) }
            for (member, row) in zip(members, checked) {
                try await repos.members.insert(member, orgPath: merchant.path)
                guard row.points > 0 || row.storedValue > 0 else { continue }
                guard let moved = try await repos.members.apply(MemberMovement(points: row.points, storedValue: row.storedValue), to: member.id) else {
                    throw DomainError.conflict("opening balances of \(member.cardNumber) could not be set")
                }
                let entries: [MemberLedgerEntry] = [(MemberBalance.points, row.points, moved.points), (.storedValue, row.storedValue, moved.storedValue)]
                    .filter { $0.1 > 0 }
                    .map { .line(moved, $0.0, $0.1, after: $0.2, .importOpening, actor: principal.user.username, note: nil, at: now) }
                try await repos.members.appendLedger(entries, orgPath: merchant.path)
            }
            try await Self.audit("member.import", resource: merchant.id.rawValue, type: "member", merchant: merchant, principal: principal, repos: repos,
                                 at: now, summary: ["created": String(members.count)])
            return MemberImportReport(rows: checked.count, created: members.count, dryRun: false)
        }
    }

    /// An offer's member list as CSV (card, masked phone, name as the role may see it, tier, last visit, spend).
    public func offerCSV(_ code: String, merchantId: OrgID?, by principal: Principal) async throws -> String {
        let members = try await offerList(code, merchantId: merchantId, by: principal)
        let formatter = ISO8601DateFormatter()
        var text = CSV.line(["card_number", "phone", "name", "tier", "last_visit_at", "lifetime_spend"]) + "\r\n"
        for member in members {
            text += CSV.line([member.cardNumber, member.phone ?? "", member.name ?? "", member.tier, member.lastVisitAt.map(formatter.string) ?? "",
                              Money(minorUnits: member.lifetimeSpend).decimalText]) + "\r\n"
        }
        return text
    }
}
