import Foundation

/// Tag for terminal ids.
public enum TerminalTag {}
/// Id of a terminal dossier.
public typealias TerminalID = Identifier<TerminalTag>

/// Where a terminal stands: address and WGS-84 coordinates.
public struct Placement: Codable, Sendable, Equatable {
    public var address: String
    public var latitude: Double
    public var longitude: Double

    public init(address: String, latitude: Double, longitude: Double) {
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// The dossier (档案) of one POS terminal: identity, state, where it is and who answers for it.
///
/// Key material never appears here: only key check values (KCV), which prove which key is
/// loaded without revealing it.
public struct Terminal: Codable, Sendable, Equatable {
    public var id: TerminalID
    /// Owner organisation (warehouse holder: acquirer, region or agent). The terminal is
    /// visible to users of this organisation's subtree and of the bound merchant.
    public var orgId: OrgID
    /// Serial number: one SN, one terminal, across the installation.
    public var sn: String
    /// Terminal id (TID), 8 characters, unique per acquirer.
    public var tid: String
    public var modelId: ModelID
    public var state: TerminalState
    /// Destination while in transit.
    public var transitToOrgId: OrgID?
    /// Merchant and store while bound.
    public var merchantId: OrgID?
    public var storeId: OrgID?
    public var placement: Placement?
    public var installer: String?
    public var installedAt: Date?
    public var responsiblePerson: String?
    public var appVersion: String?
    public var firmwareVersion: String?
    /// Key check values only, e.g. "TMK:1A2B3C".
    public var keyCheckValue: String?
    /// Purchase cost in fen (finance only).
    public var purchaseCost: Int64?
    public var warrantyEnd: Date?
    public var notes: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: TerminalID, orgId: OrgID, sn: String, tid: String, modelId: ModelID, state: TerminalState,
                transitToOrgId: OrgID? = nil, merchantId: OrgID? = nil, storeId: OrgID? = nil, placement: Placement? = nil,
                installer: String? = nil, installedAt: Date? = nil, responsiblePerson: String? = nil,
                appVersion: String? = nil, firmwareVersion: String? = nil, keyCheckValue: String? = nil,
                purchaseCost: Int64? = nil, warrantyEnd: Date? = nil, notes: String? = nil,
                createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.sn = sn
        self.tid = tid
        self.modelId = modelId
        self.state = state
        self.transitToOrgId = transitToOrgId
        self.merchantId = merchantId
        self.storeId = storeId
        self.placement = placement
        self.installer = installer
        self.installedAt = installedAt
        self.responsiblePerson = responsiblePerson
        self.appVersion = appVersion
        self.firmwareVersion = firmwareVersion
        self.keyCheckValue = keyCheckValue
        self.purchaseCost = purchaseCost
        self.warrantyEnd = warrantyEnd
        self.notes = notes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// One line of a terminal's history: every state change, transfer, binding, repair, inspection.
public struct TerminalEvent: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    /// The terminal's version after this event: orders the history exactly, even within a millisecond.
    public var version: Int
    public var orgId: OrgID
    public var at: Date
    public var action: String
    public var fromState: TerminalState?
    public var toState: TerminalState?
    public var actorName: String
    /// Why, in the operator's words (required for removals, repairs, scrapping, unbinding).
    public var reason: String?
    /// Short facts about the event (destination, installer, MID…); never secrets.
    public var details: [String: String]

    public init(id: String, terminalId: TerminalID, version: Int, orgId: OrgID, at: Date, action: String, fromState: TerminalState?,
                toState: TerminalState?, actorName: String, reason: String?, details: [String: String]) {
        self.id = id
        self.terminalId = terminalId
        self.version = version
        self.orgId = orgId
        self.at = at
        self.action = action
        self.fromState = fromState
        self.toState = toState
        self.actorName = actorName
        self.reason = reason
        self.details = details
    }
}
