import Foundation
import Hummingbird
import TillyardKit

/// The onboarding file as the API shows it (masked account only; the fingerprint stays inside).
struct MerchantBody: Codable, Sendable {
    var id: String
    var name: String
    var code: String
    var parentId: String?
    var status: MerchantStatus?
    var legalName: String?
    var creditCode: String?
    var mcc: String?
    var areaCode: String?
    var businessType: BusinessType?
    var businessHours: BusinessHours?
    var address: Placement?
    var settlementAccountName: String?
    var settlementBank: String?
    var settlementAccount: String?
    var contacts: [MerchantContact]?
    var riskLevel: RiskLevel?
    var mid: String?
    var submittedBy: String?
    var submittedAt: Date?
    var reviewedBy: String?
    var reviewedAt: Date?
    var reviewNote: String?
    var version: Int?

    init(_ merchant: Organization, _ profile: MerchantProfile?) {
        id = merchant.id.rawValue; name = merchant.name; code = merchant.code; parentId = merchant.parentId?.rawValue
        guard let profile else { return }
        status = profile.status; legalName = profile.legalName; creditCode = profile.creditCode; mcc = profile.mcc
        areaCode = profile.areaCode; businessType = profile.businessType; businessHours = profile.businessHours
        address = profile.address; settlementAccountName = profile.settlementAccountName; settlementBank = profile.settlementBank
        settlementAccount = profile.settlementAccountMasked; contacts = profile.contacts; riskLevel = profile.riskLevel
        mid = profile.mid; submittedBy = profile.submittedBy; submittedAt = profile.submittedAt; reviewedBy = profile.reviewedBy
        reviewedAt = profile.reviewedAt; reviewNote = profile.reviewNote; version = profile.version
    }
}

/// A document's record (its bytes come from the download route).
struct DocumentBody: Codable, Sendable {
    var id: String
    var kind: DocumentKind
    var filename: String
    var contentType: String
    var size: Int
    var sha256: String
    var uploadedBy: String
    var uploadedAt: Date

    init(_ document: MerchantDocument) {
        id = document.id.rawValue; kind = document.kind; filename = document.filename; contentType = document.format.contentType
        size = document.size; sha256 = document.sha256; uploadedBy = document.uploadedBy; uploadedAt = document.uploadedAt
    }
}

/// The whole onboarding file: profile, documents, what is missing, review history, and other
/// merchants paid into the same account.
struct MerchantFileBody: Codable, Sendable {
    var merchant: MerchantBody
    var documents: [DocumentBody]
    var missingDocuments: [DocumentKind]
    var reviews: [MerchantReview]
    var sharingAccountWith: [String]

    init(_ file: MerchantFile) {
        merchant = MerchantBody(file.merchant, file.profile)
        documents = file.documents.map(DocumentBody.init)
        missingDocuments = file.missingDocuments
        reviews = file.reviews
        sharingAccountWith = file.sharingAccount.map(\.id.rawValue)
    }
}

/// The body of `POST /merchants` (new merchant with its file) and `PUT /merchants/{id}/profile`
/// (start or change the file of an existing merchant).
struct MerchantInput: APIInput {
    var parentId: String?
    var name: String?
    var code: String?
    /// The version read, when changing an existing file.
    var version: Int?
    var legalName: String
    var creditCode: String
    var mcc: String
    var areaCode: String
    var businessType: BusinessType
    var businessHours: String
    var address: Placement
    var settlementAccountName: String
    var settlementBank: String
    var settlementAccount: String?
    var contacts: [MerchantContact]
    enum CodingKeys: String, CodingKey, CaseIterable {
        case parentId, name, code, version, legalName, creditCode, mcc, areaCode, businessType, businessHours, address
        case settlementAccountName, settlementBank, settlementAccount, contacts
    }
    typealias Field = CodingKeys
    /// The account is masked and fingerprinted at once; it may pass the card-data guard.
    static var allowedSensitiveFields: Set<String> { ["settlementAccount"] }

    var application: MerchantApplication {
        MerchantApplication(legalName: legalName, creditCode: creditCode, mcc: mcc, areaCode: areaCode, businessType: businessType,
                            businessHours: businessHours, address: address, settlementAccountName: settlementAccountName,
                            settlementBank: settlementBank, settlementAccount: settlementAccount, contacts: contacts)
    }
}

struct ApproveInput: APIInput {
    var mid: String?
    var riskLevel: RiskLevel?
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case mid, riskLevel, note }
    typealias Field = CodingKeys
}

struct RejectInput: APIInput {
    var reasons: String
    enum CodingKeys: String, CodingKey, CaseIterable { case reasons }
    typealias Field = CodingKeys
}

struct RiskInput: APIInput {
    var riskLevel: RiskLevel
    var reason: String
    enum CodingKeys: String, CodingKey, CaseIterable { case riskLevel, reason }
    typealias Field = CodingKeys
}

/// `/api/v1` routes of merchant onboarding: files, documents, and the review.
struct MerchantAPI {
    let merchants: MerchantService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let merchants = self.merchants
        let routes = self.routes

        api.get("merchants") { request, context in
            let filter = MerchantFilter(status: try request.query("status", as: MerchantStatus.self),
                                        riskLevel: try request.query("riskLevel", as: RiskLevel.self),
                                        mid: request.query("mid"))
            let page = try await merchants.merchants(filter, page: try request.pageRequest(), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(page) { MerchantBody($0.merchant, $0.profile) })
        }
        api.post("merchants") { request, context in
            try await routes.create(request, context) { (input: MerchantInput, principal) in
                guard let parent = input.parentId.flatMap(OrgID.init(validating:)) else {
                    throw DomainError.invalid("parentId", "is required: the region or agent the merchant belongs to")
                }
                guard input.version == nil else { throw DomainError.invalid("version", "is not used when creating a merchant") }
                return MerchantFileBody(try await merchants.apply(parentId: parent, tradingName: input.name ?? "", code: input.code ?? "",
                                                                  input.application, by: principal))
            }
        }
        api.get("merchants/:id") { _, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try JSONResponse.make(MerchantFileBody(try await merchants.file(id, by: try context.requirePrincipal())))
        }
        api.put("merchants/:id/profile") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try await routes.update(request, context) { (input: MerchantInput, principal) in
                guard input.parentId == nil, input.name == nil, input.code == nil else {
                    throw DomainError.invalid("parentId", "name, code and parent change on the organisation, not on its file")
                }
                if let version = input.version {
                    return MerchantFileBody(try await merchants.update(id, input.application, expectedVersion: version, by: principal))
                }
                return MerchantFileBody(try await merchants.start(id, input.application, by: principal))
            }
        }
        api.post("merchants/:id/documents") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            let principal = try context.requirePrincipal()
            guard let kind = try request.query("kind", as: DocumentKind.self) else {
                // Another tenant's merchant is "not found" before any complaint about the input.
                _ = try await merchants.file(id, by: principal)
                throw DomainError.invalid("kind", "is required: one of \(DocumentKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let bytes = try await Self.collectDocument(request)
            return try await routes.idempotency.run(request: request, body: Data(bytes), principal: principal) {
                let document = try await merchants.upload(id, kind: kind, filename: request.query("filename"), bytes: bytes, by: principal)
                return (.created, try JSONIO.encode(DocumentBody(document)))
            }
        }
        api.get("merchants/:id/documents/:documentId") { _, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            let documentId: DocumentID = try context.id("documentId", resource: "document")
            let (document, bytes) = try await merchants.document(id, documentId, by: try context.requirePrincipal())
            return Self.download(document, bytes)
        }
        api.delete("merchants/:id/documents/:documentId") { _, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            let documentId: DocumentID = try context.id("documentId", resource: "document")
            try await merchants.removeDocument(id, documentId, by: try context.requirePrincipal())
            return Response(status: .noContent)
        }
        api.post("merchants/:id/submit") { _, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try JSONResponse.make(MerchantFileBody(try await merchants.submit(id, by: try context.requirePrincipal())))
        }
        api.post("merchants/:id/approve") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try await routes.update(request, context) { (input: ApproveInput, principal) in
                MerchantFileBody(try await merchants.approve(id, mid: input.mid, riskLevel: input.riskLevel, note: input.note, by: principal))
            }
        }
        api.post("merchants/:id/reject") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try await routes.update(request, context) { (input: RejectInput, principal) in
                MerchantFileBody(try await merchants.reject(id, reasons: input.reasons, by: principal))
            }
        }
        api.post("merchants/:id/reopen") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try await routes.update(request, context) { (input: ReasonInput, principal) in
                MerchantFileBody(try await merchants.reopen(id, reason: input.reason ?? "", by: principal))
            }
        }
        api.put("merchants/:id/risk") { request, context in
            let id: OrgID = try context.id("id", resource: "merchant")
            return try await routes.update(request, context) { (input: RiskInput, principal) in
                MerchantFileBody(try await merchants.setRisk(id, input.riskLevel, reason: input.reason, by: principal))
            }
        }
    }

    /// The raw body of an upload; beyond the document limit it stops reading and answers 413.
    static func collectDocument(_ request: Request) async throws -> [UInt8] {
        Array(buffer: try await request.body.collect(upTo: MerchantRules.maxDocumentBytes))
    }

    /// A document as a download: its recorded type, never sniffed by the browser, never inline.
    static func download(_ document: MerchantDocument, _ bytes: [UInt8]) -> Response {
        download(filename: document.filename, format: document.format, bytes)
    }

    /// Stored bytes as a download under their recorded name and type (documents, ticket attachments).
    static func download(filename: String, format: DocumentFormat, _ bytes: [UInt8]) -> Response {
        let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "_" })
        // RFC 5987 attr-chars stay as they are; everything else (Chinese names too) is percent-encoded.
        let attrChars = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
            .union(CharacterSet(charactersIn: "!#$&+-.^_`|~"))
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: attrChars) ?? ascii
        var headers = HTTPFields()
        headers[.contentType] = format.contentType
        headers[.contentDisposition] = "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.cacheControl] = "private, no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
