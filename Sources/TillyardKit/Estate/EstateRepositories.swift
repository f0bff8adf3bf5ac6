import Foundation

/// Filter for terminal search. All given criteria must match.
public struct TerminalFilter: Sendable, Equatable {
    /// Serial number prefix.
    public var sn: String?
    public var tid: String?
    /// Merchant code of the active binding.
    public var mid: String?
    public var state: TerminalState?
    public var modelId: ModelID?
    /// Only terminals owned by, or bound within, this organisation's subtree (e.g. a region).
    public var orgPath: String?
    public var responsiblePerson: String?
    /// App or firmware version, exact.
    public var version: String?

    public init(sn: String? = nil, tid: String? = nil, mid: String? = nil, state: TerminalState? = nil, modelId: ModelID? = nil,
                orgPath: String? = nil, responsiblePerson: String? = nil, version: String? = nil) {
        self.sn = sn
        self.tid = tid
        self.mid = mid
        self.state = state
        self.modelId = modelId
        self.orgPath = orgPath
        self.responsiblePerson = responsiblePerson
        self.version = version
    }
}

/// Terminal model catalogue storage.
public protocol TerminalModelRepository: Sendable {
    func insert(_ model: TerminalModel) async throws
    func find(_ id: ModelID) async throws -> TerminalModel?
    /// Models of a tenant (acquirer), newest first.
    func list(tenant: OrgID, page: PageRequest) async throws -> Page<TerminalModel>
    func update(_ model: TerminalModel) async throws
}

/// Terminal dossier storage. Visibility is by path: a terminal is visible under `path` when
/// its owner or its bound merchant lies in that subtree.
public protocol TerminalRepository: Sendable {
    /// Inserts; a taken SN or (tenant, TID) is a `conflict`.
    func insert(_ terminal: Terminal, ownerPath: String, tenant: OrgID) async throws
    func find(_ id: TerminalID) async throws -> Terminal?
    func find(sn: String) async throws -> Terminal?
    /// The terminal of an acquirer with this TID.
    func find(tenant: OrgID, tid: String) async throws -> Terminal?
    /// Optimistic update (version must be stored + 1); paths are re-stored with the row.
    func update(_ terminal: Terminal, ownerPath: String, merchantPath: String?) async throws
    func search(visibleUnder path: String, filter: TerminalFilter, page: PageRequest) async throws -> Page<Terminal>
    func count(visibleUnder path: String, state: TerminalState?) async throws -> Int
    /// Appends one history line.
    func record(_ event: TerminalEvent) async throws
    /// History of a terminal, newest first.
    func history(_ id: TerminalID, limit: Int) async throws -> [TerminalEvent]
}

/// Binding storage: at most one open binding per terminal.
public protocol BindingRepository: Sendable {
    func insert(_ binding: Binding) async throws
    /// The open binding of a terminal.
    func active(for terminal: TerminalID) async throws -> Binding?
    func close(_ id: String, at: Date, by: String, reason: String) async throws
    func all(for terminal: TerminalID) async throws -> [Binding]
}
