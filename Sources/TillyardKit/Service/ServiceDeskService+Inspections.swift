import Foundation

/// Input of an inspection visit.
public struct InspectionInput: Sendable {
    public var checklist: InspectionChecklist
    public var latitude: Double?
    public var longitude: Double?
    public var outcome: InspectionOutcome
    public var note: String?

    public init(checklist: InspectionChecklist, latitude: Double?, longitude: Double?, outcome: InspectionOutcome, note: String?) {
        self.checklist = checklist
        self.latitude = latitude
        self.longitude = longitude
        self.outcome = outcome
        self.note = note
    }
}

/// Inspections (巡检): the acquirer's plan, tasks planned by `tick` and raised by relocation alerts,
/// due lists per inspector, and the visit's record, which lands in the terminal's dossier history.
extension ServiceDeskService {
    /// The caller's acquirer's plan (the defaults until one is saved).
    public func inspectionPlan(by principal: Principal) async throws -> InspectionPlan {
        try principal.require(.serviceRead)
        return try await store.read { try await $0.service.inspectionPlan(of: principal.rootId) } ?? InspectionPlan()
    }

    /// Sets the acquirer's plan (people at the top of its tree).
    public func saveInspectionPlan(_ plan: InspectionPlan, by principal: Principal) async throws -> InspectionPlan {
        try Self.requireAcquirerTop(principal, .inspectionsManage, setting: "inspection plan")
        let plan = try plan.checked()
        let now = clock.now()
        try await store.write { repos in
            try await repos.service.saveInspectionPlan(plan, of: principal.rootId, by: principal.user.username, at: now)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.rootId, actor: principal.actor, action: "inspection.plan", resourceType: "organization",
                           resourceId: principal.rootId.rawValue, origin: principal.origin,
                           summary: ["fixed": String(plan.fixedIntervalDays), "mobile": String(plan.mobileIntervalDays), "lead": String(plan.leadDays)]),
                orgPath: principal.orgPath, at: now)
        }
        return plan
    }

    /// Open inspection tasks in the caller's subtree by due date. `mine` narrows them to the caller's
    /// own and the unassigned (an inspector's due list); `before` to those due by then.
    public func dueInspections(mine: Bool, before: Date? = nil, limit: Int = 200, by principal: Principal) async throws -> [InspectionTask] {
        try principal.require(.serviceRead)
        return try await store.read {
            try await $0.service.dueInspections(under: principal.orgPath, inspector: mine ? principal.user.id : nil, before: before,
                                                limit: min(max(limit, 1), 500))
        }
    }

    /// A task the caller sees.
    public func inspection(_ id: String, by principal: Principal) async throws -> InspectionTask {
        try principal.require(.serviceRead)
        return try await store.read { try await Self.visibleInspection(id, repos: $0, principal: principal).0 }
    }

    /// A terminal's inspections, newest first.
    public func inspections(of terminal: TerminalID, by principal: Principal) async throws -> [InspectionTask] {
        try principal.require(.serviceRead)
        return try await store.read { repos in
            _ = try await EstateService.visible(terminal, repos: repos, principal: principal, ownerMustBeVisible: false)
            return try await repos.service.inspections(of: terminal, limit: 100)
        }
    }

    static func visibleInspection(_ id: String, repos: any Repositories, principal: Principal) async throws -> (InspectionTask, String) {
        guard let (task, orgPath) = try await repos.service.inspection(id), principal.sees(path: orgPath) else {
            throw DomainError.notFound(resource: "inspection", id: id)
        }
        return (task, orgPath)
    }

    /// Asks for an inspection of a terminal now (a complaint, a suspicion); one open task per terminal.
    public func requestInspection(of terminalId: TerminalID, note: String?, by principal: Principal) async throws -> InspectionTask {
        try principal.require(.inspectionsManage)
        let note = try ServiceRules.text(note, field: "note", max: 500, required: false)
        let now = clock.now()
        return try await store.write { repos in
            let (terminal, owner, _) = try await EstateService.visible(terminalId, repos: repos, principal: principal, ownerMustBeVisible: true)
            let task = InspectionTask(id: UUIDv7.make(now: now), orgId: owner.id, terminalId: terminal.id, sn: terminal.sn,
                                      merchantId: terminal.merchantId, reason: .manual, dueAt: now, createdAt: now)
            guard try await repos.service.insertInspection(task, orgPath: owner.path) else {
                throw DomainError.conflict("terminal \(terminal.sn) already has an open inspection task")
            }
            _ = try await repos.audit.append(
                AuditDraft(orgId: owner.id, actor: principal.actor, action: "inspection.request", resourceType: "inspection", resourceId: task.id,
                           origin: principal.origin, summary: ["sn": terminal.sn, "note": note ?? ""]),
                orgPath: owner.path, at: now)
            return task
        }
    }

    /// Gives an open task to an inspector (or technician) who works for the terminal's organisation.
    public func assignInspection(_ id: String, to inspector: UserID, version: Int, by principal: Principal) async throws -> InspectionTask {
        try principal.require(.inspectionsManage)
        let now = clock.now()
        return try await store.write { repos in
            let (task, orgPath) = try await Self.visibleInspection(id, repos: repos, principal: principal)
            guard task.version == version else { throw DomainError.conflict("the task changed since version \(version); reload it") }
            guard task.state == .open else { throw DomainError.conflict("the inspection is done") }
            guard let chosen = try await Self.candidates(orgPath: orgPath, repos: repos).first(where: { $0.userId == inspector }) else {
                throw DomainError.invalid("inspectorId", "must be an inspector or technician of the terminal's organisation")
            }
            var changed = task
            changed.inspectorId = chosen.userId
            changed.inspectorName = chosen.displayName
            changed.version += 1
            try await repos.service.updateInspection(changed)
            _ = try await repos.audit.append(
                AuditDraft(orgId: task.orgId, actor: principal.actor, action: "inspection.assign", resourceType: "inspection", resourceId: id,
                           origin: principal.origin, summary: ["sn": task.sn, "inspector": chosen.username]),
                orgPath: orgPath, at: now)
            return changed
        }
    }

    /// Records the visit: checklist, position, outcome. The task is done, the dossier gets a history
    /// line, and when the visit cleared a relocation (the terminal is where it should be) the open
    /// relocation alert behind the task is left to the inspector's clear (`FleetService.clearAlert`).
    public func recordInspection(_ id: String, _ input: InspectionInput, version: Int, by principal: Principal) async throws -> InspectionTask {
        try principal.require(.inspectionsRecord)
        let note = try ServiceRules.text(input.note, field: "note", max: 2000, required: input.outcome != .passed)
        if let latitude = input.latitude, let longitude = input.longitude {
            try EstateRules.coordinates(latitude: latitude, longitude: longitude)
        } else if input.latitude != nil || input.longitude != nil {
            throw DomainError.invalid("latitude", "give latitude and longitude together")
        }
        if input.outcome == .passed, !input.checklist.allPassed {
            throw DomainError.invalid("outcome", "a visit with a failed checklist item is not passed")
        }
        let now = clock.now()
        let estate = self.estate
        return try await store.write { repos in
            let (task, orgPath) = try await Self.visibleInspection(id, repos: repos, principal: principal)
            guard task.version == version else { throw DomainError.conflict("the task changed since version \(version); reload it") }
            guard task.state == .open else { throw DomainError.conflict("the inspection is recorded already") }
            var changed = task
            changed.record = InspectionRecord(checklist: input.checklist, latitude: input.latitude, longitude: input.longitude,
                                              outcome: input.outcome, note: note, inspector: principal.user.username, at: now)
            changed.state = .done
            changed.doneAt = now
            changed.inspectorId = changed.inspectorId ?? principal.user.id
            changed.inspectorName = changed.inspectorName ?? principal.user.displayName
            changed.version += 1
            try await repos.service.updateInspection(changed)
            let checklist = input.checklist
            let failed = [("devicePresent", checklist.devicePresent), ("sealsIntact", checklist.sealsIntact), ("notRelocated", checklist.notRelocated),
                          ("signage", checklist.signage), ("testTransaction", checklist.testTransaction)].filter { !$0.1 }.map(\.0)
            var details = ["inspection": id, "outcome": input.outcome.rawValue, "reason": task.reason.rawValue]
            if !failed.isEmpty { details["failed"] = failed.joined(separator: ", ") }
            try await estate.recordEvent(task.terminalId, action: "inspection", reason: note, details: details, actorName: principal.user.username,
                                         at: now, in: repos)
            _ = try await repos.audit.append(
                AuditDraft(orgId: task.orgId, actor: principal.actor, action: "inspection.record", resourceType: "inspection", resourceId: id,
                           origin: principal.origin, summary: details.merging(["sn": task.sn]) { $1 }),
                orgPath: orgPath, at: now)
            return changed
        }
    }

    /// Adds a photo of the visit (JPEG, PNG or PDF, at most 5 MB) to a task the caller sees.
    public func attachPhoto(_ id: String, filename: String?, bytes: [UInt8], by principal: Principal) async throws -> TicketAttachment {
        try principal.require(.inspectionsRecord)
        _ = try await store.read { try await Self.visibleInspection(id, repos: $0, principal: principal) }
        return try await keep(bytes, filename: filename, by: principal) { photo, repos, now in
            let (task, orgPath) = try await Self.visibleInspection(id, repos: repos, principal: principal)
            guard task.photos.count < Self.maxAttachments else { throw DomainError.conflict("a visit holds at most \(Self.maxAttachments) photos") }
            var changed = task
            changed.photos.append(photo)
            changed.version += 1
            try await repos.service.updateInspection(changed)
            _ = try await repos.audit.append(
                AuditDraft(orgId: task.orgId, actor: principal.actor, action: "inspection.photo", resourceType: "inspection", resourceId: id,
                           origin: principal.origin, summary: ["sn": task.sn, "file": photo.filename, "sha256": photo.sha256]),
                orgPath: orgPath, at: now)
        }
    }

    /// A photo's bytes, checked against the recorded checksum.
    public func photo(_ id: String, _ document: DocumentID, by principal: Principal) async throws -> (TicketAttachment, [UInt8]) {
        try principal.require(.serviceRead)
        let (task, _) = try await store.read { try await Self.visibleInspection(id, repos: $0, principal: principal) }
        return try await fetch(document, among: task.photos, by: principal)
    }

    /// Plans the inspections that come due within each acquirer's lead time: one open task per
    /// terminal, due when the plan says, counted from its last inspection or its binding.
    func planInspections(at now: Date) async throws -> Int {
        var planned = 0
        var after: String?
        var plans: [OrgID: InspectionPlan] = [:]
        while true {
            let cursor = after
            let batch = try await store.read { try await $0.service.inspectionCandidates(after: cursor, limit: 500) }
            guard let last = batch.last else { break }
            after = last.terminalId.rawValue
            var due: [(InspectionCandidate, Date)] = []
            for candidate in batch {
                let root = OrgID(rawValue: candidate.ownerPath.split(separator: "/").first.map(String.init) ?? "")
                if plans[root] == nil {
                    plans[root] = try await store.read { try await $0.service.inspectionPlan(of: root) } ?? InspectionPlan()
                }
                let plan = plans[root] ?? InspectionPlan()
                let dueAt = plan.due(since: candidate.since, businessType: candidate.businessType)
                if dueAt <= now.addingTimeInterval(Double(plan.leadDays) * 86400) { due.append((candidate, dueAt)) }
            }
            guard !due.isEmpty else { continue }
            let chosen = due
            planned += try await store.write { repos in
                var count = 0
                for (candidate, dueAt) in chosen {
                    let task = InspectionTask(id: UUIDv7.make(now: now), orgId: candidate.orgId, terminalId: candidate.terminalId, sn: candidate.sn,
                                              merchantId: candidate.merchantId, reason: .scheduled, dueAt: dueAt, createdAt: now)
                    if try await repos.service.insertInspection(task, orgPath: candidate.ownerPath) { count += 1 }
                }
                return count
            }
        }
        return planned
    }

    /// Opens the inspection task for a relocation alert inside the alert's transaction (called by the
    /// fleet's relocation guard). A terminal with an open task already keeps it, now also for the alert.
    public static func openRelocationInspection(terminal: Terminal, ownerPath: String, alertId: String, at now: Date,
                                                repos: any Repositories) async throws {
        let task = InspectionTask(id: UUIDv7.make(now: now), orgId: terminal.orgId, terminalId: terminal.id, sn: terminal.sn,
                                  merchantId: terminal.merchantId, reason: .relocation, dueAt: now, alertId: alertId, createdAt: now)
        if try await repos.service.insertInspection(task, orgPath: ownerPath) { return }
        // The open task becomes urgent and names the alert.
        guard var open = try await repos.service.inspections(of: terminal.id, limit: 20).first(where: { $0.state == .open }) else { return }
        open.reason = .relocation
        open.alertId = alertId
        open.dueAt = min(open.dueAt, now)
        open.version += 1
        try await repos.service.updateInspection(open)
    }
}
