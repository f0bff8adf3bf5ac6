import Crypto
import Foundation

/// Where a merchant's onboarding (入网) stands.
public enum MerchantStatus: String, Codable, Sendable, CaseIterable {
    /// Being filled in; documents may be added and removed.
    case draft
    /// Waiting for a reviewer; nothing may change meanwhile.
    case submitted
    /// Passed review: the merchant has its MID and may have terminals bound.
    case approved
    /// Refused with reasons; the applicant corrects it and submits again.
    case rejected
}

/// Fixed premises or a mobile business (market stall, delivery, taxi): decides how tightly a
/// terminal's location is watched and how often it is inspected.
public enum BusinessType: String, Codable, Sendable, CaseIterable {
    case fixed
    case mobile
}

/// The acquirer's risk rating of a merchant, set by the reviewer.
public enum RiskLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case low
    case medium
    case high

    public static func < (lhs: RiskLevel, rhs: RiskLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Opening hours of a merchant; the risk rules later flag transactions outside them.
public struct BusinessHours: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Minutes after midnight; both nil means open around the clock.
    public var opens: Int?
    public var closes: Int?

    public init(opens: Int?, closes: Int?) {
        self.opens = opens
        self.closes = closes
    }

    /// Open 24 hours.
    public static let allDay = BusinessHours(opens: nil, closes: nil)

    /// Parses "09:00-22:00" (a closing time before the opening time runs past midnight) or "24h".
    public static func parse(_ raw: String, field: String = "businessHours") throws -> BusinessHours {
        let text = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if text == "24h" || text == "00:00-24:00" { return .allDay }
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let opens = minutes(parts[0]), let closes = minutes(parts[1]), opens != closes else {
            throw DomainError.invalid(field, "write the hours as HH:MM-HH:MM (e.g. 09:00-22:00) or 24h")
        }
        return BusinessHours(opens: opens, closes: closes)
    }

    private static func minutes(_ text: String) -> Int? {
        let pieces = text.split(separator: ":")
        guard pieces.count == 2, pieces[0].count == 2, pieces[1].count == 2,
              let hours = Int(pieces[0]), let minutes = Int(pieces[1]), (0...23).contains(hours), (0...59).contains(minutes) else {
            return nil
        }
        return hours * 60 + minutes
    }

    /// Whether the merchant is open at a minute of the day (0–1439), overnight hours included.
    public func isOpen(atMinute minute: Int) -> Bool {
        guard let opens, let closes else { return true }
        return opens < closes ? (opens..<closes).contains(minute) : (minute >= opens || minute < closes)
    }

    /// "09:00-22:00" or "24h".
    public var description: String {
        guard let opens, let closes else { return "24h" }
        return String(format: "%02d:%02d-%02d:%02d", opens / 60, opens % 60, closes / 60, closes % 60)
    }

    public init(from decoder: any Decoder) throws {
        self = try Self.parse(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A person the acquirer calls about the merchant.
public struct MerchantContact: Codable, Sendable, Equatable {
    /// e.g. legal representative, finance, shop manager.
    public var role: String
    public var name: String
    public var phone: String

    public init(role: String, name: String, phone: String) {
        self.role = role
        self.name = name
        self.phone = phone
    }
}

/// The merchant's onboarding file (入网资料): who they are, what they sell, where and when, and
/// where their money goes. The settlement account is kept masked and as a keyed hash only.
public struct MerchantProfile: Codable, Sendable, Equatable {
    /// The merchant organisation this file belongs to (one file per merchant).
    public var merchantId: OrgID
    /// Registered legal name (as on the business licence).
    public var legalName: String
    public var creditCode: String
    /// Merchant category code (ISO 18245), 4 digits.
    public var mcc: String
    /// UnionPay area code (地区码) of the registered address, 4 digits; part of the MID.
    public var areaCode: String
    public var businessType: BusinessType
    public var businessHours: BusinessHours
    /// Registered business address with its coordinates; the default placement of terminals.
    public var address: Placement
    public var settlementAccountName: String
    public var settlementBank: String
    public var settlementAccountMasked: String
    /// HMAC of the account number under the installation's key.
    public var settlementAccountFingerprint: String
    public var contacts: [MerchantContact]
    public var status: MerchantStatus
    public var riskLevel: RiskLevel
    /// The merchant code, assigned when the file is approved.
    public var mid: String?
    public var submittedBy: String?
    public var submittedAt: Date?
    public var reviewedBy: String?
    public var reviewedAt: Date?
    /// The reviewer's reasons (always given on rejection).
    public var reviewNote: String?
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(merchantId: OrgID, legalName: String, creditCode: String, mcc: String, areaCode: String, businessType: BusinessType,
                businessHours: BusinessHours, address: Placement, settlementAccountName: String, settlementBank: String,
                settlementAccountMasked: String, settlementAccountFingerprint: String, contacts: [MerchantContact],
                status: MerchantStatus, riskLevel: RiskLevel, mid: String? = nil, submittedBy: String? = nil, submittedAt: Date? = nil,
                reviewedBy: String? = nil, reviewedAt: Date? = nil, reviewNote: String? = nil, createdBy: String,
                createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.merchantId = merchantId
        self.legalName = legalName
        self.creditCode = creditCode
        self.mcc = mcc
        self.areaCode = areaCode
        self.businessType = businessType
        self.businessHours = businessHours
        self.address = address
        self.settlementAccountName = settlementAccountName
        self.settlementBank = settlementBank
        self.settlementAccountMasked = settlementAccountMasked
        self.settlementAccountFingerprint = settlementAccountFingerprint
        self.contacts = contacts
        self.status = status
        self.riskLevel = riskLevel
        self.mid = mid
        self.submittedBy = submittedBy
        self.submittedAt = submittedAt
        self.reviewedBy = reviewedBy
        self.reviewedAt = reviewedAt
        self.reviewNote = reviewNote
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// Whether the applicant may still change the file.
    public var isEditable: Bool { status == .draft || status == .rejected }
}

/// The kinds of qualification document an onboarding file holds.
public enum DocumentKind: String, Codable, Sendable, CaseIterable {
    /// Business licence (营业执照).
    case businessLicence = "business_licence"
    /// Legal representative's identity document (法人身份证).
    case legalRepresentativeId = "legal_representative_id"
    /// Photo of the shop front with its sign (门头照).
    case storefront
    /// Photo of the premises inside (店内照).
    case premises
    /// Proof of the settlement account (开户许可证 / bank card photo).
    case accountProof = "account_proof"
    case other

    /// What a file must hold before it can be submitted for review.
    public static let required: [DocumentKind] = [.businessLicence, .legalRepresentativeId, .storefront]
}

/// The file formats accepted for documents, recognised by their first bytes (never by the
/// name or the declared type, which the uploader controls).
public enum DocumentFormat: String, Codable, Sendable, CaseIterable {
    case jpeg
    case png
    case pdf

    /// The format of some bytes, or nil when they are none of ours.
    public static func sniff(_ bytes: some Collection<UInt8>) -> DocumentFormat? {
        let head = Array(bytes.prefix(8))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.starts(with: Array("%PDF-".utf8)) { return .pdf }
        return nil
    }

    public var contentType: String {
        switch self {
        case .jpeg: return "image/jpeg"
        case .png: return "image/png"
        case .pdf: return "application/pdf"
        }
    }

    public var fileExtension: String { self == .jpeg ? "jpg" : rawValue }
}

/// Tag for document ids.
public enum DocumentTag {}
/// Id of an uploaded qualification document.
public typealias DocumentID = Identifier<DocumentTag>

/// One uploaded qualification document. Its bytes live in the data folder, encrypted; this is
/// the record that says what it is and proves it was not swapped (SHA-256 of the content).
public struct MerchantDocument: Codable, Sendable, Equatable {
    public var id: DocumentID
    public var merchantId: OrgID
    public var kind: DocumentKind
    /// The uploader's file name, cleaned, for display and download only.
    public var filename: String
    public var format: DocumentFormat
    public var size: Int
    public var sha256: String
    public var uploadedBy: String
    public var uploadedAt: Date

    public init(id: DocumentID, merchantId: OrgID, kind: DocumentKind, filename: String, format: DocumentFormat, size: Int,
                sha256: String, uploadedBy: String, uploadedAt: Date) {
        self.id = id
        self.merchantId = merchantId
        self.kind = kind
        self.filename = filename
        self.format = format
        self.size = size
        self.sha256 = sha256
        self.uploadedBy = uploadedBy
        self.uploadedAt = uploadedAt
    }
}

/// One step of a file's review history: submitted, approved, rejected, reopened, risk changed.
public struct MerchantReview: Codable, Sendable, Equatable {
    public var action: String
    public var actor: String
    public var at: Date
    public var note: String?

    public init(action: String, actor: String, at: Date, note: String?) {
        self.action = action
        self.actor = actor
        self.at = at
        self.note = note
    }
}

/// A merchant as the onboarding list shows it: the organisation and its file, if any.
public struct MerchantSummary: Sendable, Equatable {
    public var merchant: Organization
    public var profile: MerchantProfile?

    public init(merchant: Organization, profile: MerchantProfile?) {
        self.merchant = merchant
        self.profile = profile
    }
}

/// Filter of the onboarding list.
public struct MerchantFilter: Sendable, Equatable {
    public var status: MerchantStatus?
    public var riskLevel: RiskLevel?
    /// Exact MID.
    public var mid: String?

    public init(status: MerchantStatus? = nil, riskLevel: RiskLevel? = nil, mid: String? = nil) {
        self.status = status
        self.riskLevel = riskLevel
        self.mid = mid
    }
}

/// Onboarding file storage.
public protocol MerchantRepository: Sendable {
    func insert(_ profile: MerchantProfile, tenant: OrgID, orgPath: String) async throws
    func find(_ merchant: OrgID) async throws -> MerchantProfile?
    /// Optimistic update (version must be stored + 1); a MID taken in the tenant is a `conflict`.
    func update(_ profile: MerchantProfile) async throws
    /// Files in a subtree, newest merchant first.
    func list(under path: String, filter: MerchantFilter, page: PageRequest) async throws -> Page<MerchantProfile>
    /// Other merchants of the tenant paid into the same account (a classic sign of a front merchant).
    func sharingAccount(tenant: OrgID, fingerprint: String, except merchant: OrgID) async throws -> [OrgID]
    /// The highest MID of the tenant starting with this prefix (for assigning the next in sequence).
    func lastMID(tenant: OrgID, prefix: String) async throws -> String?
    func insertDocument(_ document: MerchantDocument, orgPath: String) async throws
    func document(_ id: DocumentID) async throws -> MerchantDocument?
    func documents(of merchant: OrgID) async throws -> [MerchantDocument]
    func deleteDocument(_ id: DocumentID) async throws
    func recordReview(_ review: MerchantReview, merchant: OrgID) async throws
    /// Review history, newest first.
    func reviews(of merchant: OrgID) async throws -> [MerchantReview]
}

/// Where document bytes are kept: outside the database (they are large and would bloat every
/// backup of the transactional data), encrypted at rest (identity documents are personal data).
public protocol DocumentVault: Sendable {
    /// Stores the bytes durably under the id before the record is committed.
    func put(_ id: DocumentID, tenant: OrgID, bytes: [UInt8]) async throws
    func get(_ id: DocumentID, tenant: OrgID) async throws -> [UInt8]
    /// Removes the bytes (after the record is gone, or when its transaction failed).
    func delete(_ id: DocumentID, tenant: OrgID) async throws
}

/// Encrypts document bytes at rest with AES-256-GCM under a key derived from the
/// installation's secret, so a copied data folder alone does not expose identity documents.
public struct DocumentCipher: Sendable {
    private let cipher: InstallationCipher

    /// A cipher keyed from the installation secret (the same secret as account fingerprints;
    /// HKDF with its own label keeps the two uses independent).
    public init(secret: Data) {
        cipher = InstallationCipher(secret: secret, purpose: "documents")
    }

    /// Nonce, ciphertext and tag in one blob; the document id is bound in as associated data so
    /// blobs cannot be swapped between documents.
    public func seal(_ bytes: [UInt8], id: DocumentID) throws -> [UInt8] {
        try cipher.seal(bytes, boundTo: id.rawValue)
    }

    /// The plain bytes, or an error when the blob was altered or belongs to another document.
    public func open(_ blob: [UInt8], id: DocumentID) throws -> [UInt8] {
        guard let plain = cipher.open(blob, boundTo: id.rawValue) else {
            throw DomainError.conflict("the stored document \(id) cannot be decrypted: it was altered or the installation key changed")
        }
        return plain
    }
}
