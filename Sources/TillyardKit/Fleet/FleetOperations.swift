import Foundation

/// A parameter template as stored: a layer (level, target, values) with who changed it last.
public struct ParameterTemplate: Codable, Sendable, Equatable {
    public var level: ParameterLevel
    /// The acquirer's id for the defaults, else the model, organisation or terminal id.
    public var target: String
    /// Starts at 1 and grows with every change; a change names the version it replaces.
    public var version: Int
    /// A nil value removes a key a more general template set.
    public var values: [String: String?]
    public var updatedBy: String
    public var updatedAt: Date

    public init(level: ParameterLevel, target: String, version: Int, values: [String: String?], updatedBy: String, updatedAt: Date) {
        self.level = level
        self.target = target
        self.version = version
        self.values = values
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// The template as a layer of a terminal's inheritance (`depth` orders regions top-down).
    public func layer(depth: Int = 0) -> ParameterLayer {
        ParameterLayer(level: level, target: target, depth: depth, version: version, values: values)
    }
}

/// Why a terminal is locked.
public enum LockCause: String, Codable, Sendable, CaseIterable {
    /// An operator locked it (lost, suspected fraud, unpaid rent…).
    case `operator`
    /// The relocation guard blocked it under a "block" policy until an inspector clears the alert.
    case relocation
    /// A risk rule with the block action fired (an operator unlocks it after the investigation).
    case risk
}

/// A terminal that must not start transactions: the server refuses its new ones and tells it so
/// in every heartbeat reply.
public struct TerminalLock: Codable, Sendable, Equatable {
    public var terminalId: TerminalID
    public var cause: LockCause
    public var reason: String?
    /// The relocation alert behind a relocation block.
    public var alertId: String?
    public var lockedBy: String
    public var lockedAt: Date

    public init(terminalId: TerminalID, cause: LockCause, reason: String?, alertId: String? = nil, lockedBy: String, lockedAt: Date) {
        self.terminalId = terminalId
        self.cause = cause
        self.reason = reason
        self.alertId = alertId
        self.lockedBy = lockedBy
        self.lockedAt = lockedAt
    }
}

/// Where a relocation alert stands.
public enum AlertState: String, Codable, Sendable, CaseIterable {
    case open
    /// An inspector looked and cleared it (the terminal had a reason to be there, or was moved back).
    case cleared
}

/// A terminal reported far from its placement: the finding with its evidence, and its handling.
public struct RelocationAlert: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    public var sn: String
    public var state: AlertState
    public var finding: RelocationFinding
    public var raisedAt: Date
    public var clearedAt: Date?
    public var clearedBy: String?
    public var clearNote: String?

    public init(id: String, terminalId: TerminalID, sn: String, state: AlertState = .open, finding: RelocationFinding, raisedAt: Date,
                clearedAt: Date? = nil, clearedBy: String? = nil, clearNote: String? = nil) {
        self.id = id
        self.terminalId = terminalId
        self.sn = sn
        self.state = state
        self.finding = finding
        self.raisedAt = raisedAt
        self.clearedAt = clearedAt
        self.clearedBy = clearedBy
        self.clearNote = clearNote
    }
}

/// A terminal transaction as stored, with the terminal that made it.
public struct StoredTerminalTransaction: Codable, Sendable, Equatable {
    public var terminalId: TerminalID
    public var transaction: TerminalTransaction
    public var receivedAt: Date

    public init(terminalId: TerminalID, transaction: TerminalTransaction, receivedAt: Date) {
        self.terminalId = terminalId
        self.transaction = transaction
        self.receivedAt = receivedAt
    }
}

/// Online and silent terminals of one organisation (the terminals it owns directly).
public struct FleetPresence: Codable, Sendable, Equatable {
    public var orgId: OrgID
    /// Terminals at merchants (bound, installed or in service).
    public var deployed: Int
    public var online: Int
    /// Deployed terminals never heard from.
    public var neverSeen: Int

    public init(orgId: OrgID, deployed: Int, online: Int, neverSeen: Int) {
        self.orgId = orgId
        self.deployed = deployed
        self.online = online
        self.neverSeen = neverSeen
    }
}

/// Storage of fleet operations: parameter templates, commands, locks, relocation policies and
/// alerts, and uploaded terminal transactions.
public protocol FleetOperationsRepository: Sendable {
    func template(level: ParameterLevel, target: String) async throws -> ParameterTemplate?
    /// Stores a template if the stored version is still `replacing` (0 when it must not exist yet);
    /// false when someone changed it meanwhile.
    func saveTemplate(_ template: ParameterTemplate, orgPath: String, replacing: Int) async throws -> Bool
    /// Deletes a template if its version is still `version`.
    func deleteTemplate(level: ParameterLevel, target: String, version: Int) async throws -> Bool
    /// Templates owned in a subtree, optionally of one level, ordered by level and target.
    func templates(under path: String, level: ParameterLevel?, limit: Int) async throws -> [ParameterTemplate]
    /// The templates of the given (level, target) pairs that exist, in one query.
    func templates(for targets: [(ParameterLevel, String)]) async throws -> [ParameterTemplate]

    func insertCommand(_ command: TerminalCommand) async throws
    /// Commands the terminal has not acknowledged, oldest first.
    func pendingCommands(of terminal: TerminalID) async throws -> [TerminalCommand]
    /// A terminal's commands, newest first.
    func commands(of terminal: TerminalID, limit: Int) async throws -> [TerminalCommand]
    /// Records the terminal's acknowledgement; false when the command is unknown, another
    /// terminal's, or was already acknowledged.
    func completeCommand(_ id: String, terminal: TerminalID, at: Date, outcome: CommandOutcome, detail: String?) async throws -> Bool

    func lock(of terminal: TerminalID) async throws -> TerminalLock?
    /// Sets (or replaces) a terminal's lock.
    func setLock(_ lock: TerminalLock) async throws
    func removeLock(of terminal: TerminalID) async throws

    func relocationPolicy(of acquirer: OrgID) async throws -> RelocationPolicy?
    func saveRelocationPolicy(_ policy: RelocationPolicy, of acquirer: OrgID, by: String, at: Date) async throws

    /// Stores an alert unless the terminal already has an open one (then false).
    func insertAlert(_ alert: RelocationAlert, orgPath: String) async throws -> Bool
    func alert(_ id: String) async throws -> (alert: RelocationAlert, orgPath: String)?
    func openAlert(of terminal: TerminalID) async throws -> RelocationAlert?
    /// Alerts in a subtree, newest first, optionally in one state.
    func alerts(under path: String, state: AlertState?, limit: Int) async throws -> [RelocationAlert]
    /// Clears an open alert; false when it was not open.
    func clearAlert(_ id: String, by: String, at: Date, note: String) async throws -> Bool

    /// Stores transactions not stored before; returns the ids stored now (the rest were duplicates).
    /// `cardHashes` maps transaction ids to their card identity (`CardIdentity`).
    func insertTransactions(_ transactions: [TerminalTransaction], cardHashes: [String: String], terminal: TerminalID, orgPath: String,
                            merchantId: OrgID?, receivedAt: Date) async throws -> Set<String>
    /// A terminal's transactions, newest first.
    func transactions(of terminal: TerminalID, limit: Int) async throws -> [StoredTerminalTransaction]

    /// Deployed, online and never-seen terminals per owning organisation in a subtree.
    func presence(under path: String, onlineSince: Date) async throws -> [FleetPresence]
}
