import Foundation
import Hummingbird
import TillyardKit

// MARK: - Bodies

/// A model as the API shows it, with its certification status now.
struct ModelBody: Codable, Sendable {
    var id: String
    var manufacturer: String
    var name: String
    var terminalClass: TerminalClass
    var connectivity: [String]
    var ptsApproval: String
    var ptsExpiry: Date
    var unionPayCertified: Bool
    var unionPayCertificate: String?
    var certification: CertificationStatus
    var createdAt: Date
    var version: Int

    init(_ model: TerminalModel, now: Date) {
        id = model.id.rawValue; manufacturer = model.manufacturer; name = model.name; terminalClass = model.terminalClass
        connectivity = model.connectivity; ptsApproval = model.ptsApproval; ptsExpiry = model.ptsExpiry
        unionPayCertified = model.unionPayCertified; unionPayCertificate = model.unionPayCertificate
        certification = model.certification(at: now); createdAt = model.createdAt; version = model.version
    }
}

/// A terminal as the API shows it; the purchase cost only to those allowed to see costs.
struct TerminalBody: Codable, Sendable {
    var id: String
    var sn: String
    var tid: String
    var modelId: String
    var state: TerminalState
    var ownerId: String
    var transitToOrgId: String?
    var merchantId: String?
    var storeId: String?
    var placement: Placement?
    var installer: String?
    var installedAt: Date?
    var responsiblePerson: String?
    var appVersion: String?
    var firmwareVersion: String?
    var keyCheckValue: String?
    var purchaseCost: Int64?
    var warrantyEnd: Date?
    var notes: String?
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ terminal: Terminal, showCost: Bool) {
        id = terminal.id.rawValue; sn = terminal.sn; tid = terminal.tid; modelId = terminal.modelId.rawValue; state = terminal.state
        ownerId = terminal.orgId.rawValue; transitToOrgId = terminal.transitToOrgId?.rawValue; merchantId = terminal.merchantId?.rawValue
        storeId = terminal.storeId?.rawValue; placement = terminal.placement; installer = terminal.installer
        installedAt = terminal.installedAt; responsiblePerson = terminal.responsiblePerson; appVersion = terminal.appVersion
        firmwareVersion = terminal.firmwareVersion; keyCheckValue = terminal.keyCheckValue
        purchaseCost = showCost ? terminal.purchaseCost : nil; warrantyEnd = terminal.warrantyEnd; notes = terminal.notes
        createdAt = terminal.createdAt; updatedAt = terminal.updatedAt; version = terminal.version
    }
}

/// A binding as the API shows it (masked account only; the fingerprint stays inside).
struct BindingBody: Codable, Sendable {
    var sn: String
    var acquirerCode: String
    var mid: String
    var creditCode: String
    var settlementAccount: String
    var merchantId: String
    var storeId: String?
    var placement: Placement
    var boundAt: Date
    var boundBy: String

    init(_ binding: Binding) {
        sn = binding.sn; acquirerCode = binding.acquirerCode; mid = binding.mid; creditCode = binding.creditCode
        settlementAccount = binding.settlementAccountMasked; merchantId = binding.merchantId.rawValue
        storeId = binding.storeId?.rawValue; placement = binding.placement; boundAt = binding.boundAt; boundBy = binding.boundBy
    }
}

/// The dossier: terminal, model, owner, merchant, binding and history.
struct DossierBody: Codable, Sendable {
    var terminal: TerminalBody
    var model: ModelBody
    var ownerName: String
    var merchantName: String?
    var binding: BindingBody?
    var history: [TerminalEvent]
    var usage: [UsageEntry]
}

/// Result of a CSV import.
struct ImportBody: Codable, Sendable {
    var rows: Int
    var created: Int
    var dryRun: Bool
}

// MARK: - Inputs

struct CreateModelInput: APIInput {
    var manufacturer: String
    var name: String
    var terminalClass: TerminalClass
    var connectivity: [String]?
    var ptsApproval: String
    var ptsExpiry: Date
    var unionPayCertified: Bool
    var unionPayCertificate: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case manufacturer, name, terminalClass, connectivity, ptsApproval, ptsExpiry, unionPayCertified, unionPayCertificate
    }
    typealias Field = CodingKeys
}

struct StockInInput: APIInput {
    var sn: String
    var tid: String
    var modelId: String
    var ownerId: String?
    var responsiblePerson: String?
    var appVersion: String?
    var firmwareVersion: String?
    var keyCheckValue: String?
    var purchaseCost: Int64?
    var warrantyEnd: Date?
    var notes: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case sn, tid, modelId, ownerId, responsiblePerson, appVersion, firmwareVersion, keyCheckValue, purchaseCost, warrantyEnd, notes
    }
    typealias Field = CodingKeys

    func request() throws -> StockIn {
        StockIn(sn: sn, tid: tid, modelId: try ModelID.parse(modelId, field: "modelId"), ownerId: try OrgID.parse(ifPresent: ownerId, field: "ownerId"),
                responsiblePerson: responsiblePerson, appVersion: appVersion, firmwareVersion: firmwareVersion, keyCheckValue: keyCheckValue,
                purchaseCost: purchaseCost, warrantyEnd: warrantyEnd, notes: notes)
    }
}

struct TransferInput: APIInput {
    var terminalIds: [String]
    var destinationId: String
    var reason: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case terminalIds, destinationId, reason }
    typealias Field = CodingKeys
}

struct ReceiptInput: APIInput {
    var terminalIds: [String]
    enum CodingKeys: String, CodingKey, CaseIterable { case terminalIds }
    typealias Field = CodingKeys
}

struct BindInput: APIInput {
    var merchantId: String
    var storeId: String?
    /// The merchant's registered address when absent.
    var placement: Placement?
    enum CodingKeys: String, CodingKey, CaseIterable { case merchantId, storeId, placement }
    typealias Field = CodingKeys
}

struct UsageInput: APIInput {
    var operation: String
    var responsible: String?
    var amount: Int64?
    enum CodingKeys: String, CodingKey, CaseIterable { case operation, responsible, amount }
    typealias Field = CodingKeys
}

struct ReasonInput: APIInput {
    var reason: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case reason }
    typealias Field = CodingKeys
}

struct InstallInput: APIInput {
    var installer: String
    var placement: Placement?
    enum CodingKeys: String, CodingKey, CaseIterable { case installer, placement }
    typealias Field = CodingKeys
}

// MARK: - Routes

/// `/api/v1` routes of the Estate area: models, terminal dossiers, lifecycle, transfers, bindings.
struct EstateAPI {
    let estate: EstateService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let estate = self.estate
        let routes = self.routes
        let clock = estate.clock

        api.get("terminal-models") { request, context in
            let page = try await estate.models(page: try request.pageRequest(), by: try context.requirePrincipal())
            let now = clock.now()
            return try JSONResponse.make(PageBody(page) { ModelBody($0, now: now) })
        }
        api.post("terminal-models") { request, context in
            try await routes.create(request, context) { (input: CreateModelInput, principal) in
                ModelBody(try await estate.createModel(
                    NewTerminalModel(manufacturer: input.manufacturer, name: input.name, terminalClass: input.terminalClass,
                                     connectivity: input.connectivity ?? [], ptsApproval: input.ptsApproval, ptsExpiry: input.ptsExpiry,
                                     unionPayCertified: input.unionPayCertified, unionPayCertificate: input.unionPayCertificate),
                    by: principal), now: clock.now())
            }
        }
        api.get("terminal-models/:id") { _, context in
            let id: ModelID = try context.id("id", resource: "terminal_model")
            return try JSONResponse.make(ModelBody(try await estate.model(id, by: try context.requirePrincipal()), now: clock.now()))
        }

        api.get("terminals") { request, context in
            let principal = try context.requirePrincipal()
            let filter = try await Self.filter(request, estate: estate, principal: principal)
            let page = try await estate.search(filter, page: try request.pageRequest(), by: principal)
            let showCost = principal.can(.estateCosts)
            return try JSONResponse.make(PageBody(page) { TerminalBody($0, showCost: showCost) })
        }
        api.post("terminals") { request, context in
            try await routes.create(request, context) { (input: StockInInput, principal) in
                TerminalBody(try await estate.stockIn(try input.request(), by: principal), showCost: principal.can(.estateCosts))
            }
        }
        api.post("terminals/import") { request, context in
            let principal = try context.requirePrincipal()
            let (data, text) = try await CSVTransfer.upload(request)
            try Self.guardCSV(text)
            let dryRun = request.query("dryRun") == "true"
            return try await routes.idempotency.run(request: request, body: data, principal: principal) {
                let report = try await estate.importTerminals(csv: text, dryRun: dryRun, by: principal)
                return (dryRun ? .ok : .created, try JSONIO.encode(ImportBody(rows: report.rows, created: report.created.count, dryRun: dryRun)))
            }
        }
        api.get("terminals/export.csv") { request, context in
            let principal = try context.requirePrincipal()
            let csv = try await estate.exportTerminals(try await Self.filter(request, estate: estate, principal: principal), by: principal)
            return CSVTransfer.attachment(csv, filename: "terminals.csv")
        }
        api.get("terminals/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id: TerminalID = try context.id("id", resource: "terminal")
            let dossier = try await estate.dossier(id, by: principal)
            return try JSONResponse.make(DossierBody(
                terminal: TerminalBody(dossier.terminal, showCost: principal.can(.estateCosts)),
                model: ModelBody(dossier.model, now: clock.now()), ownerName: dossier.owner.name,
                merchantName: dossier.merchant?.name, binding: dossier.binding.map(BindingBody.init), history: dossier.history,
                usage: dossier.usage))
        }
        api.post("terminals/transfers") { request, context in
            try await routes.create(request, context, status: .ok) { (input: TransferInput, principal) in
                let moved = try await estate.dispatch(try Self.ids(input.terminalIds), to: try OrgID.parse(input.destinationId, field: "destinationId"), reason: input.reason, by: principal)
                return moved.map { TerminalBody($0, showCost: principal.can(.estateCosts)) }
            }
        }
        api.post("terminals/receipts") { request, context in
            try await routes.create(request, context, status: .ok) { (input: ReceiptInput, principal) in
                try await estate.receive(try Self.ids(input.terminalIds), by: principal).map { TerminalBody($0, showCost: principal.can(.estateCosts)) }
            }
        }
        api.post("terminals/:id/bind") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.create(request, context, status: .ok) { (input: BindInput, principal) in
                let bind = BindRequest(merchantId: try OrgID.parse(input.merchantId, field: "merchantId"),
                                       storeId: try OrgID.parse(ifPresent: input.storeId, field: "storeId"), placement: input.placement)
                return TerminalBody(try await estate.bind(id, bind,
                                                          by: principal),
                                    showCost: principal.can(.estateCosts))
            }
        }
        api.post("terminals/:id/usage") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.create(request, context) { (input: UsageInput, principal) in
                try await estate.recordUsage(id, responsible: input.responsible, operation: input.operation, amount: input.amount, by: principal)
            }
        }
        api.post("terminals/:id/install") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.update(request, context) { (input: InstallInput, principal) in
                TerminalBody(try await estate.install(id, installer: input.installer, placement: input.placement, by: principal),
                             showCost: principal.can(.estateCosts))
            }
        }
        // Actions that take only an optional reason.
        let actions: [(String, @Sendable (TerminalID, String?, Principal) async throws -> Terminal)] = [
            ("unbind", { try await estate.unbind($0, reason: $1 ?? "", by: $2) }),
            ("commission", { id, _, principal in try await estate.commission(id, by: principal) }),
            ("remove", { try await estate.remove($0, reason: $1 ?? "", by: $2) }),
            ("return-to-stock", { try await estate.returnToStock($0, reason: $1, by: $2) }),
            ("repair", { try await estate.sendToRepair($0, reason: $1 ?? "", by: $2) }),
            ("repair-return", { try await estate.returnFromRepair($0, note: $1, by: $2) }),
            ("scrap", { try await estate.scrap($0, reason: $1 ?? "", by: $2) }),
            ("cancel-transit", { id, reason, principal in try await estate.cancelTransit([id], reason: reason, by: principal)[0] }),
        ]
        for (name, action) in actions {
            api.post("terminals/:id/\(name)") { request, context in
                let id: TerminalID = try context.id("id", resource: "terminal")
                return try await routes.update(request, context) { (input: ReasonInput, principal) in
                    TerminalBody(try await action(id, input.reason, principal), showCost: principal.can(.estateCosts))
                }
            }
        }
    }

    /// The card-data guard for a CSV body: no cell may look like a card number or track data.
    static func guardCSV(_ text: String) throws {
        try CSV.guardCardData(try CSV.parse(text))
    }

    /// Terminal ids from a request body; a malformed one is a field error.
    static func ids(_ raw: [String]) throws -> [TerminalID] {
        guard !raw.isEmpty, raw.count <= 1000 else { throw DomainError.invalid("terminalIds", "give 1 to 1000 terminal ids") }
        return try raw.enumerated().map { index, text in
            try TerminalID.parse(text, field: "terminalIds.\(index)")
        }
    }

    /// The search filter from query parameters.
    static func filter(_ request: Request, estate: EstateService, principal: Principal) async throws -> TerminalFilter {
        var filter = TerminalFilter(sn: request.query("sn"), tid: request.query("tid"), mid: request.query("mid"),
                                    responsiblePerson: request.query("responsible"), version: request.query("version"))
        filter.state = try request.query("state", as: TerminalState.self)
        filter.modelId = try ModelID.parse(ifPresent: request.query("modelId"), field: "modelId")
        if let org = try OrgID.parse(ifPresent: request.query("orgId"), field: "orgId") {
            filter.orgPath = try await estate.subtreePath(of: org, by: principal)
        }
        return filter
    }
}
