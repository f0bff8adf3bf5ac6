import Foundation
import Hummingbird
import TillyardKit

/// The new-ticket form: the terminal by MID + TID as the caller gives them (the desk), or the
/// merchant's own terminal by id (the merchant's console).
struct TicketForm: Decodable, CSRFCarrying {
    var kind: String; var priority: String?; var caller: String; var callerPhone: String?; var symptom: String
    var mid: String?; var tid: String?; var terminalId: String?; var _csrf: String
}

/// One move of a ticket.
struct TicketActionForm: Decodable, CSRFCarrying { var action: String; var version: String; var note: String?; var assigneeId: String?; var _csrf: String }

/// The repair form (a replacement SN makes it a swap-out).
struct RepairForm: Decodable, CSRFCarrying {
    var version: String; var diagnosis: String; var parts: String?; var result: String; var replacementSn: String?; var _csrf: String
}

/// The merchant's rating.
struct RatingForm: Decodable, CSRFCarrying { var rating: String; var comment: String?; var _csrf: String }

/// A knowledge article.
struct ArticleForm: Decodable, CSRFCarrying { var title: String; var body: String; var tags: String?; var _csrf: String }

/// An inspection visit (checkboxes are absent when unticked); `back` = "task" returns to the task's page.
struct InspectionForm: Decodable, CSRFCarrying {
    var version: String; var devicePresent: String?; var sealsIntact: String?; var notRelocated: String?; var signage: String?
    var testTransaction: String?; var latitude: String?; var longitude: String?; var outcome: String; var note: String?; var back: String?
    var _csrf: String
}

/// The SLA table form: `response_<kind>_<priority>` and `fix_<kind>_<priority>` hours for every row.
struct ServiceLevelForm: Decodable, CSRFCarrying {
    var _csrf: String
    var hours: [String: String]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var values: [String: String] = [:]
        for key in container.allKeys where key.stringValue != "_csrf" {
            values[key.stringValue] = try container.decode(String.self, forKey: key)
        }
        _csrf = try container.decodeIfPresent(String.self, forKey: Key(stringValue: "_csrf")) ?? ""
        hours = values
    }

    /// The table the form describes; a missing or unreadable number is a problem naming its field.
    func table() throws -> ServiceLevelTable {
        func number(_ name: String) throws -> Double {
            let raw = (hours[name] ?? "").trimmingCharacters(in: .whitespaces)
            guard let value = Double(raw) else { throw DomainError.invalid(name, "must be a number of hours") }
            return value
        }
        return ServiceLevelTable(levels: try ServiceLevelTable.defaults.levels.map { row in
            let suffix = "\(row.kind.rawValue)_\(row.priority.rawValue)"
            return ServiceLevelEntry(kind: row.kind, priority: row.priority, responseHours: try number("response_\(suffix)"),
                                     fixHours: try number("fix_\(suffix)"))
        })
    }
}

/// Console pages of the service desk: the ticket list with the hotline's form and technician
/// figures, one ticket with its actions, repair (swap-out) and rating, the inspectors' due lists
/// with the visit form, and the knowledge base.
struct ServiceConsole {
    let service: ServiceDeskService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("service", use: tickets)
        console.post("service/tickets", use: openTicket)
        console.get("service/tickets/:id", use: ticket)
        console.post("service/tickets/:id/action", use: act)
        console.post("service/tickets/:id/repair", use: repair)
        console.post("service/tickets/:id/rating", use: rate)
        console.post("service/tickets/:id/attachments", use: attach)
        console.get("service/tickets/:id/attachments/:documentId", use: downloadAttachment)
        console.get("service/inspections", use: inspections)
        console.get("service/inspections/:id", use: inspection)
        console.post("service/inspections/:id/record", use: recordInspection)
        console.post("service/inspections/:id/photos", use: attachPhoto)
        console.get("service/inspections/:id/photos/:documentId", use: downloadPhoto)
        console.get("service/sla", use: serviceLevels)
        console.post("service/sla", use: saveServiceLevels)
        console.get("service/knowledge", use: knowledge)
        console.post("service/knowledge", use: createArticle)
    }

    // MARK: Tickets

    @Sendable func tickets(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await ticketsPage(request, context, error: nil, status: .ok)
    }

    private func ticketsPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let now = service.clock.now()
        let view = request.query("view") ?? "open"
        var filter = TicketFilter(openOnly: view == "open")
        if view == "overdue" { filter.overdueAt = now }
        if view == "mine" { filter.assigneeId = principal.user.id; filter.openOnly = true }
        let page = try await service.tickets(filter, page: try request.pageRequest(), by: principal)
        let figures = try await service.figures(by: principal)
        let data: [String: Any] = [
            "error": error as Any,
            "tickets": page.items.map { row(of: $0, at: now, locale: locale) },
            "nextCursor": page.nextCursor as Any, "view": view,
            "views": ["open", "overdue", "mine", "all"].map { ["key": $0, "label": renderer.text("service_view_\($0)", locale: locale), "current": $0 == view] },
            "canOpen": principal.can(.serviceOpen), "isMerchant": principal.orgKind.isMerchantSide,
            "kinds": TicketKind.allCases.map { ["value": $0.rawValue, "label": renderer.text("ticket_kind_\($0.rawValue)", locale: locale)] },
            "priorities": TicketPriority.allCases.map { ["value": $0.rawValue, "label": renderer.text("ticket_priority_\($0.rawValue)", locale: locale),
                                                          "selected": $0 == .normal] },
            "figures": figures.map { ["name": $0.assigneeName, "open": $0.open, "resolved": $0.resolved, "rated": $0.rated,
                                      "average": $0.averageRating.map { String(format: "%.1f", $0) } ?? "—", "breaches": $0.fixBreaches] },
        ]
        return renderer.page("service", titleKey: "nav_service", context: context, data: data, status: status)
    }

    private func row(of ticket: ServiceTicket, at now: Date, locale: String) -> [String: Any] {
        let breaches = ServiceRules.breaches(ticket, at: now)
        return ["id": ticket.id.rawValue, "kind": renderer.text("ticket_kind_\(ticket.kind.rawValue)", locale: locale),
                "priority": renderer.text("ticket_priority_\(ticket.priority.rawValue)", locale: locale),
                "state": renderer.text("ticket_state_\(ticket.state.rawValue)", locale: locale), "stateKey": ticket.state.rawValue,
                "merchant": ticket.merchantName, "mid": ticket.mid ?? "", "tid": ticket.tid ?? "", "sn": ticket.sn ?? "",
                "symptom": ticket.symptom, "assignee": ticket.assigneeName ?? "—", "openedAt": ticket.openedAt.iso8601,
                "fixDueAt": ticket.fixDueAt.iso8601, "breached": breaches.response || breaches.fix,
                "escalatedTo": ticket.escalatedTo as Any]
    }

    @Sendable func openTicket(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(TicketForm.self, request, context)
        do {
            guard let kind = TicketKind(rawValue: form.kind) else { throw DomainError.invalid("kind", "choose a kind") }
            let priority = form.priority.flatMap(TicketPriority.init(rawValue:)) ?? .normal
            func given(_ raw: String?) -> String? { raw.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } }
            let ticket = try await service.open(NewTicket(kind: kind, priority: priority, caller: form.caller, callerPhone: given(form.callerPhone),
                                                          symptom: form.symptom, terminalId: given(form.terminalId).map(TerminalID.init(rawValue:)),
                                                          mid: given(form.mid), tid: given(form.tid)), by: principal)
            return .redirect(to: "/console/service/tickets/\(ticket.id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await ticketsPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func ticket(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await ticketPage(request, context, error: nil, status: .ok)
    }

    private func ticketPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let id: TicketID = try context.id("id", resource: "ticket")
        let detail = try await service.ticket(id, by: principal)
        let ticket = detail.ticket
        let now = service.clock.now()
        let allowed = (TicketLifecycle.transitions[ticket.state] ?? [:]).keys.sorted { $0.rawValue < $1.rawValue }
        let handles = principal.can(.serviceHandle)
        let actions = allowed.filter { ($0 == .close || $0 == .reopen) ? principal.can(.serviceOpen) : handles }
        let candidates = handles && actions.contains(.assign) ? try await service.candidates(for: id, by: principal) : []
        let facts: [(String, String?)] = [
            ("ticket_kind", renderer.text("ticket_kind_\(ticket.kind.rawValue)", locale: locale)),
            ("ticket_priority", renderer.text("ticket_priority_\(ticket.priority.rawValue)", locale: locale)),
            ("ticket_source", renderer.text("ticket_source_\(ticket.source.rawValue)", locale: locale)),
            ("ticket_merchant", ticket.merchantName), ("ticket_mid", ticket.mid), ("ticket_tid", ticket.tid),
            ("ticket_caller", [ticket.caller, ticket.callerPhone].compactMap { $0 }.joined(separator: " · ")),
            ("ticket_assignee", ticket.assigneeName), ("ticket_opened", ticket.openedAt.iso8601),
            ("ticket_response_due", ticket.responseDueAt.iso8601), ("ticket_fix_due", ticket.fixDueAt.iso8601),
            ("ticket_escalated", ticket.escalatedTo.map { "\($0) (\(ticket.escalatedAt?.iso8601 ?? ""))" }),
            ("ticket_paused_since", ticket.pausedAt?.iso8601),
            ("ticket_paused_total", ticket.pausedSeconds.map { ServiceDeskService.hours(($0 / 360).rounded() / 10) + " h" }),
            ("ticket_resolution", ticket.resolution), ("ticket_rating", ticket.rating.map { "\($0)/5 \(ticket.ratingComment ?? "")" }),
        ]
        let repair = ticket.repair.map { record -> [String: Any] in
            ["diagnosis": renderer.text("repair_diagnosis_\(record.diagnosis.rawValue)", locale: locale), "parts": record.parts.joined(separator: ", "),
             "result": record.result, "replacementSn": record.replacementSn as Any, "replacementId": record.replacementTerminalId?.rawValue as Any,
             "by": record.by, "at": record.at.iso8601]
        }
        let isMerchant = principal.orgKind.isMerchantSide
        let data: [String: Any] = [
            "error": error as Any, "id": ticket.id.rawValue, "version": ticket.version, "symptom": ticket.symptom,
            "state": renderer.text("ticket_state_\(ticket.state.rawValue)", locale: locale), "stateKey": ticket.state.rawValue,
            "responseBreached": detail.responseBreached, "fixBreached": detail.fixBreached,
            "terminalId": ticket.terminalId?.rawValue as Any, "sn": ticket.sn as Any,
            "facts": facts.compactMap { fact in fact.1.map { ["label": renderer.text(fact.0, locale: locale), "value": $0] } },
            "events": detail.events.map { event -> [String: Any] in
                ["at": event.at.iso8601, "actor": event.actor, "action": renderer.text("ticket_event_\(event.action)", locale: locale),
                 "state": event.toState.map { renderer.text("ticket_state_\($0.rawValue)", locale: locale) } ?? "", "note": event.note ?? ""]
            },
            "actions": actions.map { ["value": $0.rawValue, "label": renderer.text("ticket_action_\($0.rawValue)", locale: locale)] },
            "hasActions": !actions.isEmpty,
            "candidates": candidates.map { ["id": $0.userId.rawValue, "name": $0.displayName, "load": $0.openTickets] },
            "hasCandidates": !candidates.isEmpty,
            "repair": repair as Any,
            "canRepair": principal.can(.serviceRepair) && (ticket.kind == .repair || ticket.kind == .installation) && ticket.terminalId != nil
                && [.assigned, .inProgress, .waitingParts, .waitingMerchant].contains(ticket.state),
            "diagnoses": RepairDiagnosis.allCases.map { ["value": $0.rawValue, "label": renderer.text("repair_diagnosis_\($0.rawValue)", locale: locale)] },
            "canRate": isMerchant && ticket.rating == nil && (ticket.state == .resolved || ticket.state == .closed),
            "dossierLinks": !isMerchant || principal.can(.estateRead),
            "now": now.iso8601,
            "files": Self.files(ticket.attachments, base: "/console/service/tickets/\(ticket.id.rawValue)/attachments"),
            "canAttach": principal.can(.serviceOpen) && ticket.attachments.count < ServiceDeskService.maxAttachments,
            "maxMB": MerchantRules.maxDocumentBytes >> 20,
            "paused": ticket.pausedAt != nil,
        ]
        return renderer.page("service_ticket", titleKey: "service_ticket_title", context: context, data: data, status: status)
    }

    @Sendable func act(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TicketID = try context.id("id", resource: "ticket")
        let form = try await forms.decode(TicketActionForm.self, request, context)
        do {
            guard let action = TicketAction(rawValue: form.action) else { throw DomainError.invalid("action", "choose an action") }
            let assignee = form.assigneeId.flatMap { $0.isEmpty ? nil : UserID(rawValue: $0) }
            _ = try await service.act(id, action, version: Int(form.version) ?? 0, note: form.note, assignee: assignee, by: principal)
            return .redirect(to: "/console/service/tickets/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await ticketPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func repair(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TicketID = try context.id("id", resource: "ticket")
        let form = try await forms.decode(RepairForm.self, request, context)
        do {
            guard let diagnosis = RepairDiagnosis(rawValue: form.diagnosis) else { throw DomainError.invalid("diagnosis", "choose a diagnosis") }
            let parts = (form.parts ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let replacement = form.replacementSn.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            _ = try await service.repair(id, RepairInput(diagnosis: diagnosis, parts: parts, result: form.result, replacementSn: replacement),
                                         version: Int(form.version) ?? 0, by: principal)
            return .redirect(to: "/console/service/tickets/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await ticketPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func rate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TicketID = try context.id("id", resource: "ticket")
        let form = try await forms.decode(RatingForm.self, request, context)
        do {
            _ = try await service.rate(id, rating: Int(form.rating) ?? 0, comment: form.comment, by: principal)
            return .redirect(to: "/console/service/tickets/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await ticketPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    // MARK: Inspections

    @Sendable func inspections(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await inspectionsPage(request, context, error: nil, status: .ok)
    }

    private func inspectionsPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let mine = request.query("mine") == "true"
        let tasks = try await service.dueInspections(mine: mine, by: principal)
        let plan = try await service.inspectionPlan(by: principal)
        let now = service.clock.now()
        let data: [String: Any] = [
            "error": error as Any, "mine": mine,
            "tasks": tasks.map { task -> [String: Any] in
                ["id": task.id, "version": task.version, "sn": task.sn, "terminalId": task.terminalId.rawValue, "photos": task.photos.count,
                 "reason": renderer.text("inspection_reason_\(task.reason.rawValue)", locale: locale), "dueAt": task.dueAt.iso8601,
                 "overdue": task.dueAt < now, "inspector": task.inspectorName ?? "—"]
            },
            "canRecord": principal.can(.inspectionsRecord),
            "outcomes": InspectionOutcome.allCases.map { ["value": $0.rawValue, "label": renderer.text("inspection_outcome_\($0.rawValue)", locale: locale)] },
            "plan": ["fixed": plan.fixedIntervalDays, "mobile": plan.mobileIntervalDays, "lead": plan.leadDays],
        ]
        return renderer.page("inspections", titleKey: "nav_inspections", context: context, data: data, status: status)
    }

    @Sendable func recordInspection(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = context.parameters.get("id") ?? ""
        let form = try await forms.decode(InspectionForm.self, request, context)
        do {
            guard let outcome = InspectionOutcome(rawValue: form.outcome) else { throw DomainError.invalid("outcome", "choose an outcome") }
            func coordinate(_ raw: String?, _ field: String) throws -> Double? {
                guard let text = raw?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
                guard let value = Double(text) else { throw DomainError.invalid(field, "must be a number") }
                return value
            }
            let checklist = InspectionChecklist(devicePresent: form.devicePresent != nil, sealsIntact: form.sealsIntact != nil,
                                                notRelocated: form.notRelocated != nil, signage: form.signage != nil,
                                                testTransaction: form.testTransaction != nil)
            _ = try await service.recordInspection(id, InspectionInput(checklist: checklist, latitude: try coordinate(form.latitude, "latitude"),
                                                                       longitude: try coordinate(form.longitude, "longitude"), outcome: outcome,
                                                                       note: form.note),
                                                   version: Int(form.version) ?? 0, by: principal)
            return .redirect(to: form.back == "task" ? "/console/service/inspections/\(id)" : "/console/service/inspections", type: .found)
        } catch let error as DomainError {
            if form.back == "task" { return try await inspectionPage(request, context, error: error.message, status: ConsoleForms.status(error)) }
            return try await inspectionsPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    @Sendable func inspection(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await inspectionPage(request, context, error: nil, status: .ok)
    }

    /// One inspection task: what it is for, its record once made, its photos and the forms to add them.
    private func inspectionPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let id = context.parameters.get("id") ?? ""
        let task = try await service.inspection(id, by: principal)
        let record = task.record.map { record -> [String: Any] in
            let checklist = record.checklist
            let items = [("inspection_device_present", checklist.devicePresent), ("inspection_seals_intact", checklist.sealsIntact),
                         ("inspection_not_relocated", checklist.notRelocated), ("inspection_signage", checklist.signage),
                         ("inspection_test_transaction", checklist.testTransaction)]
            return ["outcome": renderer.text("inspection_outcome_\(record.outcome.rawValue)", locale: locale), "note": record.note ?? "",
                    "inspector": record.inspector, "at": record.at.iso8601,
                    "position": record.latitude.map { "\($0), \(record.longitude ?? 0)" } ?? "—",
                    "checklist": items.map { ["label": renderer.text($0.0, locale: locale), "passed": $0.1] }]
        }
        let data: [String: Any] = [
            "error": error as Any, "id": task.id, "version": task.version, "sn": task.sn, "terminalId": task.terminalId.rawValue,
            "reason": renderer.text("inspection_reason_\(task.reason.rawValue)", locale: locale), "dueAt": task.dueAt.iso8601,
            "inspector": task.inspectorName ?? "—", "open": task.state == .open, "record": record as Any,
            "files": Self.files(task.photos, base: "/console/service/inspections/\(task.id)/photos"),
            "canRecord": principal.can(.inspectionsRecord) && task.state == .open,
            "canAttach": principal.can(.inspectionsRecord) && task.photos.count < ServiceDeskService.maxAttachments,
            "maxMB": MerchantRules.maxDocumentBytes >> 20,
            "outcomes": InspectionOutcome.allCases.map { ["value": $0.rawValue, "label": renderer.text("inspection_outcome_\($0.rawValue)", locale: locale)] },
        ]
        return renderer.page("inspection", titleKey: "inspection_title", context: context, data: data, status: status)
    }

    // MARK: Attachments and photos

    /// Rows of a file list: name, size, who and when, and a thumbnail for images (the download URL
    /// itself; the CSP allows same-origin images, and the download is `nosniff` with its recorded type).
    static func files(_ files: [TicketAttachment], base: String) -> [[String: Any]] {
        files.map { file in
            ["id": file.id.rawValue, "filename": file.filename, "size": MerchantConsole.size(file.size), "by": file.uploadedBy,
             "at": file.uploadedAt.iso8601, "href": "\(base)/\(file.id.rawValue)", "isImage": file.format != .pdf]
        }
    }

    /// One upload form's work: the document checked (`ConsoleUpload.document`), handed to `keep`, then
    /// back to `back`; a refusal shows `page` again with the problem.
    private func upload(_ request: Request, _ context: AppRequestContext, back: String,
                        keep: (UploadedFile, Principal) async throws -> Void,
                        page: (String, HTTPResponse.Status) async throws -> Response) async throws -> Response {
        let principal = try context.requirePrincipal()
        do {
            try await keep(try await ConsoleUpload.document(request, renderer: renderer, locale: context.locale), principal)
            return .redirect(to: back, type: .found)
        } catch let error as DomainError {
            return try await page(error.message, ConsoleForms.status(error))
        }
    }

    @Sendable func attach(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id: TicketID = try context.id("id", resource: "ticket")
        return try await upload(request, context, back: "/console/service/tickets/\(id.rawValue)") { file, principal in
            _ = try await service.attach(id, filename: file.filename, bytes: file.bytes, by: principal)
        } page: { error, status in
            try await ticketPage(request, context, error: error, status: status)
        }
    }

    @Sendable func downloadAttachment(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id: TicketID = try context.id("id", resource: "ticket")
        let documentId: DocumentID = try context.id("documentId", resource: "attachment")
        let (attachment, bytes) = try await service.attachment(id, documentId, by: try context.requirePrincipal())
        return MerchantAPI.download(filename: attachment.filename, format: attachment.format, bytes)
    }

    @Sendable func attachPhoto(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        return try await upload(request, context, back: "/console/service/inspections/\(id)") { file, principal in
            _ = try await service.attachPhoto(id, filename: file.filename, bytes: file.bytes, by: principal)
        } page: { error, status in
            try await inspectionPage(request, context, error: error, status: status)
        }
    }

    @Sendable func downloadPhoto(_ request: Request, context: AppRequestContext) async throws -> Response {
        let documentId: DocumentID = try context.id("documentId", resource: "photo")
        let (photo, bytes) = try await service.photo(context.parameters.get("id") ?? "", documentId, by: try context.requirePrincipal())
        return MerchantAPI.download(filename: photo.filename, format: photo.format, bytes)
    }

    // MARK: SLA table

    @Sendable func serviceLevels(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await serviceLevelsPage(request, context, error: nil, typed: nil, status: .ok)
    }

    /// The acquirer's SLA table, editable by `service.admin` at the top of the tree; after a refused
    /// save the typed values are shown again.
    private func serviceLevelsPage(_ request: Request, _ context: AppRequestContext, error: String?, typed: [String: String]?,
                                   status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let table = try await service.serviceLevels(by: principal)
        let rows = TicketKind.allCases.map { kind -> [String: Any] in
            ["kind": renderer.text("ticket_kind_\(kind.rawValue)", locale: locale),
             "cells": TicketPriority.allCases.map { priority -> [String: Any] in
                 let level = table.level(kind, priority)
                 let suffix = "\(kind.rawValue)_\(priority.rawValue)"
                 return ["suffix": suffix,
                         "response": typed?["response_\(suffix)"] ?? ServiceDeskService.hours(level.responseHours),
                         "fix": typed?["fix_\(suffix)"] ?? ServiceDeskService.hours(level.fixHours)]
             }]
        }
        let data: [String: Any] = [
            "error": error as Any, "rows": rows,
            "priorities": TicketPriority.allCases.map { ["label": renderer.text("ticket_priority_\($0.rawValue)", locale: locale)] },
            "canEdit": principal.can(.serviceAdmin) && principal.orgPath.split(separator: "/").count == 1,
        ]
        return renderer.page("service_sla", titleKey: "nav_service_sla", context: context, data: data, status: status)
    }

    @Sendable func saveServiceLevels(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(ServiceLevelForm.self, request, context)
        do {
            _ = try await service.saveServiceLevels(try form.table(), by: principal)
            return .redirect(to: "/console/service/sla", type: .found)
        } catch let error as DomainError {
            return try await serviceLevelsPage(request, context, error: error.message, typed: form.hours, status: ConsoleForms.status(error))
        }
    }

    // MARK: Knowledge

    @Sendable func knowledge(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await knowledgePage(request, context, error: nil, status: .ok)
    }

    private func knowledgePage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await service.articles(page: try request.pageRequest(), by: principal)
        let data: [String: Any] = [
            "error": error as Any,
            "articles": page.items.map { ["id": $0.id, "title": $0.title, "body": $0.body, "tags": $0.tags.joined(separator: ", "),
                                          "updatedAt": $0.updatedAt.iso8601, "by": $0.updatedBy] },
            "canWrite": principal.can(.knowledgeManage),
        ]
        return renderer.page("knowledge", titleKey: "nav_knowledge", context: context, data: data, status: status)
    }

    @Sendable func createArticle(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(ArticleForm.self, request, context)
        do {
            let tags = (form.tags ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            _ = try await service.createArticle(title: form.title, body: form.body, tags: tags, by: principal)
            return .redirect(to: "/console/service/knowledge", type: .found)
        } catch let error as DomainError {
            return try await knowledgePage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }
}
