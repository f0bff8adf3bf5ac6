import Foundation

/// A member as the API, the console and the till show it: the phone always masked (the full number
/// only through `MemberService.revealPhone`, audited), the name and birthday masked for roles
/// without `members.privacy`.
public struct MemberView: Codable, Sendable, Equatable {
    public var id: MemberID
    public var merchantId: OrgID
    public var homeStoreId: OrgID?
    public var cardNumber: String
    /// What the member's QR code carries.
    public var qr: String
    /// "138****1234".
    public var phone: String?
    public var name: String?
    /// Whether `name` (and the hidden birthday) were masked for the caller's role.
    public var masked: Bool
    public var birthday: String?
    public var tier: String
    public var tierName: String
    public var points: Int64
    public var storedValue: Int64
    public var lifetimeSpend: Int64
    public var visits: Int
    public var tags: [String]
    public var consent: MemberConsent
    public var createdAt: Date
    public var lastVisitAt: Date?
    public var erasedAt: Date?
    public var version: Int
}

/// What enrolling or editing a member gives.
public struct MemberInput: Sendable, Equatable {
    public var phone: String
    public var name: String?
    /// Given (an existing card) or made (12 digits).
    public var cardNumber: String?
    public var birthday: String?
    public var tags: [String]
    public var consent: MemberConsent
    /// The store that enrols (recognises the member when the program is not shared).
    public var homeStoreId: OrgID?

    public init(phone: String, name: String? = nil, cardNumber: String? = nil, birthday: String? = nil, tags: [String] = [],
                consent: MemberConsent = MemberConsent(), homeStoreId: OrgID? = nil) {
        self.phone = phone
        self.name = name
        self.cardNumber = cardNumber
        self.birthday = birthday
        self.tags = tags
        self.consent = consent
        self.homeStoreId = homeStoreId
    }
}

/// The member as the cashier sees them after typing a phone or scanning a card: tier and its
/// benefits, balances, the latest purchases and the offers that apply today.
public struct MemberAtTill: Codable, Sendable, Equatable {
    public var member: MemberView
    public var benefits: MemberTier
    /// What the points are worth as a tender, fen.
    public var pointsValue: Int64
    public var recent: [MemberPurchase]
    public var favouriteCategory: String?
    public var offers: [OfferRule]
}

/// Everything kept about one member (their right of access): profile in clear, ledger, purchases.
public struct MemberExport: Codable, Sendable, Equatable {
    public var member: MemberView
    public var phone: String?
    public var name: String?
    public var ledger: [MemberLedgerEntry]
    public var purchases: [MemberPurchase]
    public var exportedAt: Date
}

/// Members of a merchant (会员): enrolment, recognition at the till, tiers, points and stored value
/// ledgers, offers, privacy (masking, audited reads of phone numbers, export, erasure) and key rotation.
/// The register's own member effects (accrual, redemption, stored-value spend, reversal) are posted by
/// `MemberPosting` inside the sale's transaction.
public struct MemberService: Sendable {
    public let store: any Persistence
    public let keyring: MemberKeyring
    public let clock: Clock

    public init(store: any Persistence, keyring: MemberKeyring, clock: Clock = .system) {
        self.store = store
        self.keyring = keyring
        self.clock = clock
    }

    /// Most a top-up or a points adjustment may move at once.
    public static let maxMovement: Int64 = 10_000_000

    // MARK: - Program

    /// The merchant's program (defaults until it is saved).
    public func program(merchantId: OrgID?, by principal: Principal) async throws -> MemberProgram {
        try principal.require(.membersRead)
        return try await store.read { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            return try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
        }
    }

    /// Saves the program (optimistic: `expectedVersion` is the version read, 0 for the defaults).
    /// Members move to their new tier at their next purchase or refund.
    public func saveProgram(_ input: MemberProgram, expectedVersion: Int, by principal: Principal) async throws -> MemberProgram {
        try principal.require(.membersManage)
        try input.validate()
        let now = clock.now()
        return try await store.write { repos in
            let merchant = try await CatalogService.merchant(input.merchantId, repos: repos, principal: principal)
            let stored = try await repos.members.program(merchant: merchant.id)
            guard (stored?.version ?? 0) == expectedVersion else {
                throw DomainError.conflict("the member program was changed by someone else (version \(stored?.version ?? 0)); reload it")
            }
            var program = input
            program.updatedAt = now
            program.version = expectedVersion + 1
            try await repos.members.saveProgram(program, orgPath: merchant.path)
            try await Self.audit("member.program", resource: merchant.id.rawValue, type: "member_program", merchant: merchant, principal: principal,
                                 repos: repos, at: now, summary: ["tiers": program.tiers.map { "\($0.code)≥\($0.threshold)" }.joined(separator: " "),
                                                                 "offers": program.offers.map(\.code).joined(separator: " ")])
            return program
        }
    }

    // MARK: - Members

    /// Enrols a member at a merchant (the caller's own when nil).
    public func enroll(_ input: MemberInput, merchantId: OrgID?, by principal: Principal) async throws -> MemberView {
        try principal.require(.membersManage)
        let now = clock.now()
        let id = MemberID.generate(now: now)
        let phone = try MemberRules.phone(input.phone)
        let name = try SaleRules.optionalText(input.name, field: "name", max: 40)
        let contact = try keyring.seal(phone: phone, name: name, member: id)
        return try await store.write { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            let member = Member(id: id, merchantId: merchant.id, homeStoreId: try await Self.homeStore(input.homeStoreId, merchant: merchant, principal: principal, repos: repos),
                                cardNumber: try input.cardNumber.map { try MemberRules.cardNumber($0) } ?? MemberRules.newCardNumber(),
                                contact: contact, birthday: try MemberRules.birthday(input.birthday), tier: program.tiers[0].code,
                                tags: try MemberRules.tags(input.tags), consent: input.consent, createdAt: now)
            try await Self.checkUnique(member, repos: repos)
            try await repos.members.insert(member, orgPath: merchant.path)
            try await Self.audit("member.enroll", member: member, merchant: merchant, principal: principal, repos: repos, at: now,
                                 summary: ["card": member.cardNumber, "phone": MemberRules.maskPhone(phone) ?? ""])
            return try view(member, program: program, principal: principal)
        }
    }

    /// Changes a member's profile (optimistic: `expectedVersion` is the version read). Balances move only through the ledger.
    public func update(_ id: MemberID, _ input: MemberInput, expectedVersion: Int, by principal: Principal) async throws -> MemberView {
        try principal.require(.membersManage)
        let now = clock.now()
        let phone = try MemberRules.phone(input.phone)
        let name = try SaleRules.optionalText(input.name, field: "name", max: 40)
        let contact = try keyring.seal(phone: phone, name: name, member: id)
        return try await store.write { repos in
            var (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            guard member.version == expectedVersion else {
                throw DomainError.conflict("the member was changed by someone else (version \(member.version)); reload it")
            }
            guard member.erasedAt == nil else { throw DomainError.conflict("member \(member.cardNumber) was erased") }
            let before = member
            member.contact = contact
            member.cardNumber = try input.cardNumber.map { try MemberRules.cardNumber($0) } ?? member.cardNumber
            member.birthday = try MemberRules.birthday(input.birthday)
            member.tags = try MemberRules.tags(input.tags)
            member.consent = input.consent
            member.homeStoreId = try await Self.homeStore(input.homeStoreId, merchant: merchant, principal: principal, repos: repos) ?? member.homeStoreId
            member.version += 1
            try await Self.checkUnique(member, repos: repos)
            try await repos.members.update(member)
            var summary: [String: String] = [:]
            if before.contact.phoneHash != member.contact.phoneHash { summary["phone"] = "changed" }
            if before.cardNumber != member.cardNumber { summary["card"] = "\(before.cardNumber) → \(member.cardNumber)" }
            if before.consent != member.consent { summary["consent"] = "marketing \(member.consent.marketing), analytics \(member.consent.analytics)" }
            try await Self.audit("member.update", member: member, merchant: merchant, principal: principal, repos: repos, at: now, summary: summary)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            return try view(member, program: program, principal: principal)
        }
    }

    /// One member the caller may see.
    public func member(_ id: MemberID, by principal: Principal) async throws -> MemberView {
        try principal.require(.membersRead)
        return try await store.read { repos in
            let (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            return try view(member, program: program, principal: principal)
        }
    }

    /// A merchant's members, newest first, phones masked.
    public func list(merchantId: OrgID?, filter: MemberFilter, page: PageRequest, by principal: Principal) async throws -> Page<MemberView> {
        try principal.require(.membersRead)
        return try await store.read { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            return try await repos.members.list(merchant: merchant.id, filter: filter, page: page).map { try view($0, program: program, principal: principal) }
        }
    }

    /// The full phone number of a member: needs `members.privacy`, and every read is audited.
    public func revealPhone(_ id: MemberID, by principal: Principal) async throws -> String {
        try principal.require(.membersPrivacy)
        let now = clock.now()
        let keyring = self.keyring
        return try await store.write { repos in
            let (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            guard let phone = try keyring.open(member.contact, member: member.id).phone else {
                throw DomainError.conflict("member \(member.cardNumber) has no phone number (erased)")
            }
            try await Self.audit("member.phone_read", member: member, merchant: merchant, principal: principal, repos: repos, at: now,
                                 summary: ["card": member.cardNumber])
            return phone
        }
    }

    /// Recognises a member at the till by phone, card number or member QR code, for a store (the
    /// caller's own when nil): tier, balances, latest purchases and today's offers.
    public func lookup(_ query: String, storeId: OrgID?, by principal: Principal) async throws -> MemberAtTill {
        try principal.require(.membersRead)
        let key = try MemberRules.key(query)
        let now = clock.now()
        let keyring = self.keyring
        return try await store.read { repos in
            let (storeOrg, merchant) = try await SalesService.store(storeId, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            let found: Member?
            switch key {
            case .phone(let phone): found = try await repos.members.find(merchant: merchant.id, phoneHash: keyring.phoneHash(phone))
            case .card(let card): found = try await repos.members.find(merchant: merchant.id, cardNumber: card)
            }
            guard let member = found, member.erasedAt == nil, program.sharedAcrossStores || member.homeStoreId == nil || member.homeStoreId == storeOrg.id else {
                throw DomainError.notFound(resource: "member", id: query)
            }
            let favourite = member.consent.analytics ? try await repos.members.favourites([member.id])[member.id] : nil
            let timeZone = try await SalesService.timeZone(store: storeOrg.id, repos: repos)
            return MemberAtTill(member: try view(member, program: program, principal: principal), benefits: program.tier(code: member.tier),
                                pointsValue: member.points * program.fenPerPoint,
                                recent: try await repos.members.purchases(member: member.id, limit: 5), favouriteCategory: favourite,
                                offers: member.consent.analytics
                                    ? MemberOffers.matching(member, favourite: favourite, rules: program.offers, now: now, timeZone: timeZone) : [])
        }
    }

    /// A member's ledger, newest first.
    public func ledger(_ id: MemberID, page: PageRequest, by principal: Principal) async throws -> Page<MemberLedgerEntry> {
        try principal.require(.membersRead)
        return try await store.read { repos in
            _ = try await Self.visible(id, repos: repos, principal: principal)
            return try await repos.members.ledger(member: id, page: page)
        }
    }

    /// A member's latest purchases and refunds, newest first.
    public func purchases(_ id: MemberID, limit: Int = 20, by principal: Principal) async throws -> [MemberPurchase] {
        try principal.require(.membersRead)
        return try await store.read { repos in
            _ = try await Self.visible(id, repos: repos, principal: principal)
            return try await repos.members.purchases(member: id, limit: min(max(limit, 1), 200))
        }
    }

    // MARK: - Balances

    /// Stored value paid in (充值), never above the program's limit per member.
    ///
    /// Cash taken at a till names the till's open shift (`shiftId`): the drawer then expects it, in
    /// the same transaction as the balance, so the shift's count still balances.
    public func topUp(_ id: MemberID, amount: Int64, tender: TenderKind, note: String?, shiftId: ShiftID? = nil,
                      by principal: Principal) async throws -> MemberView {
        try principal.require(.membersManage)
        guard amount > 0, amount <= Self.maxMovement else { throw DomainError.invalid("amount", "must be 1 to \(Self.maxMovement) fen") }
        guard tender != .storedValue, tender != .points else { throw DomainError.invalid("tender", "stored value is paid in cash, card or wallet") }
        if shiftId != nil {
            guard tender == .cash else { throw DomainError.invalid("shiftId", "only cash goes into a shift's drawer") }
            try principal.require(.salesSell)
        }
        let text = try SaleRules.optionalText(note, field: "note", max: 200)
        return try await move(id, balance: .storedValue, delta: amount, reason: .topUp, note: ([tender.rawValue] + [text].compactMap { $0 }).joined(separator: " "),
                              action: "member.top_up", by: principal) { member, merchant, repos, now in
            guard let shiftId else { return }
            let (shift, store) = try await SalesService.visibleShift(shiftId, repos: repos, principal: principal)
            guard store.parentId == merchant.id else { throw DomainError.invalid("shiftId", "is a shift of another merchant's store") }
            _ = try await SalesService.moveCash(shift, store: store, direction: .in, amount: amount, reason: "member top-up \(member.cardNumber)",
                                                principal: principal, repos: repos, at: now)
        }
    }

    /// A manager's correction of points (up or down; never below zero), with the reason noted.
    public func adjustPoints(_ id: MemberID, delta: Int64, note: String, by principal: Principal) async throws -> MemberView {
        try principal.require(.membersManage)
        guard delta != 0, abs(delta) <= Self.maxMovement else { throw DomainError.invalid("delta", "must be a non-zero number of points") }
        let text = try AccessRules.text(note, field: "note", max: 200)
        return try await move(id, balance: .points, delta: delta, reason: .adjust, note: text, action: "member.points_adjust", by: principal)
    }

    /// One balance moved with its ledger line and audit event in one transaction.
    private func move(_ id: MemberID, balance: MemberBalance, delta: Int64, reason: MemberLedgerReason, note: String, action: String,
                      by principal: Principal,
                      alongside: (@Sendable (Member, Organization, any Repositories, Date) async throws -> Void)? = nil) async throws -> MemberView {
        let now = clock.now()
        return try await store.write { repos in
            let (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            guard member.erasedAt == nil else { throw DomainError.conflict("member \(member.cardNumber) was erased") }
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            let movement = balance == .points ? MemberMovement(points: delta)
                : MemberMovement(storedValue: delta, maxStoredValue: delta > 0 ? program.maxStoredValue : nil)
            guard let moved = try await repos.members.apply(movement, to: id) else {
                if balance == .storedValue, delta > 0 {
                    throw DomainError.conflict("stored value may not pass \(Money(minorUnits: program.maxStoredValue)) per member (holds \(Money(minorUnits: member.storedValue)))")
                }
                throw DomainError.conflict("member \(member.cardNumber) has only \(balance == .points ? "\(member.points) points" : Money(minorUnits: member.storedValue).description)")
            }
            let after = balance == .points ? moved.points : moved.storedValue
            try await repos.members.appendLedger([.line(moved, balance, delta, after: after, reason, actor: principal.user.username, note: note, at: now)],
                                                 orgPath: merchant.path)
            try await Self.audit(action, member: moved, merchant: merchant, principal: principal, repos: repos, at: now,
                                 summary: ["delta": String(delta), "balance": String(after), "note": note])
            try await alongside?(moved, merchant, repos, now)
            return try view(moved, program: program, principal: principal)
        }
    }

    // MARK: - Privacy

    /// Everything kept about one member, in clear (audited as a read of their phone number).
    public func export(_ id: MemberID, by principal: Principal) async throws -> MemberExport {
        try principal.require(.membersPrivacy)
        let now = clock.now()
        let keyring = self.keyring
        return try await store.write { repos in
            let (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            let clear = try keyring.open(member.contact, member: member.id)
            var ledger: [MemberLedgerEntry] = []
            var page = PageRequest(limit: 200)
            repeat {
                let batch = try await repos.members.ledger(member: id, page: page)
                ledger += batch.items
                page.cursor = batch.nextCursor
            } while page.cursor != nil
            try await Self.audit("member.export", member: member, merchant: merchant, principal: principal, repos: repos, at: now,
                                 summary: ["card": member.cardNumber, "ledger": String(ledger.count)])
            return MemberExport(member: try view(member, program: program, principal: principal), phone: clear.phone, name: clear.name, ledger: ledger,
                                purchases: try await repos.members.purchases(member: id, limit: 10_000), exportedAt: now)
        }
    }

    /// Erases a member's personal data: phone, name, birthday, tags, consent, category profile and
    /// points go; the card number is replaced; purchases (amounts only) and sales keep their totals.
    /// Stored value must be paid out first (it is the member's money).
    public func erase(_ id: MemberID, expectedVersion: Int, by principal: Principal) async throws -> MemberView {
        try principal.require(.membersPrivacy)
        let now = clock.now()
        return try await store.write { repos in
            var (member, merchant) = try await Self.visible(id, repos: repos, principal: principal)
            guard member.version == expectedVersion else {
                throw DomainError.conflict("the member was changed by someone else (version \(member.version)); reload it")
            }
            guard member.erasedAt == nil else { throw DomainError.conflict("member \(member.cardNumber) was already erased") }
            guard member.storedValue == 0 else {
                throw DomainError.conflict("member \(member.cardNumber) still holds \(Money(minorUnits: member.storedValue)) stored value; pay it out first")
            }
            let card = member.cardNumber
            if member.points != 0, let moved = try await repos.members.apply(MemberMovement(points: -member.points), to: id) {
                try await repos.members.appendLedger([.line(moved, .points, -member.points, after: moved.points, .erasure, actor: principal.user.username,
                                                            note: nil, at: now)], orgPath: merchant.path)
                member.points = moved.points
            }
            member.contact = SealedContact(keyId: member.contact.keyId, phoneHash: nil, phone: nil, name: nil)
            member.cardNumber = "X" + String(member.id.rawValue.filter(\.isHexDigit).suffix(19)).uppercased()
            member.birthday = nil
            member.tags = []
            member.consent = MemberConsent(marketing: false, analytics: false)
            member.erasedAt = now
            member.version += 1
            try await repos.members.update(member)
            try await repos.members.clearCategorySpend(id)
            try await Self.audit("member.erase", member: member, merchant: merchant, principal: principal, repos: repos, at: now,
                                 summary: ["card": card])
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            return try view(member, program: program, principal: principal)
        }
    }

    /// Re-seals every member whose data is under an older key with the current one (after a new key
    /// was configured); answers how many were re-sealed. Old keys must stay configured until it ran.
    public func rotateKeys(by principal: Principal) async throws -> Int {
        try principal.require(.membersPrivacy)
        let keyring = self.keyring
        let current = keyring.currentKeyId
        var done = 0
        var after: MemberID?
        while true {
            let from = after
            let batch = try await store.read { repos in try await repos.members.scan(merchant: nil, notKey: current, after: from, limit: 200) }
            guard let last = batch.last else { break }
            after = last.id
            let now = clock.now()
            done += try await store.write { repos in
                var count = 0
                for stale in batch {
                    guard var member = try await repos.members.find(stale.id), member.contact.keyId != current,
                          let merchant = try await repos.orgs.find(member.merchantId), principal.sees(path: merchant.path) else { continue }
                    let clear = try keyring.open(member.contact, member: member.id)
                    let hash = member.contact.phoneHash
                    member.contact = try keyring.seal(phone: clear.phone, name: clear.name, member: member.id)
                    member.contact.phoneHash = hash
                    member.version += 1
                    try await repos.members.update(member)
                    count += 1
                }
                if count > 0 {
                    _ = try await repos.audit.append(
                        AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: "member.rotate_keys", resourceType: "member_key",
                                   resourceId: current, origin: principal.origin, summary: ["members": String(count)]),
                        orgPath: principal.orgPath, at: now)
                }
                return count
            }
        }
        return done
    }

    // MARK: - Offers

    /// The members an offer rule selects today, who agreed to marketing (the list to send it to).
    public func offerList(_ code: String, merchantId: OrgID?, by principal: Principal) async throws -> [MemberView] {
        try principal.require(.membersRead)
        let now = clock.now()
        return try await store.read { repos in
            let merchant = try await CatalogService.merchant(merchantId, repos: repos, principal: principal)
            let program = try await repos.members.program(merchant: merchant.id) ?? MemberProgram(merchantId: merchant.id)
            guard let rule = program.offers.first(where: { $0.code == code }) else { throw DomainError.notFound(resource: "offer", id: code) }
            let timeZone = TimeZone(identifier: "Asia/Shanghai")!
            var chosen: [MemberView] = []
            var after: MemberID?
            while true {
                let batch = try await repos.members.scan(merchant: merchant.id, notKey: nil, after: after, limit: 500)
                guard let last = batch.last else { break }
                after = last.id
                let candidates = batch.filter { $0.erasedAt == nil && $0.consent.marketing && $0.consent.analytics }
                let favourites = rule.kind == .favouriteCategory ? try await repos.members.favourites(candidates.map(\.id)) : [:]
                for member in candidates where !MemberOffers.matching(member, favourite: favourites[member.id], rules: [rule], now: now, timeZone: timeZone).isEmpty {
                    chosen.append(try view(member, program: program, principal: principal))
                }
            }
            return chosen
        }
    }

    // MARK: - Helpers

    /// The member shaped for the caller: phone masked always, name and birthday masked without `members.privacy`.
    func view(_ member: Member, program: MemberProgram, principal: Principal) throws -> MemberView {
        let clear = try keyring.open(member.contact, member: member.id)
        let privileged = principal.can(.membersPrivacy)
        let tier = program.tier(code: member.tier)
        return MemberView(id: member.id, merchantId: member.merchantId, homeStoreId: member.homeStoreId, cardNumber: member.cardNumber,
                          qr: MemberRules.qrPayload(cardNumber: member.cardNumber), phone: MemberRules.maskPhone(clear.phone),
                          name: privileged ? clear.name : MemberRules.maskName(clear.name), masked: !privileged,
                          birthday: privileged ? member.birthday : nil, tier: tier.code, tierName: tier.name, points: member.points,
                          storedValue: member.storedValue, lifetimeSpend: member.lifetimeSpend, visits: member.visits, tags: member.tags,
                          consent: member.consent, createdAt: member.createdAt, lastVisitAt: member.lastVisitAt, erasedAt: member.erasedAt,
                          version: member.version)
    }

    /// A card number or phone already used at the merchant by another member is a conflict.
    static func checkUnique(_ member: Member, repos: any Repositories) async throws {
        if let other = try await repos.members.find(merchant: member.merchantId, cardNumber: member.cardNumber), other.id != member.id {
            throw DomainError.conflict("card number \(member.cardNumber) belongs to another member")
        }
        if let hash = member.contact.phoneHash, let other = try await repos.members.find(merchant: member.merchantId, phoneHash: hash), other.id != member.id {
            throw DomainError.conflict("this phone number belongs to member \(other.cardNumber)")
        }
    }

    /// A store of the merchant that enrols, if given (the caller's own store otherwise, when they work in one).
    static func homeStore(_ id: OrgID?, merchant: Organization, principal: Principal, repos: any Repositories) async throws -> OrgID? {
        if let id {
            guard let org = try await repos.orgs.find(id), org.kind == .store, org.parentId == merchant.id, principal.worksWith(path: org.path) else {
                throw DomainError.invalid("homeStoreId", "is not a store of this merchant")
            }
            return id
        }
        return principal.orgKind == .store ? principal.user.orgId : nil
    }

    /// A member and its merchant, if the caller works with that merchant (else not found).
    static func visible(_ id: MemberID, repos: any Repositories, principal: Principal) async throws -> (Member, Organization) {
        guard let member = try await repos.members.find(id), let merchant = try await repos.orgs.find(member.merchantId),
              principal.worksWith(path: merchant.path) else {
            throw DomainError.notFound(resource: "member", id: id.rawValue)
        }
        return (member, merchant)
    }

    static func audit(_ action: String, member: Member, merchant: Organization, principal: Principal, repos: any Repositories, at now: Date,
                      summary: [String: String]) async throws {
        try await audit(action, resource: member.id.rawValue, type: "member", merchant: merchant, principal: principal, repos: repos, at: now, summary: summary)
    }

    static func audit(_ action: String, resource: String, type: String, merchant: Organization, principal: Principal, repos: any Repositories,
                      at now: Date, summary: [String: String]) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: merchant.id, actor: principal.actor, action: action, resourceType: type, resourceId: resource,
                       origin: principal.origin, summary: summary),
            orgPath: merchant.path, at: now)
    }
}

/// Which offer rules apply to a member at an instant (pure).
public enum MemberOffers {
    /// The rules the member meets now (the birthday month in the store's time zone).
    public static func matching(_ member: Member, favourite: String?, rules: [OfferRule], now: Date, timeZone: TimeZone) -> [OfferRule] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let month = calendar.component(.month, from: now)
        return rules.filter { rule in
            switch rule.kind {
            case .birthdayMonth: return member.birthMonth == month
            case .lapsed:
                guard let days = rule.days, let last = member.lastVisitAt else { return false }
                return now.timeIntervalSince(last) >= Double(days) * 86_400
            case .topSpend: return member.lifetimeSpend >= (rule.minimumSpend ?? .max)
            case .favouriteCategory: return favourite != nil && favourite == rule.category
            }
        }
    }
}
