import Foundation

/// Tag for service ticket ids.
public enum TicketTag {}
/// Id of a service ticket.
public typealias TicketID = Identifier<TicketTag>

/// What a merchant calls about (the hotline's consultation, repair and complaint, and the service
/// provider's installation and training duties).
public enum TicketKind: String, Codable, Sendable, CaseIterable {
    case consultation
    case repair
    case complaint
    case installation
    case training
}

/// How urgent a ticket is; with the kind it sets the SLA.
public enum TicketPriority: String, Codable, Sendable, CaseIterable {
    case low
    case normal
    case high
    case urgent
}

/// Where a ticket came from.
public enum TicketSource: String, Codable, Sendable, CaseIterable {
    /// The service desk took a call (looked up by MID + TID, as callers give them).
    case hotline
    /// The merchant opened it in the console.
    case console
    /// The terminal reported a fault itself (signed `POST /terminal/v1/faults`).
    case terminal
}

/// Where a ticket stands.
public enum TicketState: String, Codable, Sendable, CaseIterable {
    case new
    case assigned
    case inProgress = "in_progress"
    case waitingMerchant = "waiting_merchant"
    case waitingParts = "waiting_parts"
    case resolved
    case closed

    /// Whether the ticket still needs work (counts toward a technician's load and its SLA runs).
    public var isOpen: Bool { self != .resolved && self != .closed }
}

/// Everything that moves a ticket; each is a history line and an audit event.
public enum TicketAction: String, Codable, Sendable, CaseIterable {
    case assign
    case start
    case waitMerchant = "wait_merchant"
    case waitParts = "wait_parts"
    case resume
    case resolve
    case close
    case reopen
}

/// The ticket state machine: which action is legal in which state, and where it leads.
public enum TicketLifecycle {
    /// The legal transitions; anything else is refused with what is allowed.
    public static let transitions: [TicketState: [TicketAction: TicketState]] = [
        .new: [.assign: .assigned, .resolve: .resolved],
        .assigned: [.assign: .assigned, .start: .inProgress, .resolve: .resolved],
        .inProgress: [.assign: .assigned, .waitMerchant: .waitingMerchant, .waitParts: .waitingParts, .resolve: .resolved],
        .waitingMerchant: [.resume: .inProgress, .assign: .assigned, .resolve: .resolved],
        .waitingParts: [.resume: .inProgress, .assign: .assigned, .resolve: .resolved],
        .resolved: [.close: .closed, .reopen: .assigned],
        .closed: [.reopen: .assigned],
    ]

    /// The state after `action`, or a `conflict` naming the state and what it allows.
    public static func next(from state: TicketState, by action: TicketAction) throws -> TicketState {
        if let target = transitions[state]?[action] { return target }
        let allowed = (transitions[state] ?? [:]).keys.map(\.rawValue).sorted()
        throw DomainError.conflict("a \(state.rawValue) ticket cannot \(action.rawValue); allowed now: \(allowed.joined(separator: ", "))")
    }
}

/// Response and fix times of a ticket.
public struct ServiceLevel: Codable, Sendable, Equatable {
    public var responseHours: Double
    public var fixHours: Double

    public init(responseHours: Double, fixHours: Double) {
        self.responseHours = responseHours
        self.fixHours = fixHours
    }
}

/// Rules of the service desk: SLAs, auto-close, text limits.
public enum ServiceRules {
    /// Normal-priority targets per kind: a repair is answered within 4 h and fixed within 24 h.
    public static let normalLevels: [TicketKind: ServiceLevel] = [
        .consultation: ServiceLevel(responseHours: 2, fixHours: 8),
        .repair: ServiceLevel(responseHours: 4, fixHours: 24),
        .complaint: ServiceLevel(responseHours: 4, fixHours: 48),
        .installation: ServiceLevel(responseHours: 24, fixHours: 72),
        .training: ServiceLevel(responseHours: 24, fixHours: 120),
    ]

    /// How priority scales the normal targets (urgent halves them, low doubles them).
    public static let priorityFactor: [TicketPriority: Double] = [.low: 2, .normal: 1, .high: 0.75, .urgent: 0.5]

    /// A resolved ticket the merchant neither confirms nor reopens closes itself after this many days.
    public static let autoCloseDays = 7

    /// The SLA of a kind and priority.
    public static func level(_ kind: TicketKind, _ priority: TicketPriority) -> ServiceLevel {
        let base = normalLevels[kind] ?? ServiceLevel(responseHours: 4, fixHours: 24)
        let factor = priorityFactor[priority] ?? 1
        return ServiceLevel(responseHours: base.responseHours * factor, fixHours: base.fixHours * factor)
    }

    /// Which of a ticket's targets are missed at `now`: a response is missed when the ticket was not
    /// started by its due time, a fix when it was not resolved by its due time. While the ticket waits
    /// for the merchant or for parts its clock stands at the moment the wait began.
    public static func breaches(_ ticket: ServiceTicket, at now: Date) -> (response: Bool, fix: Bool) {
        let clock = ticket.pausedAt.map { min($0, now) } ?? now
        // Resolving stamps the response too, so a ticket settled on the phone is never "unanswered".
        return ((ticket.respondedAt ?? clock) > ticket.responseDueAt, (ticket.resolvedAt ?? clock) > ticket.fixDueAt)
    }

    /// Whether the SLA clock stands still in `state` (the ticket waits for someone else).
    public static func pauses(_ state: TicketState) -> Bool { state == .waitingMerchant || state == .waitingParts }

    /// Stops or restarts a ticket's SLA clock for a move into `state` at `now`: entering a waiting state
    /// notes when; leaving it moves both due times on by the wait and adds it to `pausedSeconds`.
    public static func moveClock(_ ticket: inout ServiceTicket, into state: TicketState, at now: Date) {
        if pauses(state) {
            if ticket.pausedAt == nil { ticket.pausedAt = now }
            return
        }
        guard let since = ticket.pausedAt else { return }
        let waited = max(0, now.timeIntervalSince(since))
        ticket.responseDueAt = ticket.responseDueAt.addingTimeInterval(waited)
        ticket.fixDueAt = ticket.fixDueAt.addingTimeInterval(waited)
        ticket.pausedSeconds = (ticket.pausedSeconds ?? 0) + waited
        ticket.pausedAt = nil
    }

    /// A required or optional free text, trimmed, at most `max` characters.
    public static func text(_ raw: String?, field: String, max: Int, required: Bool) throws -> String? {
        guard let raw, !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            if required { throw DomainError.invalid(field, "is required") }
            return nil
        }
        return try AccessRules.text(raw, field: field, max: max)
    }
}

/// One row of an SLA table: the targets of one kind and priority.
public struct ServiceLevelEntry: Codable, Sendable, Equatable {
    public var kind: TicketKind
    public var priority: TicketPriority
    public var responseHours: Double
    public var fixHours: Double

    public init(kind: TicketKind, priority: TicketPriority, responseHours: Double, fixHours: Double) {
        self.kind = kind
        self.priority = priority
        self.responseHours = responseHours
        self.fixHours = fixHours
    }
}

/// An acquirer's SLA table, one entry per kind × priority. Until an acquirer saves one, its tickets
/// take `ServiceLevelTable.defaults` (`ServiceRules.level`); a ticket keeps the targets it opened with.
public struct ServiceLevelTable: Codable, Sendable, Equatable {
    public var levels: [ServiceLevelEntry]

    public init(levels: [ServiceLevelEntry]) { self.levels = levels }

    /// The built-in table: the normal targets per kind scaled by `ServiceRules.priorityFactor`.
    public static let defaults = ServiceLevelTable(levels: TicketKind.allCases.flatMap { kind in
        TicketPriority.allCases.map { priority in
            let level = ServiceRules.level(kind, priority)
            return ServiceLevelEntry(kind: kind, priority: priority, responseHours: level.responseHours, fixHours: level.fixHours)
        }
    })

    /// Longest target a table may set (a year).
    public static let maxHours = 8760.0

    /// The targets of a kind and priority (the built-in ones for a row the table lacks).
    public func level(_ kind: TicketKind, _ priority: TicketPriority) -> ServiceLevel {
        guard let entry = levels.first(where: { $0.kind == kind && $0.priority == priority }) else { return ServiceRules.level(kind, priority) }
        return ServiceLevel(responseHours: entry.responseHours, fixHours: entry.fixHours)
    }

    /// The table in the order of `defaults`, checked: every kind × priority exactly once, hours
    /// positive (at most a year) and the response no later than the fix. Problems name the row.
    public func checked() throws -> ServiceLevelTable {
        var seen = Set<String>()
        for (index, entry) in levels.enumerated() {
            let field = "levels.\(index)"
            guard seen.insert("\(entry.kind.rawValue)/\(entry.priority.rawValue)").inserted else {
                throw DomainError.invalid(field, "\(entry.kind.rawValue) / \(entry.priority.rawValue) is given twice")
            }
            for (name, hours) in [("responseHours", entry.responseHours), ("fixHours", entry.fixHours)] {
                guard hours.isFinite, hours > 0, hours <= Self.maxHours else {
                    throw DomainError.invalid("\(field).\(name)", "must be more than 0 and at most \(Int(Self.maxHours)) hours")
                }
            }
            guard entry.responseHours <= entry.fixHours else {
                throw DomainError.invalid("\(field).responseHours", "the response target must not be later than the fix target")
            }
        }
        let missing = Self.defaults.levels.filter { !seen.contains("\($0.kind.rawValue)/\($0.priority.rawValue)") }
        if let first = missing.first {
            throw DomainError.invalid("levels", "give every kind and priority; missing \(first.kind.rawValue) / \(first.priority.rawValue)")
        }
        let order = Self.defaults.levels.map { "\($0.kind.rawValue)/\($0.priority.rawValue)" }
        return ServiceLevelTable(levels: levels.sorted {
            (order.firstIndex(of: "\($0.kind.rawValue)/\($0.priority.rawValue)") ?? 0) < (order.firstIndex(of: "\($1.kind.rawValue)/\($1.priority.rawValue)") ?? 0)
        })
    }
}

/// A terminal's diagnosis.
public enum RepairDiagnosis: String, Codable, Sendable, CaseIterable {
    case hardware
    case software
}

/// What a technician did about a repair ticket; a swap-out names the replacement bound in the same step.
public struct RepairRecord: Codable, Sendable, Equatable {
    public var diagnosis: RepairDiagnosis
    public var parts: [String]
    public var result: String
    /// The terminal that replaced the faulty one at the merchant (which went to repair).
    public var replacementTerminalId: TerminalID?
    public var replacementSn: String?
    public var by: String
    public var at: Date

    public init(diagnosis: RepairDiagnosis, parts: [String], result: String, replacementTerminalId: TerminalID?, replacementSn: String?,
                by: String, at: Date) {
        self.diagnosis = diagnosis
        self.parts = parts
        self.result = result
        self.replacementTerminalId = replacementTerminalId
        self.replacementSn = replacementSn
        self.by = by
        self.at = at
    }
}

/// A photo or document attached to a ticket; the bytes are kept encrypted in the document vault.
public struct TicketAttachment: Codable, Sendable, Equatable {
    public var id: DocumentID
    public var filename: String
    public var format: DocumentFormat
    public var size: Int
    public var sha256: String
    public var uploadedBy: String
    public var uploadedAt: Date

    public init(id: DocumentID, filename: String, format: DocumentFormat, size: Int, sha256: String, uploadedBy: String, uploadedAt: Date) {
        self.id = id
        self.filename = filename
        self.format = format
        self.size = size
        self.sha256 = sha256
        self.uploadedBy = uploadedBy
        self.uploadedAt = uploadedAt
    }
}

/// A service ticket: who called about what, who works on it, its SLA and how it ended.
public struct ServiceTicket: Codable, Sendable, Equatable {
    public var id: TicketID
    /// The organisation that answers for it: the terminal's owner, else the merchant.
    public var orgId: OrgID
    public var merchantId: OrgID
    public var merchantName: String
    public var mid: String?
    public var terminalId: TerminalID?
    public var sn: String?
    public var tid: String?
    public var kind: TicketKind
    public var priority: TicketPriority
    public var source: TicketSource
    public var state: TicketState
    public var caller: String
    public var callerPhone: String?
    public var symptom: String
    public var assigneeId: UserID?
    public var assigneeName: String?
    public var openedBy: String
    public var openedAt: Date
    public var responseDueAt: Date
    public var fixDueAt: Date
    /// When work started (the response the SLA measures).
    public var respondedAt: Date?
    public var resolvedAt: Date?
    public var closedAt: Date?
    public var resolution: String?
    /// Set once, by `tick`, when a target was missed: who was told.
    public var escalatedAt: Date?
    public var escalatedTo: String?
    /// Since when the SLA clock stands still (the ticket waits for the merchant or for parts).
    public var pausedAt: Date?
    /// Seconds the ticket has waited in all (its due times were moved on by as much); nil = never.
    public var pausedSeconds: Double?
    public var repair: RepairRecord?
    public var rating: Int?
    public var ratingComment: String?
    public var articleIds: [String]
    public var attachments: [TicketAttachment]
    public var updatedAt: Date
    public var version: Int

    public init(id: TicketID, orgId: OrgID, merchantId: OrgID, merchantName: String, mid: String?, terminalId: TerminalID?, sn: String?,
                tid: String?, kind: TicketKind, priority: TicketPriority, source: TicketSource, state: TicketState = .new, caller: String,
                callerPhone: String?, symptom: String, assigneeId: UserID? = nil, assigneeName: String? = nil, openedBy: String, openedAt: Date,
                responseDueAt: Date, fixDueAt: Date, respondedAt: Date? = nil, resolvedAt: Date? = nil, closedAt: Date? = nil,
                resolution: String? = nil, escalatedAt: Date? = nil, escalatedTo: String? = nil, pausedAt: Date? = nil,
                pausedSeconds: Double? = nil, repair: RepairRecord? = nil,
                rating: Int? = nil, ratingComment: String? = nil, articleIds: [String] = [], attachments: [TicketAttachment] = [],
                updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.merchantId = merchantId
        self.merchantName = merchantName
        self.mid = mid
        self.terminalId = terminalId
        self.sn = sn
        self.tid = tid
        self.kind = kind
        self.priority = priority
        self.source = source
        self.state = state
        self.caller = caller
        self.callerPhone = callerPhone
        self.symptom = symptom
        self.assigneeId = assigneeId
        self.assigneeName = assigneeName
        self.openedBy = openedBy
        self.openedAt = openedAt
        self.responseDueAt = responseDueAt
        self.fixDueAt = fixDueAt
        self.respondedAt = respondedAt
        self.resolvedAt = resolvedAt
        self.closedAt = closedAt
        self.resolution = resolution
        self.escalatedAt = escalatedAt
        self.escalatedTo = escalatedTo
        self.pausedAt = pausedAt
        self.pausedSeconds = pausedSeconds
        self.repair = repair
        self.rating = rating
        self.ratingComment = ratingComment
        self.articleIds = articleIds
        self.attachments = attachments
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// One line of a ticket's history.
public struct TicketEvent: Codable, Sendable, Equatable {
    public var id: String
    public var ticketId: TicketID
    /// The ticket's version after this event: orders the history exactly, even within a millisecond.
    public var version: Int
    public var at: Date
    public var actor: String
    public var action: String
    public var fromState: TicketState?
    public var toState: TicketState?
    public var note: String?

    public init(id: String, ticketId: TicketID, version: Int, at: Date, actor: String, action: String, fromState: TicketState?,
                toState: TicketState?, note: String?) {
        self.id = id
        self.ticketId = ticketId
        self.version = version
        self.at = at
        self.actor = actor
        self.action = action
        self.fromState = fromState
        self.toState = toState
        self.note = note
    }
}

/// Filter of the ticket list.
public struct TicketFilter: Sendable, Equatable {
    public var state: TicketState?
    public var kind: TicketKind?
    public var assigneeId: UserID?
    public var terminalId: TerminalID?
    /// Only tickets still needing work.
    public var openOnly: Bool
    /// Only open tickets past a due time at this instant.
    public var overdueAt: Date?

    public init(state: TicketState? = nil, kind: TicketKind? = nil, assigneeId: UserID? = nil, terminalId: TerminalID? = nil,
                openOnly: Bool = false, overdueAt: Date? = nil) {
        self.state = state
        self.kind = kind
        self.assigneeId = assigneeId
        self.terminalId = terminalId
        self.openOnly = openOnly
        self.overdueAt = overdueAt
    }
}

/// Closed tickets and ratings of one technician.
public struct TechnicianFigures: Codable, Sendable, Equatable {
    public var assigneeId: UserID
    public var assigneeName: String
    public var open: Int
    public var resolved: Int
    public var rated: Int
    /// Mean rating (1–5) of the rated tickets, nil when none is rated.
    public var averageRating: Double?
    public var fixBreaches: Int

    public init(assigneeId: UserID, assigneeName: String, open: Int, resolved: Int, rated: Int, averageRating: Double?, fixBreaches: Int) {
        self.assigneeId = assigneeId
        self.assigneeName = assigneeName
        self.open = open
        self.resolved = resolved
        self.rated = rated
        self.averageRating = averageRating
        self.fixBreaches = fixBreaches
    }
}

/// A short knowledge-base article (training material for merchants), linked from consultation tickets.
public struct KnowledgeArticle: Codable, Sendable, Equatable {
    public var id: String
    public var orgId: OrgID
    public var title: String
    public var body: String
    public var tags: [String]
    public var updatedBy: String
    public var updatedAt: Date
    public var version: Int

    public init(id: String, orgId: OrgID, title: String, body: String, tags: [String], updatedBy: String, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.title = title
        self.body = body
        self.tags = tags
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// Storage of the service desk: tickets with their history, knowledge articles, inspections.
public protocol ServiceRepository: Sendable {
    /// Stores a new ticket; `orgPath` is the answering organisation's, `merchantPath` the merchant's (both scope it).
    func insertTicket(_ ticket: ServiceTicket, orgPath: String, merchantPath: String) async throws
    func ticket(_ id: TicketID) async throws -> (ticket: ServiceTicket, orgPath: String, merchantPath: String)?
    /// Optimistic update: `ticket.version` must be the stored version + 1; else `conflict`.
    func updateTicket(_ ticket: ServiceTicket) async throws
    /// Tickets visible under `path` (answering organisation or merchant in the subtree), newest first.
    func tickets(visibleUnder path: String, filter: TicketFilter, page: PageRequest) async throws -> Page<ServiceTicket>
    func recordTicketEvent(_ event: TicketEvent) async throws
    /// A ticket's history, oldest first (by the ticket version each event made).
    func ticketEvents(_ id: TicketID) async throws -> [TicketEvent]
    /// Open tickets per assignee, for the least-loaded suggestion.
    func openLoad(of assignees: [UserID]) async throws -> [UserID: Int]
    /// Open tickets past a due time and not yet escalated, oldest first, at most `limit`.
    func breachedUnescalated(at now: Date, limit: Int) async throws -> [ServiceTicket]
    /// Resolved tickets resolved before `before`, at most `limit`.
    func resolvedBefore(_ before: Date, limit: Int) async throws -> [ServiceTicket]
    /// Figures per assignee of tickets visible under `path`.
    func technicianFigures(visibleUnder path: String, at now: Date) async throws -> [TechnicianFigures]

    func insertArticle(_ article: KnowledgeArticle, orgPath: String) async throws
    func article(_ id: String) async throws -> (article: KnowledgeArticle, orgPath: String)?
    /// Optimistic update as for tickets.
    func updateArticle(_ article: KnowledgeArticle) async throws
    /// Articles of an acquirer's tree (they serve all of it, merchants included), newest first.
    func articles(root: OrgID, page: PageRequest) async throws -> Page<KnowledgeArticle>

    /// Stores a task unless the terminal already has an open one (then false).
    func insertInspection(_ task: InspectionTask, orgPath: String) async throws -> Bool
    func inspection(_ id: String) async throws -> (task: InspectionTask, orgPath: String)?
    /// Optimistic update as for tickets.
    func updateInspection(_ task: InspectionTask) async throws
    /// Open tasks under `path` (for one inspector: theirs and the unassigned), by due date.
    func dueInspections(under path: String, inspector: UserID?, before: Date?, limit: Int) async throws -> [InspectionTask]
    /// Inspections of one terminal, newest first.
    func inspections(of terminal: TerminalID, limit: Int) async throws -> [InspectionTask]
    /// Deployed terminals with no open task, after `after` by id, with what decides their next inspection.
    func inspectionCandidates(after: String?, limit: Int) async throws -> [InspectionCandidate]
    func inspectionPlan(of acquirer: OrgID) async throws -> InspectionPlan?
    func saveInspectionPlan(_ plan: InspectionPlan, of acquirer: OrgID, by: String, at: Date) async throws

    /// The acquirer's saved SLA table, nil until one is saved.
    func serviceLevels(of acquirer: OrgID) async throws -> ServiceLevelTable?
    func saveServiceLevels(_ table: ServiceLevelTable, of acquirer: OrgID, by: String, at: Date) async throws
}
