import Foundation
import Hummingbird
import TillyardKit

/// The onboarding form: a new merchant (with parent, name and code) or the file of an existing one.
struct ProfileForm: Decodable, CSRFCarrying {
    var parentId: String?; var name: String?; var code: String?; var version: String?
    var legalName: String; var creditCode: String; var mcc: String; var areaCode: String
    var businessType: String; var businessHours: String
    var address: String; var latitude: String; var longitude: String
    var settlementAccountName: String; var settlementBank: String; var settlementAccount: String?
    var contactRole1: String; var contactName1: String; var contactPhone1: String
    var contactRole2: String?; var contactName2: String?; var contactPhone2: String?
    var _csrf: String

    func application() throws -> MerchantApplication {
        guard let type = BusinessType(rawValue: businessType) else { throw DomainError.invalid("businessType", "choose fixed or mobile") }
        guard let latitude = Double(latitude.trimmingCharacters(in: .whitespaces)),
              let longitude = Double(longitude.trimmingCharacters(in: .whitespaces)) else {
            throw DomainError.invalid("latitude", "latitude and longitude must be numbers")
        }
        var contacts = [MerchantContact(role: contactRole1, name: contactName1, phone: contactPhone1)]
        let second = [contactRole2, contactName2, contactPhone2].map { $0?.trimmingCharacters(in: .whitespaces) ?? "" }
        if !second.allSatisfy(\.isEmpty) { contacts.append(MerchantContact(role: second[0], name: second[1], phone: second[2])) }
        return MerchantApplication(legalName: legalName, creditCode: creditCode, mcc: mcc, areaCode: areaCode, businessType: type,
                                   businessHours: businessHours, address: Placement(address: address, latitude: latitude, longitude: longitude),
                                   settlementAccountName: settlementAccountName, settlementBank: settlementBank,
                                   settlementAccount: settlementAccount, contacts: contacts)
    }

    /// The typed values to show again after an error (never the account number).
    var echo: [String: Any] {
        ["parentId": parentId ?? "", "name": name ?? "", "code": code ?? "", "legalName": legalName, "creditCode": creditCode, "mcc": mcc,
         "areaCode": areaCode, "businessHours": businessHours, "address": address, "latitude": latitude, "longitude": longitude,
         "settlementAccountName": settlementAccountName, "settlementBank": settlementBank, "contactRole1": contactRole1,
         "contactName1": contactName1, "contactPhone1": contactPhone1, "contactRole2": contactRole2 ?? "",
         "contactName2": contactName2 ?? "", "contactPhone2": contactPhone2 ?? "", "mobile": businessType == "mobile"]
    }
}

struct ReviewForm: Decodable, CSRFCarrying {
    var action: String; var mid: String?; var riskLevel: String?; var note: String?; var _csrf: String
}

struct DeleteForm: Decodable, CSRFCarrying { var _csrf: String }

/// The multipart upload form (its CSRF token rides in the query string, checked by `AuthMiddleware`).
struct UploadForm: Decodable {
    var kind: String
    var file: UploadedFile
}

/// Console pages of merchant onboarding: the list (a review queue when filtered by status),
/// the application form, and each merchant's file with documents and review actions.
struct MerchantConsole {
    let merchants: MerchantService
    let access: AccessService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("merchants", use: list)
        console.post("merchants", use: apply)
        console.get("merchants/:id", use: show)
        console.post("merchants/:id/profile", use: saveProfile)
        console.post("merchants/:id/documents", use: upload)
        console.get("merchants/:id/documents/:documentId", use: download)
        console.post("merchants/:id/documents/:documentId/delete", use: removeDocument)
        console.post("merchants/:id/review", use: review)
    }

    // MARK: - List and application

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await listPage(request, context, error: nil, echo: nil, status: .ok)
    }

    private func listPage(_ request: Request, _ context: AppRequestContext, error: String?, echo: [String: Any]?,
                          status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let chosen = try request.query("status", as: MerchantStatus.self)
        let result = try await merchants.merchants(MerchantFilter(status: chosen), page: try request.pageRequest(), by: principal)
        let rows = result.items.map { item -> [String: Any] in
            let profile = item.profile
            return ["id": item.merchant.id.rawValue, "name": item.merchant.name, "code": item.merchant.code,
                    "legalName": profile?.legalName ?? "", "mid": profile?.mid ?? "",
                    "mcc": profile.map { MerchantRules.categoryName($0.mcc, locale: locale) } ?? "",
                    "status": renderer.text("merchant_status_\(profile?.status.rawValue ?? "none")", locale: locale),
                    "risk": profile.map { renderer.text("risk_\($0.riskLevel.rawValue)", locale: locale) } ?? "",
                    "submitted": profile?.submittedAt.map { String($0.iso8601.prefix(10)) } ?? ""]
        }
        let filters = ([nil] + MerchantStatus.allCases.map(Optional.some)).map { value -> [String: Any] in
            ["href": "/console/merchants" + (value.map { "?status=\($0.rawValue)" } ?? ""),
             "label": renderer.text(value.map { "merchant_status_\($0.rawValue)" } ?? "list_all", locale: locale), "active": value == chosen]
        }
        var data: [String: Any] = ["merchants": rows, "filters": filters, "error": error as Any,
                                   "next": result.nextCursor.map { cursor in
                                       "/console/merchants?" + (chosen.map { "status=\($0.rawValue)&" } ?? "") + "cursor=\(cursor)"
                                   } as Any]
        if principal.can(.merchantsOnboard) && principal.can(.orgsRead) {
            let values = echo ?? [:]
            data["canApply"] = true
            data["parents"] = try await forms.orgOptions(principal, selected: values["parentId"] as? String) {
                $0.kind.allowedChildren.contains(.merchant)
            }
            data["form"] = formData(values)
        }
        return renderer.page("merchants", titleKey: "nav_merchants", context: context, data: data, status: status)
    }

    /// Values and option lists of the profile form.
    private func formData(_ values: [String: Any]) -> [String: Any] {
        var form = values
        form["businessHours"] = values["businessHours"] ?? "09:00-22:00"
        form["fixedSelected"] = !(values["mobile"] as? Bool ?? false)
        return form
    }

    @Sendable func apply(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(ProfileForm.self, request, context, allowing: ["settlementAccount"])
        do {
            guard let parent = form.parentId.flatMap(OrgID.init(validating:)) else { throw DomainError.invalid("parentId", "choose where the merchant belongs") }
            let file = try await merchants.apply(parentId: parent, tradingName: form.name ?? "", code: form.code ?? "",
                                                 try form.application(), by: principal)
            return .redirect(to: "/console/merchants/\(file.merchant.id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await listPage(request, context, error: error.message, echo: form.echo, status: ConsoleForms.status(error))
        }
    }

    // MARK: - One merchant's file

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await filePage(request, context, error: nil, echo: nil, status: .ok)
    }

    private func filePage(_ request: Request, _ context: AppRequestContext, error: String?, echo: [String: Any]?,
                          status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let id: OrgID = try context.id("id", resource: "merchant")
        let file = try await merchants.file(id, by: principal)
        let profile = file.profile
        let base = "/console/merchants/\(id.rawValue)"
        var facts: [[String: String]] = []
        if let profile {
            func fact(_ key: String, _ value: String) { facts.append(["label": renderer.text(key, locale: locale), "value": value]) }
            fact("field_status", renderer.text("merchant_status_\(profile.status.rawValue)", locale: locale))
            fact("merchant_risk", renderer.text("risk_\(profile.riskLevel.rawValue)", locale: locale))
            facts.append(["label": "MID", "value": profile.mid ?? "—"])
            fact("merchant_legal_name", profile.legalName)
            fact("field_credit_code", profile.creditCode)
            fact("merchant_mcc", MerchantRules.categoryName(profile.mcc, locale: locale))
            fact("merchant_area_code", profile.areaCode)
            fact("merchant_business_type", renderer.text("business_\(profile.businessType.rawValue)", locale: locale))
            fact("merchant_hours", profile.businessHours.description)
            fact("field_address", "\(profile.address.address) (\(Self.degrees(profile.address.latitude)), \(Self.degrees(profile.address.longitude)))")
            fact("field_account", "\(profile.settlementAccountMasked) · \(profile.settlementAccountName) · \(profile.settlementBank)")
            fact("merchant_contacts", profile.contacts.map { "\($0.role): \($0.name) \($0.phone)" }.joined(separator: "; "))
            if let by = profile.reviewedBy {
                fact("merchant_reviewed", "\(by) · \(profile.reviewedAt?.iso8601 ?? "")\(profile.reviewNote.map { " · \($0)" } ?? "")")
            }
        }
        let editable = profile.map(\.isEditable) ?? true
        let canOnboard = principal.can(.merchantsOnboard)
        let canReview = principal.can(.merchantsReview)
        let values = echo ?? profile.map(Self.values) ?? [:]
        var data: [String: Any] = [
            "merchantId": id.rawValue, "name": file.merchant.name, "code": file.merchant.code, "facts": facts,
            "hasProfile": profile != nil, "error": error as Any, "base": base,
            "missing": file.missingDocuments.map { renderer.text("document_\($0.rawValue)", locale: locale) },
            "sharing": file.sharingAccount.map { ["id": $0.id.rawValue, "name": $0.name] },
            "documents": file.documents.map { document -> [String: Any] in
                ["id": document.id.rawValue, "kind": renderer.text("document_\(document.kind.rawValue)", locale: locale),
                 "filename": document.filename, "size": Self.size(document.size), "uploadedBy": document.uploadedBy,
                 "uploadedAt": document.uploadedAt.iso8601, "sha": String(document.sha256.prefix(12)),
                 "removable": editable && canOnboard && profile != nil]
            },
            "reviews": file.reviews.map { ["at": $0.at.iso8601, "action": stepName($0.action, locale: locale), "actor": $0.actor,
                                           "note": $0.note ?? ""] },
            "documentKinds": DocumentKind.allCases.map { ["value": $0.rawValue, "label": renderer.text("document_\($0.rawValue)", locale: locale)] },
            "maxMB": MerchantRules.maxDocumentBytes >> 20,
            "hasMissing": profile != nil && !file.missingDocuments.isEmpty, "hasSharing": !file.sharingAccount.isEmpty,
        ]
        if canOnboard && editable {
            data["canEdit"] = true
            data["form"] = formData(values)
            data["version"] = profile?.version as Any
            data["canUpload"] = profile != nil
        }
        if let profile {
            data["canSubmit"] = canOnboard && editable
            data["canReopen"] = canOnboard && profile.status == .approved
            data["canDecide"] = canReview && profile.status == .submitted
            data["canSetRisk"] = canReview
            data["riskOptions"] = forms.options(RiskLevel.allCases, prefix: "risk", selected: profile.riskLevel.rawValue, locale: locale)
        }
        return renderer.page("merchant", titleKey: "merchant_title", context: context, data: data, status: status)
    }

    /// A history step in the reader's language ("risk low → high" keeps its levels' stored names).
    func stepName(_ action: String, locale: String) -> String {
        if ["submitted", "approved", "rejected", "reopened"].contains(action) { return renderer.text("merchant_step_\(action)", locale: locale) }
        if action.hasPrefix("risk ") { return renderer.text("merchant_risk", locale: locale) + action.dropFirst(4) }
        return action
    }

    /// A stored file's values for the edit form (the account number is never shown again).
    static func values(_ profile: MerchantProfile) -> [String: Any] {
        let second = profile.contacts.count > 1 ? profile.contacts[1] : nil
        return ["legalName": profile.legalName, "creditCode": profile.creditCode, "mcc": profile.mcc, "areaCode": profile.areaCode,
                "businessHours": profile.businessHours.description, "address": profile.address.address,
                "latitude": degrees(profile.address.latitude), "longitude": degrees(profile.address.longitude),
                "settlementAccountName": profile.settlementAccountName, "settlementBank": profile.settlementBank,
                "contactRole1": profile.contacts.first?.role ?? "", "contactName1": profile.contacts.first?.name ?? "",
                "contactPhone1": profile.contacts.first?.phone ?? "", "contactRole2": second?.role ?? "",
                "contactName2": second?.name ?? "", "contactPhone2": second?.phone ?? "", "mobile": profile.businessType == .mobile,
                "accountOnFile": profile.settlementAccountMasked]
    }

    /// Coordinates as people write them: at most 6 decimals (about 10 cm).
    static func degrees(_ value: Double) -> String {
        value.formatted(.number.precision(.fractionLength(0...6)).grouping(.never))
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MB", Double(bytes) / Double(1 << 20)) : "\(max(1, bytes / 1024)) KB"
    }

    @Sendable func saveProfile(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: OrgID = try context.id("id", resource: "merchant")
        let form = try await forms.decode(ProfileForm.self, request, context, allowing: ["settlementAccount"])
        do {
            if let version = form.version.flatMap({ Int($0) }) {
                _ = try await merchants.update(id, try form.application(), expectedVersion: version, by: principal)
            } else {
                _ = try await merchants.start(id, try form.application(), by: principal)
            }
            return .redirect(to: "/console/merchants/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await filePage(request, context, error: error.message, echo: form.echo, status: ConsoleForms.status(error))
        }
    }

    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: OrgID = try context.id("id", resource: "merchant")
        do {
            let form = try await ConsoleUpload.decode(UploadForm.self, request, missing: "choose a file and its kind")
            guard let kind = DocumentKind(rawValue: form.kind) else { throw DomainError.invalid("kind", "choose the kind of document") }
            _ = try await merchants.upload(id, kind: kind, filename: form.file.filename, bytes: form.file.bytes, by: principal)
            return .redirect(to: "/console/merchants/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await filePage(request, context, error: error.message, echo: nil, status: ConsoleForms.status(error))
        }
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id: OrgID = try context.id("id", resource: "merchant")
        let documentId: DocumentID = try context.id("documentId", resource: "document")
        let (document, bytes) = try await merchants.document(id, documentId, by: try context.requirePrincipal())
        return MerchantAPI.download(document, bytes)
    }

    @Sendable func removeDocument(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: OrgID = try context.id("id", resource: "merchant")
        let documentId: DocumentID = try context.id("documentId", resource: "document")
        _ = try await forms.decode(DeleteForm.self, request, context)
        do {
            try await merchants.removeDocument(id, documentId, by: principal)
            return .redirect(to: "/console/merchants/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await filePage(request, context, error: error.message, echo: nil, status: ConsoleForms.status(error))
        }
    }

    @Sendable func review(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: OrgID = try context.id("id", resource: "merchant")
        let form = try await forms.decode(ReviewForm.self, request, context)
        do {
            let risk = try form.riskLevel.flatMap { raw -> RiskLevel? in
                guard !raw.isEmpty else { return nil }
                guard let level = RiskLevel(rawValue: raw) else { throw DomainError.invalid("riskLevel", "choose a risk level") }
                return level
            }
            switch form.action {
            case "submit": _ = try await merchants.submit(id, by: principal)
            case "approve": _ = try await merchants.approve(id, mid: form.mid, riskLevel: risk, note: form.note, by: principal)
            case "reject": _ = try await merchants.reject(id, reasons: form.note ?? "", by: principal)
            case "reopen": _ = try await merchants.reopen(id, reason: form.note ?? "", by: principal)
            case "risk":
                guard let risk else { throw DomainError.invalid("riskLevel", "choose a risk level") }
                _ = try await merchants.setRisk(id, risk, reason: form.note ?? "", by: principal)
            default: throw DomainError.invalid("action", "unknown review action")
            }
            return .redirect(to: "/console/merchants/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await filePage(request, context, error: error.message, echo: nil, status: ConsoleForms.status(error))
        }
    }
}
