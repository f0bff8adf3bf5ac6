import Crypto
import Foundation

/// Input for a new ticket. The terminal is named by id, or by MID + TID as callers give them; a
/// ticket without a terminal names its merchant.
public struct NewTicket: Sendable {
    public var kind: TicketKind
    public var priority: TicketPriority
    public var caller: String
    public var callerPhone: String?
    public var symptom: String
    public var terminalId: TerminalID?
    public var mid: String?
    public var tid: String?
    public var merchantId: OrgID?
    public var articleIds: [String]

    public init(kind: TicketKind, priority: TicketPriority = .normal, caller: String, callerPhone: String? = nil, symptom: String,
                terminalId: TerminalID? = nil, mid: String? = nil, tid: String? = nil, merchantId: OrgID? = nil, articleIds: [String] = []) {
        self.kind = kind
        self.priority = priority
        self.caller = caller
        self.callerPhone = callerPhone
        self.symptom = symptom
        self.terminalId = terminalId
        self.mid = mid
        self.tid = tid
        self.merchantId = merchantId
        self.articleIds = articleIds
    }
}

/// A technician's repair: diagnosis, parts and result; with a replacement, the swap-out.
public struct RepairInput: Sendable {
    public var diagnosis: RepairDiagnosis
    public var parts: [String]
    public var result: String
    public var replacementTerminalId: TerminalID?
    public var replacementSn: String?

    public init(diagnosis: RepairDiagnosis, parts: [String] = [], result: String, replacementTerminalId: TerminalID? = nil,
                replacementSn: String? = nil) {
        self.diagnosis = diagnosis
        self.parts = parts
        self.result = result
        self.replacementTerminalId = replacementTerminalId
        self.replacementSn = replacementSn
    }
}

/// A technician who may take a ticket, with how many open tickets they hold.
public struct AssigneeCandidate: Codable, Sendable, Equatable {
    public var userId: UserID
    public var username: String
    public var displayName: String
    public var role: Role
    public var openTickets: Int
}

/// A ticket with its history.
public struct TicketDetail: Sendable {
    public var ticket: ServiceTicket
    public var events: [TicketEvent]
    /// Missed targets now.
    public var responseBreached: Bool
    public var fixBreached: Bool
}

/// An escalation as announced outside Tillyard (the service webhook): the ticket's facts without
/// the caller's personal details.
public struct TicketEscalation: Codable, Sendable, Equatable {
    public var ticketId: TicketID
    public var kind: TicketKind
    public var priority: TicketPriority
    public var state: TicketState
    public var merchantId: OrgID
    public var merchantName: String
    public var mid: String?
    public var tid: String?
    public var sn: String?
    /// Which target was missed: `response` or `fix`.
    public var missed: String
    public var responseDueAt: Date
    public var fixDueAt: Date
    public var escalatedTo: String
    public var escalatedAt: Date
}

/// Where escalations are announced (a webhook); called after the escalation committed, must not block.
public protocol ServiceNotifier: Sendable {
    func escalated(_ escalations: [TicketEscalation])
}

/// What one `tick` did.
public struct ServiceTickReport: Sendable, Equatable {
    public var escalated: Int = 0
    public var autoClosed: Int = 0
    public var inspectionsPlanned: Int = 0
}

/// The service desk: tickets from the hotline, the console and terminals; dispatch to a region's
/// technicians with SLA timers and escalation; repairs with swap-out through the estate lifecycle;
/// satisfaction ratings; the knowledge base; inspections (巡检, see `+Inspections`).
///
/// Every change by a person is one transaction with its ticket history line and audit event.
public struct ServiceDeskService: Sendable {
    public let store: any Persistence
    /// The estate's one lifecycle path: swap-outs run through it inside the ticket's transaction.
    public let estate: EstateService
    /// Where attachment bytes live (the merchants' encrypted document vault).
    public let vault: any DocumentVault
    public let clock: Clock
    /// Announces escalations outside Tillyard (the service webhook), nil for none.
    public let notifier: (any ServiceNotifier)?

    public init(store: any Persistence, estate: EstateService, vault: any DocumentVault, clock: Clock = .system,
                notifier: (any ServiceNotifier)? = nil) {
        self.store = store
        self.estate = estate
        self.vault = vault
        self.clock = clock
        self.notifier = notifier
    }

    /// Most attachments on one ticket.
    public static let maxAttachments = 20

    // MARK: Opening

    /// The terminal and its open binding for a caller's MID + TID (the hotline's lookup).
    public func lookup(mid: String, tid: String, by principal: Principal) async throws -> (terminal: Terminal, binding: Binding) {
        try principal.require(.serviceRead)
        return try await store.read { repos in try await Self.lookup(mid: mid, tid: tid, repos: repos, principal: principal) }
    }

    static func lookup(mid: String, tid: String, repos: any Repositories, principal: Principal) async throws -> (terminal: Terminal, binding: Binding) {
        let mid = mid.trimmingCharacters(in: .whitespaces), tid = tid.trimmingCharacters(in: .whitespaces).uppercased()
        let notFound = DomainError.notFound(resource: "terminal", id: "\(mid)/\(tid)")
        guard let terminal = try await repos.terminals.find(tenant: principal.rootId, tid: tid),
              let binding = try await repos.bindings.active(for: terminal.id), binding.mid == mid else { throw notFound }
        do {
            _ = try await EstateService.visible(terminal.id, repos: repos, principal: principal, ownerMustBeVisible: false)
        } catch { throw notFound }
        return (terminal, binding)
    }

    /// Opens a ticket: staff take calls (source hotline), a merchant's people open their own (console).
    public func open(_ input: NewTicket, by principal: Principal) async throws -> ServiceTicket {
        try principal.require(.serviceOpen)
        let caller = try ServiceRules.text(input.caller, field: "caller", max: 100, required: true) ?? ""
        let phone = try input.callerPhone.map { try MerchantRules.phone($0, field: "callerPhone") }
        let symptom = try ServiceRules.text(input.symptom, field: "symptom", max: 2000, required: true) ?? ""
        guard input.articleIds.count <= 10 else { throw DomainError.invalid("articleIds", "at most 10 articles") }
        let now = clock.now()
        let source: TicketSource = principal.orgKind.isMerchantSide ? .console : .hotline
        return try await store.write { repos in
            var terminal: Terminal?
            var mid: String?
            if let id = input.terminalId {
                terminal = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false).0
                mid = try await repos.bindings.active(for: id)?.mid
            } else if let givenMid = input.mid, let tid = input.tid {
                let found = try await Self.lookup(mid: givenMid, tid: tid, repos: repos, principal: principal)
                (terminal, mid) = (found.terminal, found.binding.mid)
            } else if input.mid != nil || input.tid != nil {
                throw DomainError.invalid(input.mid == nil ? "mid" : "tid", "give the merchant number and the terminal number together")
            }
            guard let merchantId = terminal?.merchantId ?? input.merchantId else {
                throw DomainError.invalid(terminal == nil ? "merchantId" : "terminalId",
                                          terminal == nil ? "name the terminal (terminalId, or mid + tid) or the merchant" : "the terminal is not at a merchant")
            }
            guard let merchant = try await repos.orgs.find(merchantId), merchant.kind == .merchant else {
                throw DomainError.invalid("merchantId", "no such merchant in your part of the tree")
            }
            if terminal == nil, !principal.sees(path: merchant.path) {
                throw DomainError.invalid("merchantId", "no such merchant in your part of the tree")
            }
            for article in input.articleIds {
                guard let found = try await repos.service.article(article), found.article.orgId == principal.rootId else {
                    throw DomainError.invalid("articleIds", "no such article: \(article)")
                }
            }
            let owner = try await terminal.asyncMap { try await repos.orgs.find($0.orgId) } ?? nil
            let level = try await Self.level(input.kind, input.priority, answeringPath: owner?.path ?? merchant.path, repos: repos)
            let ticket = Self.newTicket(kind: input.kind, priority: input.priority, level: level, source: source, caller: caller, phone: phone,
                                        symptom: symptom, terminal: terminal, mid: mid, merchant: merchant, owner: owner,
                                        openedBy: principal.user.username, articleIds: input.articleIds, at: now)
            try await Self.store(ticket, orgPath: owner?.path ?? merchant.path, merchantPath: merchant.path, actor: principal.actor,
                                 origin: principal.origin, repos: repos)
            return ticket
        }
    }

    /// A terminal reports its own fault (signed `POST /terminal/v1/faults`). While a self-reported
    /// repair ticket of the terminal is still open, a repeat adds to its history instead of opening another.
    public func reportFault(symptom raw: String, code: String?, from caller: AuthenticatedTerminal) async throws -> ServiceTicket {
        let symptom = try ServiceRules.text(raw, field: "symptom", max: 2000, required: true) ?? ""
        let code = try ServiceRules.text(code, field: "code", max: 40, required: false)
        let terminal = caller.terminal
        let now = clock.now()
        return try await store.write { repos in
            guard let merchantId = terminal.merchantId, let merchant = try await repos.orgs.find(merchantId) else {
                throw DomainError.conflict("terminal \(terminal.sn) is not at a merchant")
            }
            let open = try await repos.service.tickets(visibleUnder: merchant.path, filter: TicketFilter(terminalId: terminal.id, openOnly: true),
                                                       page: PageRequest(limit: 20)).items
            if var existing = open.first(where: { $0.source == .terminal && $0.kind == .repair }) {
                existing.updatedAt = now
                existing.version += 1
                try await repos.service.updateTicket(existing)
                try await repos.service.recordTicketEvent(TicketEvent(id: UUIDv7.make(now: now), ticketId: existing.id, version: existing.version,
                                                                      at: now, actor: "terminal \(terminal.sn)", action: "fault", fromState: nil,
                                                                      toState: nil, note: [code, symptom].compactMap { $0 }.joined(separator: ": ")))
                return existing
            }
            let owner = try await repos.orgs.find(terminal.orgId)
            let mid = try await repos.bindings.active(for: terminal.id)?.mid
            let level = try await Self.level(.repair, .high, answeringPath: owner?.path ?? merchant.path, repos: repos)
            let ticket = Self.newTicket(kind: .repair, priority: .high, level: level, source: .terminal, caller: "terminal \(terminal.sn)", phone: nil,
                                        symptom: code.map { "[\($0)] \(symptom)" } ?? symptom, terminal: terminal, mid: mid, merchant: merchant,
                                        owner: owner, openedBy: "terminal \(terminal.sn)", articleIds: [], at: now)
            try await Self.store(ticket, orgPath: owner?.path ?? merchant.path, merchantPath: merchant.path,
                                 actor: AuditActor(kind: .terminal, id: terminal.id.rawValue, name: terminal.sn), origin: "terminal", repos: repos)
            return ticket
        }
    }

    /// The targets a new ticket takes: the SLA table of the acquirer at the top of the answering
    /// organisation's path (the built-in table until the acquirer saves one).
    static func level(_ kind: TicketKind, _ priority: TicketPriority, answeringPath: String, repos: any Repositories) async throws -> ServiceLevel {
        let acquirer = OrgID(rawValue: answeringPath.split(separator: "/").first.map(String.init) ?? "")
        return (try await repos.service.serviceLevels(of: acquirer) ?? .defaults).level(kind, priority)
    }

    private static func newTicket(kind: TicketKind, priority: TicketPriority, level: ServiceLevel, source: TicketSource, caller: String,
                                  phone: String?, symptom: String, terminal: Terminal?, mid: String?, merchant: Organization, owner: Organization?,
                                  openedBy: String, articleIds: [String], at now: Date) -> ServiceTicket {
        ServiceTicket(id: .generate(now: now), orgId: owner?.id ?? merchant.id, merchantId: merchant.id, merchantName: merchant.name,
                             mid: mid, terminalId: terminal?.id, sn: terminal?.sn, tid: terminal?.tid, kind: kind, priority: priority,
                             source: source, caller: caller, callerPhone: phone, symptom: symptom, openedBy: openedBy, openedAt: now,
                             responseDueAt: now.addingTimeInterval(level.responseHours * 3600),
                             fixDueAt: now.addingTimeInterval(level.fixHours * 3600), articleIds: articleIds, updatedAt: now)
    }

    private static func store(_ ticket: ServiceTicket, orgPath: String, merchantPath: String, actor: AuditActor, origin: String,
                              repos: any Repositories) async throws {
        try await repos.service.insertTicket(ticket, orgPath: orgPath, merchantPath: merchantPath)
        try await repos.service.recordTicketEvent(TicketEvent(id: UUIDv7.make(now: ticket.openedAt), ticketId: ticket.id, version: ticket.version,
                                                              at: ticket.openedAt,
                                                              actor: actor.name, action: "open", fromState: nil, toState: .new,
                                                              note: ticket.symptom))
        _ = try await repos.audit.append(
            AuditDraft(orgId: ticket.orgId, actor: actor, action: "ticket.open", resourceType: "service_ticket", resourceId: ticket.id.rawValue,
                       origin: origin, summary: ["kind": ticket.kind.rawValue, "priority": ticket.priority.rawValue,
                                                 "source": ticket.source.rawValue, "sn": ticket.sn ?? "", "merchant": ticket.merchantName]),
            orgPath: orgPath, at: ticket.openedAt)
    }

    // MARK: Reading

    /// A ticket the caller sees (as the answering organisation's staff or as its merchant), with its history.
    public func ticket(_ id: TicketID, by principal: Principal) async throws -> TicketDetail {
        try principal.require(.serviceRead)
        let now = clock.now()
        return try await store.read { repos in
            let (ticket, _) = try await Self.visible(id, repos: repos, principal: principal)
            let breaches = ServiceRules.breaches(ticket, at: now)
            return TicketDetail(ticket: ticket, events: try await repos.service.ticketEvents(id), responseBreached: breaches.response,
                                fixBreached: breaches.fix)
        }
    }

    /// Tickets the caller sees, newest first.
    public func tickets(_ filter: TicketFilter, page: PageRequest, by principal: Principal) async throws -> Page<ServiceTicket> {
        try principal.require(.serviceRead)
        return try await store.read { try await $0.service.tickets(visibleUnder: principal.orgPath, filter: filter, page: page) }
    }

    static func visible(_ id: TicketID, repos: any Repositories, principal: Principal) async throws -> (ServiceTicket, String) {
        guard let (ticket, orgPath, merchantPath) = try await repos.service.ticket(id),
              principal.sees(path: orgPath) || principal.sees(path: merchantPath) else {
            throw DomainError.notFound(resource: "ticket", id: id.rawValue)
        }
        return (ticket, orgPath)
    }

    // MARK: Dispatch and work

    /// Technicians and inspectors who may take a ticket (people of the answering organisation and
    /// above it in the caller's tree), least loaded first: the suggestion is the first. Whoever sees the
    /// ticket may read it (a merchant sees who may be sent).
    public func candidates(for id: TicketID, by principal: Principal) async throws -> [AssigneeCandidate] {
        try principal.require(.serviceRead)
        return try await store.read { repos in
            let (_, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            return try await Self.candidates(orgPath: orgPath, repos: repos)
        }
    }

    static func candidates(orgPath: String, repos: any Repositories) async throws -> [AssigneeCandidate] {
        // The answering organisation and its ancestors: people who see the terminal.
        let ids = orgPath.split(separator: "/").map(String.init)
        var users: [User] = []
        let root = "/\(ids.first ?? "")/"
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let found = try await repos.users.list(under: root, page: page)
            users += found.items.filter { ($0.role == .technical || $0.role == .inspector) && $0.status == .active && ids.contains($0.orgId.rawValue) }
            guard let next = found.nextCursor, users.count < 500 else { break }
            page.cursor = next
        }
        let load = try await repos.service.openLoad(of: users.map(\.id))
        return users.map { AssigneeCandidate(userId: $0.id, username: $0.username, displayName: $0.displayName, role: $0.role,
                                             openTickets: load[$0.id] ?? 0) }
            .sorted { ($0.openTickets, $0.username) < ($1.openTickets, $1.username) }
    }

    /// Moves a ticket by one action at its current `version`. Assigning without an assignee takes the
    /// least-loaded technician; closing and reopening are the merchant's (or the desk's); the rest is
    /// the technicians' and the desk's work.
    public func act(_ id: TicketID, _ action: TicketAction, version: Int, note: String?, assignee: UserID? = nil,
                    by principal: Principal) async throws -> ServiceTicket {
        try principal.require(action == .close || action == .reopen ? .serviceOpen : .serviceHandle)
        let note = try ServiceRules.text(note, field: "note", max: 2000, required: action == .reopen || action == .resolve)
        let now = clock.now()
        return try await store.write { repos in
            let (ticket, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            guard ticket.version == version else { throw DomainError.conflict("the ticket changed since version \(version); reload it") }
            var changed = ticket
            var summary: [String: String] = [:]
            if action == .assign {
                let candidates = try await Self.candidates(orgPath: orgPath, repos: repos)
                guard let chosen = assignee.map({ wanted in candidates.first { $0.userId == wanted } }) ?? candidates.first else {
                    throw assignee == nil ? DomainError.conflict("no technician or inspector works for this terminal's organisation")
                        : DomainError.invalid("assigneeId", "must be a technician or inspector of the terminal's organisation")
                }
                changed.assigneeId = chosen.userId
                changed.assigneeName = chosen.displayName
                summary["assignee"] = chosen.username
            }
            try await Self.move(&changed, action, note: note, actor: principal.actor, origin: principal.origin, summary: summary,
                                orgPath: orgPath, at: now, repos: repos)
            return changed
        }
    }

    /// Applies one action to a loaded ticket and stores it with its history line and audit event.
    static func move(_ ticket: inout ServiceTicket, _ action: TicketAction, note: String?, actor: AuditActor, origin: String,
                     summary: [String: String] = [:], orgPath: String, at now: Date, repos: any Repositories) async throws {
        let from = ticket.state
        var to = try TicketLifecycle.next(from: from, by: action)
        if action == .reopen, ticket.assigneeId == nil { to = .new }
        if to == .inProgress, ticket.respondedAt == nil { ticket.respondedAt = now }
        switch to {
        case .resolved:
            ticket.resolvedAt = now
            if ticket.respondedAt == nil { ticket.respondedAt = now }
            ticket.resolution = note ?? ticket.resolution
        case .closed: ticket.closedAt = now
        default: break
        }
        ServiceRules.moveClock(&ticket, into: to, at: now)
        if action == .reopen {
            ticket.resolvedAt = nil
            ticket.closedAt = nil
            ticket.rating = nil
            ticket.ratingComment = nil
        }
        ticket.state = to
        ticket.updatedAt = now
        ticket.version += 1
        try await repos.service.updateTicket(ticket)
        try await repos.service.recordTicketEvent(TicketEvent(id: UUIDv7.make(now: now), ticketId: ticket.id, version: ticket.version, at: now,
                                                              actor: actor.name, action: action.rawValue, fromState: from, toState: to, note: note))
        var details = summary
        details["state"] = "\(from.rawValue) → \(to.rawValue)"
        if let note { details["note"] = String(note.prefix(200)) }
        _ = try await repos.audit.append(
            AuditDraft(orgId: ticket.orgId, actor: actor, action: "ticket.\(action.rawValue)", resourceType: "service_ticket",
                       resourceId: ticket.id.rawValue, origin: origin, summary: details),
            orgPath: orgPath, at: now)
    }

    /// A comment in the ticket's history (no state change).
    public func comment(_ id: TicketID, note raw: String, by principal: Principal) async throws -> TicketEvent {
        try principal.require(.serviceOpen)
        let note = try ServiceRules.text(raw, field: "note", max: 2000, required: true)
        let now = clock.now()
        return try await store.write { repos in
            var (ticket, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            ticket.updatedAt = now
            ticket.version += 1
            try await repos.service.updateTicket(ticket)
            let event = TicketEvent(id: UUIDv7.make(now: now), ticketId: ticket.id, version: ticket.version, at: now, actor: principal.actor.name,
                                    action: "comment", fromState: nil, toState: nil, note: note)
            try await repos.service.recordTicketEvent(event)
            _ = try await repos.audit.append(
                AuditDraft(orgId: ticket.orgId, actor: principal.actor, action: "ticket.comment", resourceType: "service_ticket",
                           resourceId: ticket.id.rawValue, origin: principal.origin, summary: ["note": String(note?.prefix(200) ?? "")]),
                orgPath: orgPath, at: now)
            return event
        }
    }

    // MARK: Repairs

    /// Records a repair and resolves the ticket, in one transaction. With a replacement (by id or SN)
    /// it is a swap-out: the replacement is bound in place of the faulty terminal, which goes to
    /// repair, through the estate's lifecycle; if any step is refused nothing is stored. The repair
    /// lands in the dossier history of the terminal (both terminals, for a swap-out).
    public func repair(_ id: TicketID, _ input: RepairInput, version: Int, by principal: Principal) async throws -> ServiceTicket {
        try principal.require(.serviceRepair)
        let result = try ServiceRules.text(input.result, field: "result", max: 2000, required: true) ?? ""
        guard input.parts.count <= 20 else { throw DomainError.invalid("parts", "at most 20 parts") }
        let parts = try input.parts.enumerated().compactMap { try ServiceRules.text($1, field: "parts.\($0)", max: 100, required: true) }
        let now = clock.now()
        let estate = self.estate
        let (ticket, swapped) = try await store.write { repos -> (ServiceTicket, [TerminalID]) in
            let (ticket, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            guard ticket.version == version else { throw DomainError.conflict("the ticket changed since version \(version); reload it") }
            guard ticket.kind == .repair || ticket.kind == .installation, let terminalId = ticket.terminalId else {
                throw DomainError.conflict("only repair and installation tickets about a terminal take a repair")
            }
            guard [.assigned, .inProgress, .waitingParts, .waitingMerchant].contains(ticket.state) else {
                throw DomainError.conflict("a \(ticket.state.rawValue) ticket takes no repair; assign it first")
            }
            var replacement: Terminal?
            if let replacementId = input.replacementTerminalId {
                replacement = try await repos.terminals.find(replacementId)
                if replacement == nil { throw DomainError.invalid("replacementTerminalId", "no such terminal in your part of the tree") }
            } else if let sn = input.replacementSn {
                guard let found = try await repos.terminals.find(sn: sn.trimmingCharacters(in: .whitespaces)) else {
                    throw DomainError.invalid("replacementSn", "no such terminal in your part of the tree")
                }
                replacement = found
            }
            let why = "ticket \(ticket.id.rawValue): \(result)"
            var changed = ticket
            var touched = [terminalId]
            if let replacement {
                do {
                    _ = try await estate.swapOut(terminalId, with: replacement.id, reason: why, by: principal, at: now, in: repos)
                } catch DomainError.notFound(let resource, _) where resource == "terminal" {
                    throw DomainError.invalid("replacementTerminalId", "no such terminal in your part of the tree")
                }
                touched.append(replacement.id)
            }
            let record = RepairRecord(diagnosis: input.diagnosis, parts: parts, result: result, replacementTerminalId: replacement?.id,
                                      replacementSn: replacement?.sn, by: principal.user.username, at: now)
            changed.repair = record
            var details = ["ticket": ticket.id.rawValue, "diagnosis": input.diagnosis.rawValue]
            if !parts.isEmpty { details["parts"] = parts.joined(separator: ", ") }
            if let replacement { details["replacement"] = replacement.sn }
            try await estate.recordEvent(terminalId, action: "service_repair", reason: result, details: details, actorName: principal.user.username,
                                         at: now, in: repos)
            if let replacement {
                try await estate.recordEvent(replacement.id, action: "service_repair", reason: result,
                                             details: ["ticket": ticket.id.rawValue, "replaces": ticket.sn ?? ""], actorName: principal.user.username,
                                             at: now, in: repos)
            }
            if changed.state != .inProgress {
                if changed.state == .assigned {
                    try await Self.move(&changed, .start, note: nil, actor: principal.actor, origin: principal.origin, orgPath: orgPath, at: now, repos: repos)
                } else {
                    try await Self.move(&changed, .resume, note: nil, actor: principal.actor, origin: principal.origin, orgPath: orgPath, at: now, repos: repos)
                }
            }
            try await Self.move(&changed, .resolve, note: result, actor: principal.actor, origin: principal.origin, summary: details,
                                orgPath: orgPath, at: now, repos: repos)
            return (changed, touched)
        }
        for terminal in swapped { estate.terminalContexts?.invalidate(terminal) }
        return ticket
    }

    // MARK: Satisfaction

    /// The merchant rates a resolved or closed ticket (1–5) once; rating a resolved one confirms it closed.
    public func rate(_ id: TicketID, rating: Int, comment: String?, by principal: Principal) async throws -> ServiceTicket {
        try principal.require(.serviceOpen)
        guard (1...5).contains(rating) else { throw DomainError.invalid("rating", "must be from 1 to 5") }
        let comment = try ServiceRules.text(comment, field: "comment", max: 500, required: false)
        let now = clock.now()
        return try await store.write { repos in
            let (ticket, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            guard let merchant = try await repos.orgs.find(ticket.merchantId), principal.sees(path: merchant.path) else {
                throw DomainError.forbidden("the merchant rates its tickets")
            }
            guard ticket.rating == nil else { throw DomainError.conflict("the ticket is rated already") }
            var changed = ticket
            if changed.state == .resolved {
                try await Self.move(&changed, .close, note: "confirmed by the merchant", actor: principal.actor, origin: principal.origin,
                                    orgPath: orgPath, at: now, repos: repos)
            }
            guard changed.state == .closed else { throw DomainError.conflict("a ticket is rated once it is resolved") }
            changed.rating = rating
            changed.ratingComment = comment
            changed.updatedAt = now
            changed.version += 1
            try await repos.service.updateTicket(changed)
            try await repos.service.recordTicketEvent(TicketEvent(id: UUIDv7.make(now: now), ticketId: id, version: changed.version, at: now,
                                                                  actor: principal.actor.name, action: "rate", fromState: nil, toState: nil, note: "\(rating)/5 \(comment ?? "")"))
            _ = try await repos.audit.append(
                AuditDraft(orgId: ticket.orgId, actor: principal.actor, action: "ticket.rate", resourceType: "service_ticket", resourceId: id.rawValue,
                           origin: principal.origin, summary: ["rating": String(rating)]),
                orgPath: orgPath, at: now)
            return changed
        }
    }

    /// Open, resolved and rated tickets per technician in the caller's subtree.
    public func figures(by principal: Principal) async throws -> [TechnicianFigures] {
        try principal.require(.serviceRead)
        let now = clock.now()
        return try await store.read { try await $0.service.technicianFigures(visibleUnder: principal.orgPath, at: now) }
    }

    // MARK: Attachments

    /// Attaches a photo or PDF (at most 5 MB) to a ticket; the bytes are encrypted in the vault first.
    public func attach(_ id: TicketID, filename: String?, bytes: [UInt8], by principal: Principal) async throws -> TicketAttachment {
        try principal.require(.serviceOpen)
        _ = try await store.read { try await Self.visible(id, repos: $0, principal: principal) }
        return try await keep(bytes, filename: filename, by: principal) { attachment, repos, now in
            let (ticket, orgPath) = try await Self.visible(id, repos: repos, principal: principal)
            guard ticket.attachments.count < Self.maxAttachments else {
                throw DomainError.conflict("a ticket holds at most \(Self.maxAttachments) attachments")
            }
            var changed = ticket
            changed.attachments.append(attachment)
            changed.updatedAt = now
            changed.version += 1
            try await repos.service.updateTicket(changed)
            _ = try await repos.audit.append(
                AuditDraft(orgId: ticket.orgId, actor: principal.actor, action: "ticket.attach", resourceType: "service_ticket",
                           resourceId: id.rawValue, origin: principal.origin,
                           summary: ["file": attachment.filename, "size": String(attachment.size), "sha256": attachment.sha256]),
                orgPath: orgPath, at: now)
        }
    }

    /// An attachment's bytes, checked against the recorded checksum.
    public func attachment(_ id: TicketID, _ document: DocumentID, by principal: Principal) async throws -> (TicketAttachment, [UInt8]) {
        try principal.require(.serviceRead)
        let (ticket, _) = try await store.read { try await Self.visible(id, repos: $0, principal: principal) }
        return try await fetch(document, among: ticket.attachments, by: principal)
    }

    /// Checks an upload (JPEG, PNG or PDF, at most 5 MB), encrypts it into the vault, then runs `record`,
    /// the transaction that names it. Bytes first, record second: a crash between leaves an orphan file,
    /// never a record without its bytes; a failed `record` removes the bytes again.
    func keep(_ bytes: [UInt8], filename: String?, by principal: Principal,
              _ record: @escaping @Sendable (TicketAttachment, any Repositories, Date) async throws -> Void) async throws -> TicketAttachment {
        guard !bytes.isEmpty else { throw DomainError.invalid("file", "is empty") }
        guard bytes.count <= MerchantRules.maxDocumentBytes else {
            throw DomainError.invalid("file", "is larger than \(MerchantRules.maxDocumentBytes >> 20) MB")
        }
        guard let format = DocumentFormat.sniff(bytes) else { throw DomainError.invalid("file", "must be a JPEG or PNG image or a PDF document") }
        let now = clock.now()
        let attachment = TicketAttachment(id: .generate(now: now), filename: MerchantRules.filename(filename, format: format), format: format,
                                          size: bytes.count, sha256: Hex.string(SHA256.hash(data: bytes)),
                                          uploadedBy: principal.user.username, uploadedAt: now)
        try await vault.put(attachment.id, tenant: principal.rootId, bytes: bytes)
        do {
            try await store.write { repos in try await record(attachment, repos, now) }
        } catch {
            try? await vault.delete(attachment.id, tenant: principal.rootId)
            throw error
        }
        return attachment
    }

    /// The bytes of one of `attachments`, checked against its recorded checksum.
    func fetch(_ document: DocumentID, among attachments: [TicketAttachment], by principal: Principal) async throws -> (TicketAttachment, [UInt8]) {
        guard let attachment = attachments.first(where: { $0.id == document }) else {
            throw DomainError.notFound(resource: "attachment", id: document.rawValue)
        }
        let bytes = try await vault.get(document, tenant: principal.rootId)
        guard Hex.string(SHA256.hash(data: bytes)) == attachment.sha256 else {
            throw DomainError.conflict("the stored attachment does not match its checksum")
        }
        return (attachment, bytes)
    }

    // MARK: Knowledge base

    /// Writes a new article for the caller's acquirer tree.
    public func createArticle(title: String, body: String, tags: [String], by principal: Principal) async throws -> KnowledgeArticle {
        try principal.require(.knowledgeManage)
        let now = clock.now()
        let article = KnowledgeArticle(id: UUIDv7.make(now: now), orgId: principal.rootId,
                                       title: try ServiceRules.text(title, field: "title", max: 200, required: true) ?? "",
                                       body: try ServiceRules.text(body, field: "body", max: 20_000, required: true) ?? "",
                                       tags: try Self.tags(tags), updatedBy: principal.user.username, updatedAt: now)
        try await store.write { repos in
            try await repos.service.insertArticle(article, orgPath: principal.orgPath)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: "knowledge.create", resourceType: "knowledge_article",
                           resourceId: article.id, origin: principal.origin, summary: ["title": article.title]),
                orgPath: principal.orgPath, at: now)
        }
        return article
    }

    /// Changes an article at its current version.
    public func updateArticle(_ id: String, title: String, body: String, tags: [String], version: Int, by principal: Principal) async throws -> KnowledgeArticle {
        try principal.require(.knowledgeManage)
        let title = try ServiceRules.text(title, field: "title", max: 200, required: true) ?? ""
        let text = try ServiceRules.text(body, field: "body", max: 20_000, required: true) ?? ""
        let tags = try Self.tags(tags)
        let now = clock.now()
        return try await store.write { repos in
            guard let (found, orgPath) = try await repos.service.article(id), principal.sees(path: orgPath) else {
                throw DomainError.notFound(resource: "article", id: id)
            }
            guard found.version == version else { throw DomainError.conflict("the article changed since version \(version); reload it") }
            var article = found
            article.title = title
            article.body = text
            article.tags = tags
            article.updatedBy = principal.user.username
            article.updatedAt = now
            article.version += 1
            try await repos.service.updateArticle(article)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: "knowledge.update", resourceType: "knowledge_article",
                           resourceId: id, origin: principal.origin, summary: ["title": title, "version": String(article.version)]),
                orgPath: orgPath, at: now)
            return article
        }
    }

    /// Articles of the caller's acquirer tree, newest first (merchants read them too).
    public func articles(page: PageRequest, by principal: Principal) async throws -> Page<KnowledgeArticle> {
        try principal.require(.serviceRead)
        return try await store.read { try await $0.service.articles(root: principal.rootId, page: page) }
    }

    /// One article of the caller's acquirer tree.
    public func article(_ id: String, by principal: Principal) async throws -> KnowledgeArticle {
        try principal.require(.serviceRead)
        guard let found = try await store.read({ try await $0.service.article(id) }), found.article.orgId == principal.rootId else {
            throw DomainError.notFound(resource: "article", id: id)
        }
        return found.article
    }

    private static func tags(_ raw: [String]) throws -> [String] {
        guard raw.count <= 10 else { throw DomainError.invalid("tags", "at most 10 tags") }
        return try raw.enumerated().compactMap { try ServiceRules.text($1, field: "tags.\($0)", max: 40, required: false) }
    }

    // MARK: Timers

    /// The desk's clockwork, idempotent (run by a timer in `serve`, by tests with a test clock):
    /// escalates each open ticket past a due time once, to the terminal's responsible person or the
    /// answering organisation's administrators; closes tickets resolved more than
    /// `ServiceRules.autoCloseDays` ago; plans the inspections that come due. A ticket another node
    /// changed meanwhile is left for the next tick.
    @discardableResult
    public func tick(now: Date? = nil) async throws -> ServiceTickReport {
        let now = now ?? clock.now()
        var report = ServiceTickReport()
        let breached = try await store.read { try await $0.service.breachedUnescalated(at: now, limit: 500) }
        var announced: [TicketEscalation] = []
        for ticket in breached {
            do {
                let escalation = try await store.write { repos -> TicketEscalation? in
                    guard let (current, orgPath, _) = try await repos.service.ticket(ticket.id), current.version == ticket.version else { return nil }
                    let breaches = ServiceRules.breaches(current, at: now)
                    let target = try await Self.escalationTarget(current, orgPath: orgPath, repos: repos)
                    var changed = current
                    changed.escalatedAt = now
                    changed.escalatedTo = target.name
                    changed.updatedAt = now
                    changed.version += 1
                    try await repos.service.updateTicket(changed)
                    let what = breaches.fix ? "fix" : "response"
                    try await repos.service.recordTicketEvent(TicketEvent(id: UUIDv7.make(now: now), ticketId: ticket.id, version: changed.version,
                                                                          at: now, actor: "system",
                                                                          action: "escalate", fromState: nil, toState: nil,
                                                                          note: "\(what) target missed; escalated to \(changed.escalatedTo ?? "")"))
                    _ = try await repos.audit.append(
                        AuditDraft(orgId: current.orgId, actor: .system, action: "ticket.escalate", resourceType: "service_ticket",
                                   resourceId: ticket.id.rawValue, origin: "timer", summary: ["missed": what, "to": changed.escalatedTo ?? ""]),
                        orgPath: orgPath, at: now)
                    // The responsible people read it in their console inbox, stored with the escalation itself.
                    let subject = [current.merchantName, current.tid.map { "TID \($0)" }, String(current.symptom.prefix(80))]
                        .compactMap { $0 }.joined(separator: " · ")
                    try await NotificationService.deliver(to: target.recipients, orgId: current.orgId, kind: "ticket.escalated.\(what)",
                                                          subject: subject, link: "/console/service/tickets/\(ticket.id.rawValue)", at: now,
                                                          repos: repos)
                    return TicketEscalation(ticketId: current.id, kind: current.kind, priority: current.priority, state: current.state,
                                            merchantId: current.merchantId, merchantName: current.merchantName, mid: current.mid,
                                            tid: current.tid, sn: current.sn, missed: what, responseDueAt: current.responseDueAt,
                                            fixDueAt: current.fixDueAt, escalatedTo: target.name, escalatedAt: now)
                }
                if let escalation {
                    report.escalated += 1
                    announced.append(escalation)
                }
            } catch DomainError.conflict {
                continue
            }
        }
        // Announced after the escalations committed, off this path (the notifier does not block).
        if !announced.isEmpty { notifier?.escalated(announced) }
        let stale = try await store.read { try await $0.service.resolvedBefore(now.addingTimeInterval(-Double(ServiceRules.autoCloseDays) * 86400), limit: 500) }
        for ticket in stale {
            do {
                try await store.write { repos in
                    guard let (current, orgPath, _) = try await repos.service.ticket(ticket.id), current.version == ticket.version,
                          current.state == .resolved else { return }
                    var changed = current
                    try await Self.move(&changed, .close, note: "closed automatically \(ServiceRules.autoCloseDays) days after resolution",
                                        actor: .system, origin: "timer", orgPath: orgPath, at: now, repos: repos)
                }
                report.autoClosed += 1
            } catch DomainError.conflict {
                continue
            }
        }
        report.inspectionsPlanned = try await planInspections(at: now)
        return report
    }

    /// Who hears of a missed target: the terminal's responsible person, else the administrators of the
    /// answering organisation (the region's responsible people). `recipients` are the people whose
    /// console inbox gets the message: the responsible person when they are an active user of the
    /// answering organisation or above it (by username or display name), else those administrators,
    /// else the nearest administrators above.
    static func escalationTarget(_ ticket: ServiceTicket, orgPath: String, repos: any Repositories) async throws
        -> (name: String, recipients: [UserID]) {
        let chain = orgPath.split(separator: "/").map(String.init)
        var people: [User] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let found = try await repos.users.list(under: "/\(chain.first ?? "")/", page: page)
            people += found.items.filter { $0.status == .active && chain.contains($0.orgId.rawValue) }
            guard let next = found.nextCursor, people.count < 2000 else { break }
            page.cursor = next
        }
        if let terminalId = ticket.terminalId, let person = try await repos.terminals.find(terminalId)?.responsiblePerson {
            let named = people.filter { $0.username.caseInsensitiveCompare(person) == .orderedSame || $0.displayName == person }
            if !named.isEmpty { return (person, named.map(\.id)) }
            return (person, Self.nearestAdministrators(people, chain: chain).map(\.id))
        }
        let admins = people.filter { $0.orgId == ticket.orgId && $0.role == .administrator }
        let name = admins.isEmpty ? "administrators of \(ticket.orgId.rawValue)" : admins.map(\.username).sorted().joined(separator: ", ")
        return (name, Self.nearestAdministrators(people, chain: chain).map(\.id))
    }

    /// The administrators of the deepest organisation on `chain` that has any.
    private static func nearestAdministrators(_ people: [User], chain: [String]) -> [User] {
        for org in chain.reversed() {
            let admins = people.filter { $0.orgId.rawValue == org && $0.role == .administrator }
            if !admins.isEmpty { return admins }
        }
        return []
    }

    // MARK: SLA table

    /// The SLA table of the caller's acquirer (the built-in one until it saves its own).
    public func serviceLevels(by principal: Principal) async throws -> ServiceLevelTable {
        try principal.require(.serviceRead)
        return try await store.read { try await $0.service.serviceLevels(of: principal.rootId) } ?? .defaults
    }

    /// Sets the acquirer's SLA table (people at the top of its tree with `service.admin`). New tickets
    /// take it; open tickets keep the targets they opened with.
    public func saveServiceLevels(_ table: ServiceLevelTable, by principal: Principal) async throws -> ServiceLevelTable {
        try Self.requireAcquirerTop(principal, .serviceAdmin, setting: "SLA table")
        let table = try table.checked()
        let now = clock.now()
        try await store.write { repos in
            let before = try await repos.service.serviceLevels(of: principal.rootId) ?? .defaults
            try await repos.service.saveServiceLevels(table, of: principal.rootId, by: principal.user.username, at: now)
            // The audit names each changed row as kind/priority: old → new hours.
            var summary: [String: String] = [:]
            for entry in table.levels {
                let old = before.level(entry.kind, entry.priority)
                guard old.responseHours != entry.responseHours || old.fixHours != entry.fixHours else { continue }
                summary["\(entry.kind.rawValue)/\(entry.priority.rawValue)"] =
                    "\(Self.hours(old.responseHours))/\(Self.hours(old.fixHours)) h → \(Self.hours(entry.responseHours))/\(Self.hours(entry.fixHours)) h"
            }
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.rootId, actor: principal.actor, action: "service.sla", resourceType: "organization",
                           resourceId: principal.rootId.rawValue, origin: principal.origin, summary: summary),
                orgPath: principal.orgPath, at: now)
        }
        return table
    }

    /// An acquirer's setting is changed by people with `permission` at the top of its tree.
    static func requireAcquirerTop(_ principal: Principal, _ permission: Permission, setting: String) throws {
        try principal.require(permission)
        guard principal.orgPath.split(separator: "/").count == 1 else {
            throw DomainError.forbidden("the \(setting) is the acquirer's: set it from the top of the organisation tree")
        }
    }

    /// Hours as people write them (4, 1.5).
    public static func hours(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
