import Crypto
import Foundation

/// What an applicant fills in for a merchant's onboarding file.
public struct MerchantApplication: Sendable {
    public var legalName: String
    public var creditCode: String
    public var mcc: String
    public var areaCode: String
    public var businessType: BusinessType
    /// "09:00-22:00" or "24h".
    public var businessHours: String
    public var address: Placement
    public var settlementAccountName: String
    public var settlementBank: String
    /// The full account number: masked and fingerprinted at once, never stored. Required for a
    /// new file; nil on an update keeps the account on file.
    public var settlementAccount: String?
    public var contacts: [MerchantContact]

    public init(legalName: String, creditCode: String, mcc: String, areaCode: String, businessType: BusinessType, businessHours: String,
                address: Placement, settlementAccountName: String, settlementBank: String, settlementAccount: String?,
                contacts: [MerchantContact]) {
        self.legalName = legalName
        self.creditCode = creditCode
        self.mcc = mcc
        self.areaCode = areaCode
        self.businessType = businessType
        self.businessHours = businessHours
        self.address = address
        self.settlementAccountName = settlementAccountName
        self.settlementBank = settlementBank
        self.settlementAccount = settlementAccount
        self.contacts = contacts
    }
}

/// Everything the onboarding page of one merchant shows.
public struct MerchantFile: Sendable {
    public var merchant: Organization
    public var profile: MerchantProfile?
    public var documents: [MerchantDocument]
    /// Required kinds not yet uploaded.
    public var missingDocuments: [DocumentKind]
    /// Review history, newest first.
    public var reviews: [MerchantReview]
    /// Other merchants (that the caller can see) paid into the same settlement account.
    public var sharingAccount: [Organization]
}

/// Merchant onboarding (入网): the file, its qualification documents and the review that gives
/// a merchant its MID. Only approved merchants can have terminals bound (PBOC 259号文: know the
/// merchant before a terminal goes out).
///
/// Four eyes: whoever submitted a file cannot approve or reject it.
public struct MerchantService: Sendable {
    public let store: any Persistence
    public let vault: any DocumentVault
    public let protector: AccountProtector
    public let clock: Clock

    public init(store: any Persistence, vault: any DocumentVault, protector: AccountProtector, clock: Clock = .system) {
        self.store = store
        self.vault = vault
        self.protector = protector
        self.clock = clock
    }

    // MARK: - Applying

    /// Creates a merchant organisation below `parentId` together with its draft file.
    public func apply(parentId: OrgID, tradingName: String, code: String, _ application: MerchantApplication,
                      by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsOnboard)
        let name = try AccessRules.text(tradingName, field: "name")
        let orgCode = try AccessRules.text(code, field: "code", max: 32)
        let now = clock.now()
        let checked = try check(application, existing: nil, by: principal, at: now)
        let merchant = try await store.write { repos in
            let merchant = try await AccessService.insertOrganization(kind: .merchant, name: name, code: orgCode, under: parentId,
                                                                      by: principal, repos: repos, at: now)
            try await insertProfile(checked, for: merchant, by: principal, repos: repos, at: now)
            return merchant
        }
        return try await file(merchant.id, by: principal)
    }

    /// Starts the file of a merchant organisation that has none yet (merchants created before
    /// onboarding existed, or through the organisation pages).
    public func start(_ merchantId: OrgID, _ application: MerchantApplication, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsOnboard)
        let now = clock.now()
        let checked = try check(application, existing: nil, by: principal, at: now)
        try await store.write { repos in
            let merchant = try await Self.visibleMerchant(merchantId, repos: repos, principal: principal)
            guard try await repos.merchants.find(merchantId) == nil else {
                throw DomainError.conflict("\(merchant.name) already has an onboarding file; change that one")
            }
            try await insertProfile(checked, for: merchant, by: principal, repos: repos, at: now)
        }
        return try await file(merchantId, by: principal)
    }

    /// Changes a draft or rejected file (optimistic: `expectedVersion` is the version read).
    public func update(_ merchantId: OrgID, _ application: MerchantApplication, expectedVersion: Int,
                       by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsOnboard)
        let now = clock.now()
        try await store.write { repos in
            let (merchant, stored) = try await Self.visibleProfile(merchantId, repos: repos, principal: principal)
            guard stored.version == expectedVersion else {
                throw DomainError.conflict("the file was changed by someone else (version \(stored.version)); reload it")
            }
            try Self.requireEditable(stored)
            var profile = try check(application, existing: stored, by: principal, at: now)
            profile.version = stored.version + 1
            try await repos.merchants.update(profile)
            try await audit("merchant.update", merchant, principal, repos, now, ["legalName": profile.legalName, "mcc": profile.mcc,
                                                                                   "account": profile.settlementAccountMasked])
        }
        return try await file(merchantId, by: principal)
    }

    /// Validates an application into a profile (new, or replacing the editable fields of `existing`).
    private func check(_ input: MerchantApplication, existing: MerchantProfile?, by principal: Principal,
                       at now: Date) throws -> MerchantProfile {
        let legalName = try AccessRules.text(input.legalName, field: "legalName")
        let creditCode = try EstateRules.creditCode(input.creditCode)
        let mcc = try MerchantRules.mcc(input.mcc)
        let areaCode = try MerchantRules.areaCode(input.areaCode)
        let hours = try BusinessHours.parse(input.businessHours)
        let address = try AccessRules.text(input.address.address, field: "address.address", max: 300)
        try EstateRules.coordinates(latitude: input.address.latitude, longitude: input.address.longitude)
        let accountName = try AccessRules.text(input.settlementAccountName, field: "settlementAccountName")
        let bank = try AccessRules.text(input.settlementBank, field: "settlementBank", max: 100)
        let contacts = try MerchantRules.contacts(input.contacts)
        var masked = existing?.settlementAccountMasked ?? ""
        var fingerprint = existing?.settlementAccountFingerprint ?? ""
        if let raw = input.settlementAccount, !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            let digits = try AccountProtector.normalise(raw)
            masked = AccountProtector.mask(digits)
            fingerprint = protector.fingerprint(digits)
        } else if existing == nil {
            throw DomainError.invalid("settlementAccount", "is required")
        }
        let placement = Placement(address: address, latitude: input.address.latitude, longitude: input.address.longitude)
        var profile = existing ?? MerchantProfile(
            merchantId: OrgID(rawValue: ""), legalName: legalName, creditCode: creditCode, mcc: mcc, areaCode: areaCode,
            businessType: input.businessType, businessHours: hours, address: placement, settlementAccountName: accountName,
            settlementBank: bank, settlementAccountMasked: masked, settlementAccountFingerprint: fingerprint, contacts: contacts,
            status: .draft, riskLevel: MerchantRules.suggestedRisk(mcc: mcc, businessType: input.businessType),
            createdBy: principal.user.username, createdAt: now, updatedAt: now)
        profile.legalName = legalName
        profile.creditCode = creditCode
        profile.mcc = mcc
        profile.areaCode = areaCode
        profile.businessType = input.businessType
        profile.businessHours = hours
        profile.address = placement
        profile.settlementAccountName = accountName
        profile.settlementBank = bank
        profile.settlementAccountMasked = masked
        profile.settlementAccountFingerprint = fingerprint
        profile.contacts = contacts
        // The category may have changed: the starting risk follows it until the first approval
        // (a file gets its MID then), after which only reviewers change it.
        if existing?.mid == nil {
            profile.riskLevel = MerchantRules.suggestedRisk(mcc: mcc, businessType: input.businessType)
        }
        profile.updatedAt = now
        return profile
    }

    private func insertProfile(_ checked: MerchantProfile, for merchant: Organization, by principal: Principal,
                               repos: any Repositories, at now: Date) async throws {
        var profile = checked
        profile.merchantId = merchant.id
        try await repos.merchants.insert(profile, tenant: merchant.rootId, orgPath: merchant.path)
        try await audit("merchant.apply", merchant, principal, repos, now,
                        ["legalName": profile.legalName, "creditCode": profile.creditCode, "mcc": profile.mcc,
                         "account": profile.settlementAccountMasked, "risk": profile.riskLevel.rawValue])
    }

    // MARK: - Documents

    /// Adds a qualification document to a draft or rejected file. The bytes are checked (size,
    /// and format by content: JPEG, PNG or PDF), stored encrypted, then recorded.
    public func upload(_ merchantId: OrgID, kind: DocumentKind, filename: String?, bytes: [UInt8],
                       by principal: Principal) async throws -> MerchantDocument {
        try principal.require(.merchantsOnboard)
        guard !bytes.isEmpty else { throw DomainError.invalid("file", "is empty") }
        guard bytes.count <= MerchantRules.maxDocumentBytes else {
            throw DomainError.invalid("file", "is larger than \(MerchantRules.maxDocumentBytes >> 20) MB")
        }
        guard let format = DocumentFormat.sniff(bytes) else {
            throw DomainError.invalid("file", "must be a JPEG or PNG image or a PDF document")
        }
        let now = clock.now()
        let (merchant, _) = try await store.read { repos in
            let found = try await Self.visibleProfile(merchantId, repos: repos, principal: principal)
            try Self.requireEditable(found.1)
            return found
        }
        let document = MerchantDocument(id: .generate(now: now), merchantId: merchantId, kind: kind,
                                        filename: MerchantRules.filename(filename, format: format), format: format, size: bytes.count,
                                        sha256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
                                        uploadedBy: principal.user.username, uploadedAt: now)
        // Bytes first, record second: a crash in between leaves an orphan file, never a record
        // whose document is missing.
        try await vault.put(document.id, tenant: merchant.rootId, bytes: bytes)
        do {
            try await store.write { repos in
                let (_, profile) = try await Self.visibleProfile(merchantId, repos: repos, principal: principal)
                try Self.requireEditable(profile)
                guard try await repos.merchants.documents(of: merchantId).count < 30 else {
                    throw DomainError.conflict("a file holds at most 30 documents; remove one first")
                }
                try await repos.merchants.insertDocument(document, orgPath: merchant.path)
                try await audit("merchant.document.add", merchant, principal, repos, now,
                                ["kind": kind.rawValue, "file": document.filename, "size": String(bytes.count), "sha256": document.sha256])
            }
        } catch {
            try? await vault.delete(document.id, tenant: merchant.rootId)
            throw error
        }
        return document
    }

    /// Removes a document from a draft or rejected file.
    public func removeDocument(_ merchantId: OrgID, _ documentId: DocumentID, by principal: Principal) async throws {
        try principal.require(.merchantsOnboard)
        let now = clock.now()
        let merchant = try await store.write { repos in
            let (merchant, profile) = try await Self.visibleProfile(merchantId, repos: repos, principal: principal)
            try Self.requireEditable(profile)
            guard let document = try await repos.merchants.document(documentId), document.merchantId == merchantId else {
                throw DomainError.notFound(resource: "document", id: documentId.rawValue)
            }
            try await repos.merchants.deleteDocument(documentId)
            try await audit("merchant.document.remove", merchant, principal, repos, now, ["kind": document.kind.rawValue, "file": document.filename])
            return merchant
        }
        try? await vault.delete(documentId, tenant: merchant.rootId)
    }

    /// A document and its bytes, checked against the checksum recorded at upload.
    public func document(_ merchantId: OrgID, _ documentId: DocumentID, by principal: Principal) async throws -> (MerchantDocument, [UInt8]) {
        try principal.require(.merchantsRead)
        let (merchant, document) = try await store.read { repos in
            let merchant = try await Self.visibleMerchant(merchantId, repos: repos, principal: principal)
            guard let document = try await repos.merchants.document(documentId), document.merchantId == merchantId else {
                throw DomainError.notFound(resource: "document", id: documentId.rawValue)
            }
            return (merchant, document)
        }
        let bytes = try await vault.get(documentId, tenant: merchant.rootId)
        guard SHA256.hash(data: bytes).map({ String(format: "%02x", $0) }).joined() == document.sha256 else {
            throw DomainError.conflict("the stored document does not match the checksum recorded at upload; it may have been altered")
        }
        return (document, bytes)
    }

    // MARK: - Review

    /// Sends a complete file to review.
    public func submit(_ merchantId: OrgID, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsOnboard)
        return try await step(merchantId, by: principal) { profile, _, repos, now in
            try Self.requireEditable(profile)
            let present = Set(try await repos.merchants.documents(of: merchantId).map(\.kind))
            let missing = DocumentKind.required.filter { !present.contains($0) }
            guard missing.isEmpty else {
                throw DomainError.conflict("the file lacks: \(missing.map(\.rawValue).joined(separator: ", "))")
            }
            profile.status = .submitted
            profile.submittedBy = principal.user.username
            profile.submittedAt = now
            return ("submitted", nil)
        }
    }

    /// Approves a submitted file: the merchant gets its MID (the given one, the one it had before
    /// it was reopened, or the next free one of its area and category) and its risk level.
    public func approve(_ merchantId: OrgID, mid rawMID: String?, riskLevel: RiskLevel?, note: String?,
                        by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsReview)
        let given = try rawMID.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try EstateRules.mid($0) }
        let comment = EstateService.optionalText(note)
        return try await step(merchantId, by: principal) { profile, merchant, repos, now in
            try Self.requireReviewable(profile, by: principal)
            let tenant = merchant.rootId
            var mid = given ?? profile.mid
            if mid == nil {
                let prefix = MerchantRules.midPrefix(areaCode: profile.areaCode, mcc: profile.mcc)
                guard let next = MerchantRules.nextMID(prefix: prefix, after: try await repos.merchants.lastMID(tenant: tenant, prefix: prefix)) else {
                    throw DomainError.conflict("every MID of area \(profile.areaCode) and category \(profile.mcc) is taken; give one")
                }
                mid = next
            }
            if let mid, mid != profile.mid {
                let holders = try await repos.merchants.list(under: "/\(tenant.rawValue)/", filter: MerchantFilter(mid: mid),
                                                             page: PageRequest(limit: 1))
                if let holder = holders.items.first, holder.merchantId != merchantId {
                    throw DomainError.conflict("MID \(mid) already belongs to another merchant")
                }
            }
            profile.mid = mid
            profile.status = .approved
            if let riskLevel { profile.riskLevel = riskLevel }
            profile.reviewedBy = principal.user.username
            profile.reviewedAt = now
            profile.reviewNote = comment
            return ("approved", ["MID \(mid ?? "")", "risk \(profile.riskLevel.rawValue)", comment].compactMap { $0 }.joined(separator: "; "))
        }
    }

    /// Refuses a submitted file with the reasons the applicant must address.
    public func reject(_ merchantId: OrgID, reasons: String, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsReview)
        let why = try AccessRules.text(reasons, field: "reasons", max: 1000)
        return try await step(merchantId, by: principal) { profile, _, _, now in
            try Self.requireReviewable(profile, by: principal)
            profile.status = .rejected
            profile.reviewedBy = principal.user.username
            profile.reviewedAt = now
            profile.reviewNote = why
            return ("rejected", why)
        }
    }

    /// Takes an approved file back to draft to change it (new account, new category). The MID is
    /// kept; no terminal can be bound until it is approved again. Bound terminals keep their
    /// binding, which records the elements as they were.
    public func reopen(_ merchantId: OrgID, reason: String, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsOnboard)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await step(merchantId, by: principal) { profile, _, _, _ in
            guard profile.status == .approved else {
                throw DomainError.conflict("only an approved file can be reopened; this one is \(profile.status.rawValue)")
            }
            profile.status = .draft
            return ("reopened", why)
        }
    }

    /// Changes the risk level of a merchant at any time (after an alert, an inspection), with the reason.
    public func setRisk(_ merchantId: OrgID, _ level: RiskLevel, reason: String, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsReview)
        let why = try AccessRules.text(reason, field: "reason", max: 500)
        return try await step(merchantId, by: principal) { profile, _, _, _ in
            let before = profile.riskLevel
            guard before != level else { return nil }
            profile.riskLevel = level
            return ("risk \(before.rawValue) → \(level.rawValue)", why)
        }
    }

    /// One step of the file's life in one transaction: loads the visible file, lets `change`
    /// alter it and name the history line (nil: nothing to record), saves it with the next
    /// version, records the step in the history and the audit trail; returns the updated file.
    private func step(_ merchantId: OrgID, by principal: Principal,
                      _ change: @escaping @Sendable (inout MerchantProfile, Organization, any Repositories, Date) async throws
                          -> (action: String, note: String?)?) async throws -> MerchantFile {
        let now = clock.now()
        try await store.write { repos in
            let (merchant, stored) = try await Self.visibleProfile(merchantId, repos: repos, principal: principal)
            var profile = stored
            guard let (action, note) = try await change(&profile, merchant, repos, now) else { return }
            profile.updatedAt = now
            profile.version += 1
            try await repos.merchants.update(profile)
            try await repos.merchants.recordReview(MerchantReview(action: action, actor: principal.user.username, at: now, note: note),
                                                   merchant: merchant.id)
            var summary = ["step": action]
            if let note { summary["note"] = note }
            try await audit("merchant.review", merchant, principal, repos, now, summary)
        }
        return try await file(merchantId, by: principal)
    }

    // MARK: - Reading

    /// The onboarding page of one merchant.
    public func file(_ merchantId: OrgID, by principal: Principal) async throws -> MerchantFile {
        try principal.require(.merchantsRead)
        return try await store.read { repos in
            let merchant = try await Self.visibleMerchant(merchantId, repos: repos, principal: principal)
            let profile = try await repos.merchants.find(merchantId)
            let documents = try await repos.merchants.documents(of: merchantId)
            let present = Set(documents.map(\.kind))
            var sharing: [Organization] = []
            if let profile {
                for id in try await repos.merchants.sharingAccount(tenant: merchant.rootId, fingerprint: profile.settlementAccountFingerprint,
                                                                    except: merchantId) {
                    if let other = try await repos.orgs.find(id), principal.sees(path: other.path) { sharing.append(other) }
                }
            }
            return MerchantFile(merchant: merchant, profile: profile, documents: documents,
                                missingDocuments: DocumentKind.required.filter { !present.contains($0) },
                                reviews: try await repos.merchants.reviews(of: merchantId), sharingAccount: sharing)
        }
    }

    /// Merchants in the caller's subtree with their files, newest first. Without a filter the
    /// list includes merchants that have no file yet.
    public func merchants(_ filter: MerchantFilter, page: PageRequest, by principal: Principal) async throws -> Page<MerchantSummary> {
        try principal.require(.merchantsRead)
        return try await store.read { repos in
            if filter == MerchantFilter() {
                let orgs = try await repos.orgs.list(under: principal.orgPath, kind: .merchant, page: page)
                var items: [MerchantSummary] = []
                for org in orgs.items { items.append(MerchantSummary(merchant: org, profile: try await repos.merchants.find(org.id))) }
                return Page(items: items, nextCursor: orgs.nextCursor)
            }
            let profiles = try await repos.merchants.list(under: principal.orgPath, filter: filter, page: page)
            var items: [MerchantSummary] = []
            for profile in profiles.items {
                if let org = try await repos.orgs.find(profile.merchantId) { items.append(MerchantSummary(merchant: org, profile: profile)) }
            }
            return Page(items: items, nextCursor: profiles.nextCursor)
        }
    }

    // MARK: - Helpers

    /// The merchant organisation, if the caller can see it.
    static func visibleMerchant(_ id: OrgID, repos: any Repositories, principal: Principal) async throws -> Organization {
        guard let org = try await repos.orgs.find(id), org.kind == .merchant, principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "merchant", id: id.rawValue)
        }
        return org
    }

    /// The merchant and its file, if the caller can see them.
    static func visibleProfile(_ id: OrgID, repos: any Repositories, principal: Principal) async throws -> (Organization, MerchantProfile) {
        let merchant = try await visibleMerchant(id, repos: repos, principal: principal)
        guard let profile = try await repos.merchants.find(id) else {
            throw DomainError.conflict("\(merchant.name) has no onboarding file yet")
        }
        return (merchant, profile)
    }

    static func requireEditable(_ profile: MerchantProfile) throws {
        guard profile.isEditable else {
            throw DomainError.conflict(profile.status == .approved
                ? "the file is approved; reopen it to make changes"
                : "the file is \(profile.status.rawValue) and cannot change until it is reviewed")
        }
    }

    /// A submitted file, decided by someone other than its submitter.
    static func requireReviewable(_ profile: MerchantProfile, by principal: Principal) throws {
        guard profile.status == .submitted else { throw DomainError.conflict("the file is \(profile.status.rawValue), not waiting for review") }
        guard profile.submittedBy != principal.user.username else {
            throw DomainError.forbidden("you submitted this file; another reviewer must decide it")
        }
    }

    private func audit(_ action: String, _ merchant: Organization, _ principal: Principal, _ repos: any Repositories,
                       _ now: Date, _ summary: [String: String]) async throws {
        _ = try await repos.audit.append(
            AuditDraft(orgId: merchant.id, actor: principal.actor, action: action, resourceType: "merchant",
                       resourceId: merchant.id.rawValue, origin: principal.origin, summary: summary),
            orgPath: merchant.path, at: now)
    }
}
