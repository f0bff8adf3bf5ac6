import Foundation

/// Why an inspection task exists.
public enum InspectionReason: String, Codable, Sendable, CaseIterable {
    /// The plan's interval came round (PBOC practice: fixed sites yearly, mobile merchants more often).
    case scheduled
    /// The relocation guard found the terminal away from its placement.
    case relocation
    /// Someone asked for one (a complaint, a suspicion).
    case manual
}

/// Where an inspection task stands.
public enum InspectionState: String, Codable, Sendable, CaseIterable {
    case open
    case done
}

/// What the inspector found.
public enum InspectionOutcome: String, Codable, Sendable, CaseIterable {
    case passed
    /// Small issues fixed or noted on site.
    case issues
    /// The terminal must not stay as it is (missing, tampered with, moved): follow-up needed.
    case failed
}

/// The checklist of a site visit (巡检).
public struct InspectionChecklist: Codable, Sendable, Equatable {
    public var devicePresent: Bool
    public var sealsIntact: Bool
    public var notRelocated: Bool
    public var signage: Bool
    public var testTransaction: Bool

    public init(devicePresent: Bool, sealsIntact: Bool, notRelocated: Bool, signage: Bool, testTransaction: Bool) {
        self.devicePresent = devicePresent
        self.sealsIntact = sealsIntact
        self.notRelocated = notRelocated
        self.signage = signage
        self.testTransaction = testTransaction
    }

    /// Whether every item passed.
    public var allPassed: Bool { devicePresent && sealsIntact && notRelocated && signage && testTransaction }
}

/// A recorded visit: the checklist, where the inspector stood, the outcome.
public struct InspectionRecord: Codable, Sendable, Equatable {
    public var checklist: InspectionChecklist
    public var latitude: Double?
    public var longitude: Double?
    public var outcome: InspectionOutcome
    public var note: String?
    public var inspector: String
    public var at: Date

    public init(checklist: InspectionChecklist, latitude: Double?, longitude: Double?, outcome: InspectionOutcome, note: String?,
                inspector: String, at: Date) {
        self.checklist = checklist
        self.latitude = latitude
        self.longitude = longitude
        self.outcome = outcome
        self.note = note
        self.inspector = inspector
        self.at = at
    }
}

/// One inspection to do (and, once done, its record).
public struct InspectionTask: Codable, Sendable, Equatable {
    public var id: String
    /// The terminal's owner (the inspectors of its subtree see the task).
    public var orgId: OrgID
    public var terminalId: TerminalID
    public var sn: String
    public var merchantId: OrgID?
    public var reason: InspectionReason
    public var state: InspectionState
    public var dueAt: Date
    public var inspectorId: UserID?
    public var inspectorName: String?
    /// The relocation alert behind a relocation task.
    public var alertId: String?
    public var record: InspectionRecord?
    /// Photos of the visit (encrypted in the document vault), taken before or after the record is made.
    public var photos: [TicketAttachment]
    public var createdAt: Date
    public var doneAt: Date?
    public var version: Int

    public init(id: String, orgId: OrgID, terminalId: TerminalID, sn: String, merchantId: OrgID?, reason: InspectionReason,
                state: InspectionState = .open, dueAt: Date, inspectorId: UserID? = nil, inspectorName: String? = nil, alertId: String? = nil,
                record: InspectionRecord? = nil, photos: [TicketAttachment] = [], createdAt: Date, doneAt: Date? = nil, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.terminalId = terminalId
        self.sn = sn
        self.merchantId = merchantId
        self.reason = reason
        self.state = state
        self.dueAt = dueAt
        self.inspectorId = inspectorId
        self.inspectorName = inspectorName
        self.alertId = alertId
        self.record = record
        self.photos = photos
        self.createdAt = createdAt
        self.doneAt = doneAt
        self.version = version
    }
}

/// An acquirer's inspection plan: how often each kind of merchant is visited.
public struct InspectionPlan: Codable, Sendable, Equatable {
    /// Fixed-site merchants: at least once a year.
    public var fixedIntervalDays: Int
    /// Mobile merchants: periodic, more often.
    public var mobileIntervalDays: Int
    /// How long before its due date a task appears on the due list.
    public var leadDays: Int

    public init(fixedIntervalDays: Int = 365, mobileIntervalDays: Int = 90, leadDays: Int = 30) {
        self.fixedIntervalDays = fixedIntervalDays
        self.mobileIntervalDays = mobileIntervalDays
        self.leadDays = leadDays
    }

    /// When a terminal is next due, counted from its last inspection (or its binding).
    public func due(since: Date, businessType: BusinessType) -> Date {
        since.addingTimeInterval(Double(businessType == .mobile ? mobileIntervalDays : fixedIntervalDays) * 86400)
    }

    /// The plan's limits: PBOC practice asks for a yearly visit of fixed sites at least.
    public func checked() throws -> InspectionPlan {
        guard (30...365).contains(fixedIntervalDays) else { throw DomainError.invalid("fixedIntervalDays", "must be from 30 to 365 days") }
        guard (7...365).contains(mobileIntervalDays) else { throw DomainError.invalid("mobileIntervalDays", "must be from 7 to 365 days") }
        guard (0...90).contains(leadDays) else { throw DomainError.invalid("leadDays", "must be from 0 to 90 days") }
        return self
    }
}

/// A deployed terminal without an open inspection task, with what decides its next one.
public struct InspectionCandidate: Sendable, Equatable {
    public var terminalId: TerminalID
    public var sn: String
    public var orgId: OrgID
    public var ownerPath: String
    public var merchantId: OrgID?
    public var businessType: BusinessType
    /// The last finished inspection, else the binding's start.
    public var since: Date

    public init(terminalId: TerminalID, sn: String, orgId: OrgID, ownerPath: String, merchantId: OrgID?, businessType: BusinessType, since: Date) {
        self.terminalId = terminalId
        self.sn = sn
        self.orgId = orgId
        self.ownerPath = ownerPath
        self.merchantId = merchantId
        self.businessType = businessType
        self.since = since
    }
}
