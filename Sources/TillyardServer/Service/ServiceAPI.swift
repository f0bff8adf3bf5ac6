import Foundation
import Hummingbird
import TillyardKit

/// The body of `POST /tickets`.
struct TicketInput: APIInput {
    var kind: TicketKind
    var priority: TicketPriority?
    var caller: String
    var callerPhone: String?
    var symptom: String
    var terminalId: String?
    var mid: String?
    var tid: String?
    var merchantId: String?
    var articleIds: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, priority, caller, callerPhone, symptom, terminalId, mid, tid, merchantId, articleIds
    }
    typealias Field = CodingKeys

    var ticket: NewTicket {
        NewTicket(kind: kind, priority: priority ?? .normal, caller: caller, callerPhone: callerPhone, symptom: symptom,
                  terminalId: terminalId.map(TerminalID.init(rawValue:)), mid: mid, tid: tid, merchantId: merchantId.map(OrgID.init(rawValue:)),
                  articleIds: articleIds ?? [])
    }
}

/// The body of `POST /tickets/{id}/transition`.
struct TicketTransitionInput: APIInput {
    var action: TicketAction
    var version: Int
    var note: String?
    /// For `assign`: the technician; the least-loaded one when absent.
    var assigneeId: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case action, version, note, assigneeId }
    typealias Field = CodingKeys
}

/// The body of `POST /tickets/{id}/repair`.
struct RepairBody: APIInput {
    var version: Int
    var diagnosis: RepairDiagnosis
    var parts: [String]?
    var result: String
    var replacementTerminalId: String?
    var replacementSn: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case version, diagnosis, parts, result, replacementTerminalId, replacementSn }
    typealias Field = CodingKeys
}

/// The body of `POST /tickets/{id}/rating`.
struct RatingInput: APIInput {
    var rating: Int
    var comment: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case rating, comment }
    typealias Field = CodingKeys
}

/// The body of `POST /tickets/{id}/comments`.
struct TicketCommentInput: APIInput {
    var note: String
    enum CodingKeys: String, CodingKey, CaseIterable { case note }
    typealias Field = CodingKeys
}

/// The body of `POST /knowledge-articles` and `PUT /knowledge-articles/{id}`.
struct ArticleInput: APIInput {
    var title: String
    var body: String
    var tags: [String]?
    var version: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case title, body, tags, version }
    typealias Field = CodingKeys
}

/// `PUT /inspection-plan` takes the whole plan.
extension InspectionPlan: APIInput {
    public enum Field: String, CodingKey, CaseIterable { case fixedIntervalDays, mobileIntervalDays, leadDays }
}

/// `PUT /service-sla` takes the whole table (every kind × priority).
extension ServiceLevelTable: APIInput {
    public enum Field: String, CodingKey, CaseIterable { case levels }
}

/// The body of `POST /inspections` (ask for a visit now).
struct InspectionRequestInput: APIInput {
    var terminalId: String
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case terminalId, note }
    typealias Field = CodingKeys
}

/// The body of `POST /inspections/{id}/assign`.
struct InspectionAssignInput: APIInput {
    var inspectorId: String
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case inspectorId, version }
    typealias Field = CodingKeys
}

/// The body of `POST /inspections/{id}/record`.
struct InspectionRecordInput: APIInput {
    var version: Int
    var checklist: InspectionChecklist
    var latitude: Double?
    var longitude: Double?
    var outcome: InspectionOutcome
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case version, checklist, latitude, longitude, outcome, note }
    typealias Field = CodingKeys
}

/// What a terminal sends to `POST /terminal/v1/faults`.
struct FaultReport: APIInput {
    var symptom: String
    var code: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case symptom, code }
    typealias Field = CodingKeys
}

/// A ticket with its SLA state now (and, for one ticket, its history).
struct TicketBody: Encodable, Sendable {
    var ticket: ServiceTicket
    var responseBreached: Bool
    var fixBreached: Bool
    var events: [TicketEvent]?

    private enum Extra: String, CodingKey { case responseBreached, fixBreached, events }

    init(_ ticket: ServiceTicket, at now: Date, events: [TicketEvent]? = nil) {
        let breaches = ServiceRules.breaches(ticket, at: now)
        self.ticket = ticket
        self.responseBreached = breaches.response
        self.fixBreached = breaches.fix
        self.events = events
    }

    init(_ detail: TicketDetail) {
        ticket = detail.ticket
        responseBreached = detail.responseBreached
        fixBreached = detail.fixBreached
        events = detail.events
    }

    func encode(to encoder: any Encoder) throws {
        // The ticket's own fields, flat, with the SLA flags beside them.
        try ticket.encode(to: encoder)
        var extra = encoder.container(keyedBy: Extra.self)
        try extra.encode(responseBreached, forKey: .responseBreached)
        try extra.encode(fixBreached, forKey: .fixBreached)
        try extra.encodeIfPresent(events, forKey: .events)
    }
}

/// The hotline's lookup answer: the terminal and its merchant's elements.
struct LookupBody: Codable, Sendable {
    var terminalId: String
    var sn: String
    var tid: String
    var state: TerminalState
    var merchantId: String
    var mid: String
    var address: String
}

/// The service desk over HTTP: tickets, dispatch, repairs, ratings, attachments, the knowledge base
/// and inspections under `/api/v1`; self-reported faults under the signed `/terminal/v1`.
struct ServiceAPI {
    let service: ServiceDeskService
    let fleet: FleetService
    let routes: APIRoutes

    func register(api: RouterGroup<AppRequestContext>, terminal: RouterGroup<AppRequestContext>) {
        let service = self.service
        let fleet = self.fleet
        let routes = self.routes
        let clock = service.clock

        api.get("service/lookup") { request, context in
            let principal = try context.requirePrincipal()
            guard let mid = request.query("mid"), let tid = request.query("tid") else {
                throw DomainError.invalid(request.query("mid") == nil ? "mid" : "tid", "give the merchant number (mid) and the terminal number (tid)")
            }
            let (terminal, binding) = try await service.lookup(mid: mid, tid: tid, by: principal)
            return try JSONResponse.make(LookupBody(terminalId: terminal.id.rawValue, sn: terminal.sn, tid: terminal.tid, state: terminal.state,
                                                    merchantId: binding.merchantId.rawValue, mid: binding.mid, address: binding.placement.address))
        }
        api.post("tickets") { request, context in
            try await routes.create(request, context) { (input: TicketInput, principal) in
                TicketBody(try await service.open(input.ticket, by: principal), at: clock.now())
            }
        }
        api.get("tickets") { request, context in
            let principal = try context.requirePrincipal()
            var filter = TicketFilter(state: try request.query("state", as: TicketState.self), kind: try request.query("kind", as: TicketKind.self),
                                      terminalId: request.query("terminalId").map(TerminalID.init(rawValue:)),
                                      openOnly: request.query("open") == "true")
            if let assignee = request.query("assigneeId") {
                filter.assigneeId = assignee == "me" ? principal.user.id : UserID(rawValue: assignee)
            }
            let now = clock.now()
            if request.query("overdue") == "true" { filter.overdueAt = now }
            let page = try await service.tickets(filter, page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page) { TicketBody($0, at: now) })
        }
        api.get("tickets/:id") { _, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try JSONResponse.make(TicketBody(try await service.ticket(id, by: try context.requirePrincipal())))
        }
        api.get("tickets/:id/candidates") { _, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            let candidates = try await service.candidates(for: id, by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: candidates, nextCursor: nil)) { $0 })
        }
        api.post("tickets/:id/transition") { request, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try await routes.update(request, context) { (input: TicketTransitionInput, principal) in
                TicketBody(try await service.act(id, input.action, version: input.version, note: input.note,
                                                 assignee: input.assigneeId.map(UserID.init(rawValue:)), by: principal), at: clock.now())
            }
        }
        api.post("tickets/:id/comments") { request, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try await routes.create(request, context) { (input: TicketCommentInput, principal) in
                try await service.comment(id, note: input.note, by: principal)
            }
        }
        api.post("tickets/:id/repair") { request, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try await routes.update(request, context) { (input: RepairBody, principal) in
                let repair = RepairInput(diagnosis: input.diagnosis, parts: input.parts ?? [], result: input.result,
                                         replacementTerminalId: input.replacementTerminalId.map(TerminalID.init(rawValue:)),
                                         replacementSn: input.replacementSn)
                return TicketBody(try await service.repair(id, repair, version: input.version, by: principal), at: clock.now())
            }
        }
        api.post("tickets/:id/rating") { request, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try await routes.update(request, context) { (input: RatingInput, principal) in
                TicketBody(try await service.rate(id, rating: input.rating, comment: input.comment, by: principal), at: clock.now())
            }
        }
        api.post("tickets/:id/attachments") { request, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            return try await Self.upload(request, context, routes: routes) { bytes, filename, principal in
                try await service.attach(id, filename: filename, bytes: bytes, by: principal)
            }
        }
        api.get("tickets/:id/attachments/:documentId") { _, context in
            let id: TicketID = try context.id("id", resource: "ticket")
            let documentId: DocumentID = try context.id("documentId", resource: "attachment")
            let (attachment, bytes) = try await service.attachment(id, documentId, by: try context.requirePrincipal())
            return MerchantAPI.download(filename: attachment.filename, format: attachment.format, bytes)
        }
        api.get("service/figures") { _, context in
            let figures = try await service.figures(by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: figures, nextCursor: nil)) { $0 })
        }

        api.get("knowledge-articles") { request, context in
            let page = try await service.articles(page: try request.pageRequest(), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(page) { $0 })
        }
        api.post("knowledge-articles") { request, context in
            try await routes.create(request, context) { (input: ArticleInput, principal) in
                guard input.version == nil else { throw DomainError.invalid("version", "is not used when creating an article") }
                return try await service.createArticle(title: input.title, body: input.body, tags: input.tags ?? [], by: principal)
            }
        }
        api.get("knowledge-articles/:id") { _, context in
            try JSONResponse.make(try await service.article(context.parameters.get("id") ?? "", by: try context.requirePrincipal()))
        }
        api.put("knowledge-articles/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.update(request, context) { (input: ArticleInput, principal) in
                guard let version = input.version else {
                    _ = try await service.article(id, by: principal)
                    throw DomainError.invalid("version", "give the version you change")
                }
                return try await service.updateArticle(id, title: input.title, body: input.body, tags: input.tags ?? [], version: version, by: principal)
            }
        }

        api.get("service-sla") { _, context in
            try JSONResponse.make(try await service.serviceLevels(by: try context.requirePrincipal()))
        }
        api.put("service-sla") { request, context in
            try await routes.update(request, context) { (input: ServiceLevelTable, principal) in
                try await service.saveServiceLevels(input, by: principal)
            }
        }
        api.get("inspection-plan") { _, context in
            try JSONResponse.make(try await service.inspectionPlan(by: try context.requirePrincipal()))
        }
        api.put("inspection-plan") { request, context in
            try await routes.update(request, context) { (input: InspectionPlan, principal) in
                try await service.saveInspectionPlan(input, by: principal)
            }
        }
        api.get("inspections") { request, context in
            let principal = try context.requirePrincipal()
            let before = try request.query("dueBefore").map { raw -> Date in
                guard let date = try? Date(raw, strategy: .iso8601) else { throw DomainError.invalid("dueBefore", "must be an ISO 8601 time") }
                return date
            }
            let tasks = try await service.dueInspections(mine: request.query("mine") == "true", before: before,
                                                         limit: try request.pageRequest().limit, by: principal)
            return try JSONResponse.make(PageBody(Page(items: tasks, nextCursor: nil)) { $0 })
        }
        api.post("inspections") { request, context in
            try await routes.create(request, context) { (input: InspectionRequestInput, principal) in
                try await service.requestInspection(of: TerminalID(rawValue: input.terminalId), note: input.note, by: principal)
            }
        }
        api.get("inspections/:id") { _, context in
            try JSONResponse.make(try await service.inspection(context.parameters.get("id") ?? "", by: try context.requirePrincipal()))
        }
        api.post("inspections/:id/assign") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.update(request, context) { (input: InspectionAssignInput, principal) in
                try await service.assignInspection(id, to: UserID(rawValue: input.inspectorId), version: input.version, by: principal)
            }
        }
        api.post("inspections/:id/record") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await routes.update(request, context) { (input: InspectionRecordInput, principal) in
                try await service.recordInspection(id, InspectionInput(checklist: input.checklist, latitude: input.latitude, longitude: input.longitude,
                                                                      outcome: input.outcome, note: input.note),
                                                   version: input.version, by: principal)
            }
        }
        api.post("inspections/:id/photos") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await Self.upload(request, context, routes: routes) { bytes, filename, principal in
                try await service.attachPhoto(id, filename: filename, bytes: bytes, by: principal)
            }
        }
        api.get("inspections/:id/photos/:documentId") { _, context in
            let documentId: DocumentID = try context.id("documentId", resource: "photo")
            let (photo, bytes) = try await service.photo(context.parameters.get("id") ?? "", documentId, by: try context.requirePrincipal())
            return MerchantAPI.download(filename: photo.filename, format: photo.format, bytes)
        }
        api.get("terminals/:id/inspections") { _, context in
            let tasks = try await service.inspections(of: try context.id("id", resource: "terminal"), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(Page(items: tasks, nextCursor: nil)) { $0 })
        }

        terminal.post("faults") { request, context in
            let (caller, body) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            let report = try JSONIO.decode(FaultReport.self, from: body)
            let ticket = try await service.reportFault(symptom: report.symptom, code: report.code, from: caller)
            return try JSONResponse.make(["ticketId": ticket.id.rawValue, "state": ticket.state.rawValue], status: .created)
        }
    }

    /// A file sent as the body (at most 5 MB, name in `?filename=`), stored once per `Idempotency-Key`,
    /// answered 201 with its record.
    static func upload(_ request: Request, _ context: AppRequestContext, routes: APIRoutes,
                       _ work: @escaping @Sendable ([UInt8], String?, Principal) async throws -> TicketAttachment) async throws -> Response {
        let principal = try context.requirePrincipal()
        let bytes = try await MerchantAPI.collectDocument(request)
        let filename = request.query("filename")
        return try await routes.idempotency.run(request: request, body: Data(bytes), principal: principal) {
            (.created, try JSONIO.encode(try await work(bytes, filename, principal)))
        }
    }
}
