import Foundation

/// Input for a catalogue model.
public struct NewTerminalModel: Sendable {
    public var manufacturer: String
    public var name: String
    public var terminalClass: TerminalClass
    public var connectivity: [String]
    public var ptsApproval: String
    public var ptsExpiry: Date
    public var unionPayCertified: Bool
    public var unionPayCertificate: String?

    public init(manufacturer: String, name: String, terminalClass: TerminalClass, connectivity: [String], ptsApproval: String,
                ptsExpiry: Date, unionPayCertified: Bool, unionPayCertificate: String?) {
        self.manufacturer = manufacturer
        self.name = name
        self.terminalClass = terminalClass
        self.connectivity = connectivity
        self.ptsApproval = ptsApproval
        self.ptsExpiry = ptsExpiry
        self.unionPayCertified = unionPayCertified
        self.unionPayCertificate = unionPayCertificate
    }
}

/// Input for stocking in one terminal (入库).
public struct StockIn: Sendable {
    public var sn: String
    public var tid: String
    public var modelId: ModelID
    /// Owner organisation; the caller's own when nil.
    public var ownerId: OrgID?
    public var responsiblePerson: String?
    public var appVersion: String?
    public var firmwareVersion: String?
    public var keyCheckValue: String?
    public var purchaseCost: Int64?
    public var warrantyEnd: Date?
    public var notes: String?

    public init(sn: String, tid: String, modelId: ModelID, ownerId: OrgID? = nil, responsiblePerson: String? = nil,
                appVersion: String? = nil, firmwareVersion: String? = nil, keyCheckValue: String? = nil,
                purchaseCost: Int64? = nil, warrantyEnd: Date? = nil, notes: String? = nil) {
        self.sn = sn
        self.tid = tid
        self.modelId = modelId
        self.ownerId = ownerId
        self.responsiblePerson = responsiblePerson
        self.appVersion = appVersion
        self.firmwareVersion = firmwareVersion
        self.keyCheckValue = keyCheckValue
        self.purchaseCost = purchaseCost
        self.warrantyEnd = warrantyEnd
        self.notes = notes
    }
}

/// Input for binding a terminal to a merchant. The merchant's code, credit code and
/// settlement account come from its approved onboarding file, so they cannot be mistyped at
/// the binding and always match what the reviewer checked.
public struct BindRequest: Sendable {
    public var merchantId: OrgID
    public var storeId: OrgID?
    /// Where the terminal will stand; the merchant's registered address when nil.
    public var placement: Placement?

    public init(merchantId: OrgID, storeId: OrgID?, placement: Placement?) {
        self.merchantId = merchantId
        self.storeId = storeId
        self.placement = placement
    }
}

/// Everything the dossier page shows.
public struct Dossier: Sendable {
    public var terminal: Terminal
    public var model: TerminalModel
    public var owner: Organization
    public var merchant: Organization?
    public var binding: Binding?
    public var history: [TerminalEvent]
    /// Usage log, newest first.
    public var usage: [UsageEntry]
}

/// The terminal estate: model catalogue, dossiers, the lifecycle, transfers and bindings.
///
/// Every change runs in one transaction that updates the dossier, appends a history line and
/// appends an audit event, so the history and the audit trail can never disagree with the state.
public struct EstateService: Sendable {
    public let store: any Persistence
    public let clock: Clock
    /// The terminal protocol's memory of terminals: a lifecycle change drops the terminal from it,
    /// so a scrapped or removed terminal is refused at its next request, not after the cache ages.
    public let terminalContexts: TerminalDirectory?

    public init(store: any Persistence, clock: Clock = .system, terminalContexts: TerminalDirectory? = nil) {
        self.store = store
        self.clock = clock
        self.terminalContexts = terminalContexts
    }

    // MARK: - Models

    /// Adds a model to the caller's acquirer catalogue.
    public func createModel(_ input: NewTerminalModel, by principal: Principal) async throws -> TerminalModel {
        try principal.require(.modelsManage)
        let manufacturer = try AccessRules.text(input.manufacturer, field: "manufacturer", max: 100)
        let name = try AccessRules.text(input.name, field: "name", max: 100)
        let approval = try AccessRules.text(input.ptsApproval, field: "ptsApproval", max: 40)
        let connectivity = try input.connectivity.map { try AccessRules.text($0, field: "connectivity", max: 20) }
        let now = clock.now()
        let tenant = Self.tenant(of: principal)
        let model = TerminalModel(id: .generate(now: now), orgId: tenant, manufacturer: manufacturer, name: name,
                                  terminalClass: input.terminalClass, connectivity: connectivity, ptsApproval: approval,
                                  ptsExpiry: input.ptsExpiry, unionPayCertified: input.unionPayCertified,
                                  unionPayCertificate: input.unionPayCertificate?.trimmingCharacters(in: .whitespaces),
                                  createdAt: now, updatedAt: now)
        try await store.write { repos in
            try await repos.models.insert(model)
            _ = try await repos.audit.append(
                AuditDraft(orgId: tenant, actor: principal.actor, action: "model.create", resourceType: "terminal_model",
                           resourceId: model.id.rawValue, origin: principal.origin,
                           summary: ["model": "\(manufacturer) \(name)", "pts": approval, "ptsExpiry": model.ptsExpiry.iso8601]),
                orgPath: "/\(tenant.rawValue)/", at: now)
        }
        return model
    }

    /// The caller's acquirer catalogue.
    public func models(page: PageRequest, by principal: Principal) async throws -> Page<TerminalModel> {
        try principal.require(.estateRead)
        return try await store.read { try await $0.models.list(tenant: Self.tenant(of: principal), page: page) }
    }

    /// One model of the caller's catalogue.
    public func model(_ id: ModelID, by principal: Principal) async throws -> TerminalModel {
        try principal.require(.estateRead)
        guard let model = try await store.read({ try await $0.models.find(id) }), model.orgId == Self.tenant(of: principal) else {
            throw DomainError.notFound(resource: "terminal_model", id: id.rawValue)
        }
        return model
    }

    static func tenant(of principal: Principal) -> OrgID {
        OrgID(rawValue: principal.orgPath.split(separator: "/").first.map(String.init) ?? principal.user.orgId.rawValue)
    }
}
