import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The service desk over HTTP on both engines: tickets opened by MID + TID and moved through their
/// states, least-loaded dispatch, SLA breaches escalated once, swap-outs that are all or nothing and
/// land in both dossiers, inspection due lists from the plan, and terminals' own fault reports.
@Suite struct ServiceDeskTests {
    static let mid = "898310048161234"

    /// The fixtures plus a technician and an inspector of region A, and the terminals of
    /// `TerminalProtocolTests.terminals` (one bound to merchant A with TID 10000001, one in stock).
    struct Setup {
        let h: Harness
        let bound: Terminal
        let stock: Terminal
        let tech: User
        let techToken: String
        let inspector: User

        static func make(_ h: Harness) async throws -> Setup {
            let (bound, stock) = try await TerminalProtocolTests.terminals(h)
            let access = h.env.services.access
            let admin = try await h.principal("admin")
            let tech = try await access.createUser(NewUser(orgId: h.fixtures.regionA, username: "regionA.tech", displayName: "Tech A",
                                                           role: .technical, password: Fixtures.password), by: admin)
            let inspector = try await access.createUser(NewUser(orgId: h.fixtures.regionA, username: "regionA.inspector", displayName: "Inspector A",
                                                                role: .inspector, password: Fixtures.password), by: admin)
            let token = try await access.createToken(name: "tech", scopes: [], expiresInDays: nil,
                                                     by: try await access.principal(commandLineUser: "regionA.tech")).plaintext
            return Setup(h: h, bound: bound, stock: stock, tech: tech, techToken: token, inspector: inspector)
        }

        /// Opens a ticket as `user` and returns its JSON.
        func open(_ json: String, as user: String = "admin", key: String = UUID().uuidString) async throws -> [String: Any] {
            let response = try await h.send(.post, "/api/v1/tickets", as: user, json: json, headers: [Idempotency.header: key])
            #expect(response.status == .created, "\(response.text)")
            return response.object
        }

        /// Moves a ticket by one action at its current version.
        func act(_ id: String, _ action: String, note: String? = nil, assignee: String? = nil, as user: String = "admin",
                 token: String? = nil) async throws -> TestResponse {
            let version = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object["version"] as? Int ?? 0
            var body: [String: Any] = ["action": action, "version": version]
            if let note { body["note"] = note }
            if let assignee { body["assigneeId"] = assignee }
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            if let token { return try await h.send(.post, "/api/v1/tickets/\(id)/transition", token: token, json: json) }
            return try await h.send(.post, "/api/v1/tickets/\(id)/transition", as: user, json: json)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func ticketsMoveThroughTheirStatesAndGoToTheLeastLoaded(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            // The hotline finds the terminal as the caller names it; another merchant's people do not.
            let lookup = try await h.send(.get, "/api/v1/service/lookup?mid=\(Self.mid)&tid=10000001", as: "admin")
            #expect(lookup.status == .ok && lookup.object["sn"] as? String == "PAX-A920-0001", "\(lookup.text)")
            expectProblem(try await h.send(.get, "/api/v1/service/lookup?mid=898310048169999&tid=10000001", as: "admin"), 404, "wrong MID")
            expectProblem(try await h.send(.get, "/api/v1/service/lookup?mid=\(Self.mid)&tid=10000001", as: "merchantB.owner"), 404)

            let call = #"{"kind": "repair", "caller": "王芳", "callerPhone": "13800138000", "symptom": "screen stays dark", "mid": "\#(Self.mid)", "tid": "10000001"}"#
            let ticket = try await s.open(call, key: "call-1")
            let id = try #require(ticket["id"] as? String)
            #expect(ticket["state"] as? String == "new" && ticket["source"] as? String == "hotline" && ticket["terminalId"] as? String == s.bound.id.rawValue)
            #expect(ticket["mid"] as? String == Self.mid && ticket["responseBreached"] as? Bool == false)
            let replay = try await h.send(.post, "/api/v1/tickets", as: "admin", json: call, headers: [Idempotency.header: "call-1"])
            #expect(replay.object["id"] as? String == id, "the same key answers the same ticket")
            expectProblem(try await h.send(.post, "/api/v1/tickets", as: "admin", json: #"{"kind": "repair", "caller": "x", "symptom": "y", "mid": "\#(Self.mid)"}"#), 422)
            expectProblem(try await h.send(.post, "/api/v1/tickets", as: "merchantB.owner",
                                           json: #"{"kind": "repair", "caller": "x", "symptom": "y", "terminalId": "\#(s.bound.id.rawValue)"}"#), 404)

            // The merchant opens one in the console; the technician gets it explicitly, so the inspector is the less loaded.
            let own = try await s.open(#"{"kind": "consultation", "caller": "owner", "symptom": "how do I refund?", "terminalId": "\#(s.bound.id.rawValue)"}"#,
                                       as: "merchantA.owner")
            let ownId = try #require(own["id"] as? String)
            #expect(own["source"] as? String == "console")
            expectProblem(try await s.act(ownId, "assign", as: "merchantA.owner"), 403, "merchants do not dispatch")
            #expect(try await s.act(ownId, "assign", assignee: s.tech.id.rawValue).object["assigneeName"] as? String == "Tech A")
            let candidates = try await h.send(.get, "/api/v1/tickets/\(id)/candidates", as: "admin").items
            #expect(candidates.map { $0["username"] as? String } == ["regiona.inspector", "regiona.tech"], "\(candidates)")
            #expect(candidates.map { $0["openTickets"] as? Int } == [0, 1])
            let assigned = try await s.act(id, "assign")
            #expect(assigned.object["state"] as? String == "assigned" && assigned.object["assigneeId"] as? String == s.inspector.id.rawValue,
                    "no assignee given: the least loaded")
            expectProblem(try await s.act(id, "assign", assignee: h.user("merchantA.owner").id.rawValue), 422, "not a technician")

            // Illegal moves and stale versions are refused; the legal path goes through.
            expectProblem(try await s.act(id, "close"), 409)
            expectProblem(try await h.send(.post, "/api/v1/tickets/\(id)/transition", as: "admin", json: #"{"action": "start", "version": 1}"#), 409, "stale")
            #expect(try await s.act(id, "start").object["state"] as? String == "in_progress")
            #expect(try await s.act(id, "wait_parts", note: "needs a screen").object["state"] as? String == "waiting_parts")
            #expect(try await s.act(id, "resume").object["state"] as? String == "in_progress")
            expectProblem(try await s.act(id, "resolve"), 422, "a resolution note is required")
            let resolved = try await s.act(id, "resolve", note: "reseated the display cable")
            #expect(resolved.object["state"] as? String == "resolved" && resolved.object["resolution"] as? String == "reseated the display cable")

            // The merchant confirms by rating (once), and may reopen with a reason.
            expectProblem(try await h.send(.post, "/api/v1/tickets/\(id)/rating", as: "merchantB.owner", json: #"{"rating": 5}"#), 404)
            expectProblem(try await h.send(.post, "/api/v1/tickets/\(id)/rating", as: "merchantA.owner", json: #"{"rating": 6}"#), 422)
            let rated = try await h.send(.post, "/api/v1/tickets/\(id)/rating", as: "merchantA.owner", json: #"{"rating": 4, "comment": "quick"}"#)
            #expect(rated.object["state"] as? String == "closed" && rated.object["rating"] as? Int == 4, "\(rated.text)")
            expectProblem(try await h.send(.post, "/api/v1/tickets/\(id)/rating", as: "merchantA.owner", json: #"{"rating": 5}"#), 409)
            let reopened = try await s.act(id, "reopen", note: "dark again", as: "merchantA.owner")
            #expect(reopened.object["state"] as? String == "assigned" && reopened.object["rating"] == nil, "\(reopened.text)")

            let detail = try await h.send(.get, "/api/v1/tickets/\(id)", as: "merchantA.owner").object
            let actions = (detail["events"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(actions == ["open", "assign", "start", "wait_parts", "resume", "resolve", "close", "rate", "reopen"], "\(actions)")
            expectProblem(try await h.send(.get, "/api/v1/tickets/\(id)", as: "merchantB.owner"), 404)
            #expect(try await h.send(.get, "/api/v1/tickets?assigneeId=me", token: s.techToken).items.map { $0["id"] as? String } == [ownId])
            #expect(try await h.send(.get, "/api/v1/tickets", as: "merchantB.owner").items.isEmpty)

            // Figures per technician count the rating (cleared by the reopen) and the open work.
            let figures = try await h.send(.get, "/api/v1/service/figures", as: "admin").items
            #expect(figures.count == 2 && figures.allSatisfy { $0["open"] as? Int == 1 }, "\(figures)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func missedTargetsAreHighlightedEscalatedOnceAndResolvedTicketsCloseThemselves(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let service = h.env.services.service
            let repair = try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "no network", "mid": "\#(Self.mid)", "tid": "10000001"}"#)
            let id = try #require(repair["id"] as? String)
            let urgent = try await s.open(#"{"kind": "consultation", "priority": "urgent", "caller": "王芳", "symptom": "how?", "terminalId": "\#(s.bound.id.rawValue)"}"#)
            let urgentId = try #require(urgent["id"] as? String)
            let opened = try #require(ISO8601DateFormatter.withFractions.date(from: repair["openedAt"] as? String ?? ""))
            let due = try #require(ISO8601DateFormatter.withFractions.date(from: repair["responseDueAt"] as? String ?? ""))
            #expect(abs(due.timeIntervalSince(opened) - 4 * 3600) < 1, "a repair is answered within 4 h")
            #expect(try await service.tick().escalated == 0)

            // Resolve the urgent consultation on the phone before its hour runs out.
            #expect(try await s.act(urgentId, "resolve", note: "explained the refund menu").status == .ok)
            h.env.clock.advance(4 * 3600 + 1)
            let late = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object
            #expect(late["responseBreached"] as? Bool == true && late["fixBreached"] as? Bool == false)
            #expect(try await h.send(.get, "/api/v1/tickets?overdue=true", as: "admin").items.map { $0["id"] as? String } == [id])

            // Escalated once, to region A's administrators (the terminal names no responsible person).
            #expect(try await service.tick().escalated == 1)
            #expect(try await service.tick().escalated == 0, "a tick is idempotent")
            let escalated = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object
            #expect(escalated["escalatedTo"] as? String == "regiona.admin", "\(escalated)")
            let escalations = (escalated["events"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "escalate" }
            #expect(escalations.count == 1)
            let audit = try await h.env.services.access.auditEvents(AuditFilter(), page: PageRequest(limit: 200), by: try await h.principal("admin")).items
            #expect(audit.filter { $0.action == "ticket.escalate" && $0.resourceId == id }.count == 1)

            // Resolved a week ago without the merchant's word: closed by the timer.
            h.env.clock.advance(Double(ServiceRules.autoCloseDays) * 86400)
            let report = try await service.tick()
            #expect(report.autoClosed == 1)
            #expect(try await h.send(.get, "/api/v1/tickets/\(urgentId)", as: "admin").object["state"] as? String == "closed")
            #expect(try await service.tick().autoClosed == 0)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aSwapOutIsAllOrNothingAndLandsInBothDossiers(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let estate = h.env.services.estate
            let admin = try await h.principal("admin")
            _ = try await estate.install(s.bound.id, installer: "Li", placement: nil, by: admin)
            _ = try await estate.commission(s.bound.id, by: admin)
            _ = try await estate.sendToRepair(s.stock.id, reason: "dented", by: admin)
            let ticket = try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "card reader dead", "mid": "\#(Self.mid)", "tid": "10000001"}"#)
            let id = try #require(ticket["id"] as? String)
            _ = try await s.act(id, "assign", assignee: s.tech.id.rawValue)
            _ = try await s.act(id, "start", token: s.techToken)
            func repair(_ replacement: String, version: Int) async throws -> TestResponse {
                try await h.send(.post, "/api/v1/tickets/\(id)/repair", token: s.techToken, json: """
                    {"version": \(version), "diagnosis": "hardware", "parts": ["card reader"], "result": "swapped the terminal", "replacementSn": "\(replacement)"}
                    """)
            }
            let historyBefore = try await estate.dossier(s.bound.id, by: admin).history.count
            let version = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object["version"] as? Int ?? 0

            // The replacement is in repair: the old terminal's steps ran first and are undone with the refusal.
            expectProblem(try await repair("PAX-A920-0002", version: version), 409, "replacement cannot be bound")
            let untouched = try await estate.dossier(s.bound.id, by: admin)
            #expect(untouched.terminal.state == .inService && untouched.binding?.mid == Self.mid && untouched.history.count == historyBefore)
            #expect(try await estate.dossier(s.stock.id, by: admin).terminal.state == .inRepair)
            let same = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object
            #expect(same["version"] as? Int == version && same["state"] as? String == "in_progress" && same["repair"] == nil)
            expectProblem(try await h.send(.post, "/api/v1/tickets/\(id)/repair", as: "merchantA.owner",
                                           json: #"{"version": \#(version), "diagnosis": "software", "result": "x"}"#), 403)

            // Back from repair, it replaces the faulty one in one step.
            _ = try await estate.returnFromRepair(s.stock.id, note: nil, by: admin)
            let done = try await repair("PAX-A920-0002", version: version)
            #expect(done.status == .ok, "\(done.text)")
            #expect(done.object["state"] as? String == "resolved")
            #expect((done.object["repair"] as? [String: Any])?["replacementSn"] as? String == "PAX-A920-0002")
            let old = try await estate.dossier(s.bound.id, by: admin)
            let new = try await estate.dossier(s.stock.id, by: admin)
            #expect(old.terminal.state == .inRepair && old.binding == nil && old.terminal.merchantId == nil)
            #expect(new.terminal.state == .inService && new.binding?.mid == Self.mid && new.terminal.merchantId == h.fixtures.merchantA)
            #expect(new.terminal.placement == untouched.terminal.placement, "the replacement stands where the old one stood")
            let oldActions = old.history.map(\.action), newActions = new.history.map(\.action)
            #expect(Array(oldActions.prefix(4)) == ["service_repair", "send_to_repair", "return_to_stock", "remove"], "\(oldActions)")
            #expect(Array(newActions.prefix(4)) == ["service_repair", "commission", "install", "bind"], "\(newActions)")
            #expect(old.history.first?.details["replacement"] == "PAX-A920-0002")
            // The merchant's number now reaches the replacement.
            #expect(try await h.send(.get, "/api/v1/service/lookup?mid=\(Self.mid)&tid=10000002", as: "admin").object["sn"] as? String == "PAX-A920-0002")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func inspectionsComeDueByThePlanOnEachInspectorsList(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let service = h.env.services.service
            let admin = try await h.principal("admin")
            // A mobile merchant in region B with its own terminal.
            let model = s.bound.modelId
            let third = try await h.env.services.estate.stockIn(StockIn(sn: "PAX-A920-0003", tid: "10000003", modelId: model, ownerId: h.fixtures.regionB),
                                                                by: admin)
            try await Fixtures.onboard(h.fixtures.merchantB, services: h.env.services,
                                       application: Fixtures.application(creditCode: "91350100M000200Y1H", businessType: .mobile),
                                       mid: "898310048165678")
            _ = try await h.env.services.estate.bind(third.id, BindRequest(merchantId: h.fixtures.merchantB, storeId: nil, placement: nil), by: admin)

            expectProblem(try await h.send(.put, "/api/v1/inspection-plan", as: "regionA.admin",
                                           json: #"{"fixedIntervalDays": 365, "mobileIntervalDays": 30, "leadDays": 7}"#), 403)
            expectProblem(try await h.send(.put, "/api/v1/inspection-plan", as: "admin",
                                           json: #"{"fixedIntervalDays": 400, "mobileIntervalDays": 30, "leadDays": 7}"#), 422, "at least yearly")
            #expect(try await h.send(.put, "/api/v1/inspection-plan", as: "admin",
                                     json: #"{"fixedIntervalDays": 365, "mobileIntervalDays": 30, "leadDays": 7}"#).status == .ok)
            #expect(try await service.tick().inspectionsPlanned == 0, "nothing due yet")

            // The mobile merchant comes due within the lead time first; the fixed site after a year.
            h.env.clock.advance(24 * 86400)
            #expect(try await service.tick().inspectionsPlanned == 1)
            #expect(try await h.send(.get, "/api/v1/inspections", as: "admin").items.map { $0["sn"] as? String } == ["PAX-A920-0003"])
            h.env.clock.advance(336 * 86400)
            #expect(try await service.tick().inspectionsPlanned == 1, "the open mobile task is not planned twice")
            let all = try await h.send(.get, "/api/v1/inspections", as: "admin").items
            #expect(all.map { $0["sn"] as? String } == ["PAX-A920-0003", "PAX-A920-0001"], "by due date")

            // Each inspector's list: their own and the unassigned of their region.
            let regionA = try await h.send(.get, "/api/v1/inspections?mine=true", token: s.techToken).items
            #expect(regionA.map { $0["sn"] as? String } == ["PAX-A920-0001"])
            let task = regionA[0]
            let taskId = try #require(task["id"] as? String)
            let assigned = try await h.send(.post, "/api/v1/inspections/\(taskId)/assign", as: "admin",
                                            json: #"{"inspectorId": "\#(s.inspector.id.rawValue)", "version": 1}"#)
            #expect(assigned.object["inspectorName"] as? String == "Inspector A", "\(assigned.text)")
            #expect(try await h.send(.get, "/api/v1/inspections?mine=true", token: s.techToken).items.isEmpty, "given to someone else")
            let inspector = try await h.env.services.access.principal(commandLineUser: "regionA.inspector")
            #expect(try await service.dueInspections(mine: true, by: inspector).map(\.sn) == ["PAX-A920-0001"])

            // The visit: a failed item cannot pass; recorded with issues, it lands in the dossier.
            let checklist = InspectionChecklist(devicePresent: true, sealsIntact: true, notRelocated: true, signage: false, testTransaction: true)
            await #expect(throws: DomainError.self) {
                _ = try await service.recordInspection(taskId, InspectionInput(checklist: checklist, latitude: 31.2, longitude: 121.4, outcome: .passed,
                                                                               note: nil), version: 2, by: inspector)
            }
            let photo = try await service.attachPhoto(taskId, filename: "seal.png", bytes: DemoData.samplePNG, by: inspector)
            #expect(try await h.send(.get, "/api/v1/inspections/\(taskId)/photos/\(photo.id.rawValue)", as: "admin").bytes == DemoData.samplePNG)
            let done = try await service.recordInspection(taskId, InspectionInput(checklist: checklist, latitude: 31.2, longitude: 121.4,
                                                                                  outcome: .issues, note: "sticker missing"), version: 3, by: inspector)
            #expect(done.state == .done && done.record?.outcome == .issues && done.photos.map(\.id) == [photo.id])
            let history = try await h.env.services.estate.dossier(s.bound.id, by: admin).history
            #expect(history.first?.action == "inspection" && history.first?.details["failed"] == "signage")
            #expect(try await service.tick().inspectionsPlanned == 0, "the next visit is a year away")
            #expect(try await h.send(.get, "/api/v1/terminals/\(s.bound.id.rawValue)/inspections", as: "merchantB.owner").status == .notFound)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func attachmentsCommentsArticlesAndRequestedInspections(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let ticket = try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "cracked screen", "terminalId": "\#(s.bound.id.rawValue)"}"#)
            let id = try #require(ticket["id"] as? String)
            // A photo (the bytes are encrypted at rest and come back as they went in); not an image or PDF is refused.
            let uploaded = try await MerchantAPITests.upload(h, "/api/v1/tickets/\(id)/attachments?filename=screen.png", as: "merchantA.owner",
                                                             bytes: DemoData.samplePNG, type: "image/png")
            #expect(uploaded.status == .created, "\(uploaded.text)")
            let attachment = try #require(uploaded.object["id"] as? String)
            let download = try await h.send(.get, "/api/v1/tickets/\(id)/attachments/\(attachment)", as: "admin")
            #expect(download.status == .ok && download.bytes == DemoData.samplePNG && download.headers[.contentType] == "image/png")
            expectProblem(try await MerchantAPITests.upload(h, "/api/v1/tickets/\(id)/attachments", as: "admin", bytes: Array("hello".utf8)), 422)
            expectProblem(try await h.send(.get, "/api/v1/tickets/\(id)/attachments/\(attachment)", as: "merchantB.owner"), 404)

            // Comments join the history; the knowledge base is written by the desk and read by merchants.
            let comment = try await h.send(.post, "/api/v1/tickets/\(id)/comments", as: "merchantA.owner", json: #"{"note": "it happens after rain"}"#)
            #expect(comment.status == .created && comment.object["action"] as? String == "comment", "\(comment.text)")
            expectProblem(try await h.send(.post, "/api/v1/knowledge-articles", as: "merchantA.owner", json: #"{"title": "x", "body": "y"}"#), 403)
            let article = try await h.send(.post, "/api/v1/knowledge-articles", as: "admin", json: #"{"title": "退款", "body": "按退款键", "tags": ["refund"]}"#)
            let articleId = try #require(article.object["id"] as? String)
            let changed = try await h.send(.put, "/api/v1/knowledge-articles/\(articleId)", as: "admin",
                                           json: #"{"title": "退款说明", "body": "按退款键，刷原卡", "version": 1}"#)
            #expect(changed.object["version"] as? Int == 2)
            expectProblem(try await h.send(.put, "/api/v1/knowledge-articles/\(articleId)", as: "admin", json: #"{"title": "x", "body": "y", "version": 1}"#), 409)
            #expect(try await h.send(.get, "/api/v1/knowledge-articles", as: "merchantA.owner").items.map { $0["title"] as? String } == ["退款说明"])
            let linked = try await s.open(#"{"kind": "consultation", "caller": "owner", "symptom": "refund?", "terminalId": "\#(s.bound.id.rawValue)", "articleIds": ["\#(articleId)"]}"#,
                                          as: "merchantA.owner")
            #expect(linked["articleIds"] as? [String] == [articleId])

            // An inspection asked for now is on the region's due list at once; a second one for the terminal is refused.
            let requested = try await h.send(.post, "/api/v1/inspections", as: "admin", json: #"{"terminalId": "\#(s.bound.id.rawValue)", "note": "complaint"}"#)
            #expect(requested.status == .created && requested.object["reason"] as? String == "manual", "\(requested.text)")
            expectProblem(try await h.send(.post, "/api/v1/inspections", as: "admin", json: #"{"terminalId": "\#(s.bound.id.rawValue)"}"#), 409)
            #expect(try await h.send(.get, "/api/v1/inspections?mine=true", token: s.techToken).items.count == 1)
            #expect(try await h.send(.get, "/api/v1/inspection-plan", as: "merchantA.owner").object["fixedIntervalDays"] as? Int == 365)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aTerminalReportsItsOwnFaultOnce(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await FleetOperationsTests.Device.activate(h)
            let first = try await device.send(.post, "/terminal/v1/faults", json: #"{"symptom": "printer jammed", "code": "E17"}"#)
            #expect(first.status == .created, "\(first.text)")
            let id = try #require(first.object["ticketId"] as? String)
            let again = try await device.send(.post, "/terminal/v1/faults", json: #"{"symptom": "printer jammed", "code": "E17"}"#)
            #expect(again.object["ticketId"] as? String == id, "an open self-reported ticket takes the repeat")
            expectProblem(try await h.send(.post, "/terminal/v1/faults", json: #"{"symptom": "x"}"#), 401)
            expectProblem(try await device.send(.post, "/terminal/v1/faults", json: #"{"symptom": ""}"#), 422)
            let ticket = try await h.send(.get, "/api/v1/tickets/\(id)", as: "merchantA.owner").object
            #expect(ticket["source"] as? String == "terminal" && ticket["priority"] as? String == "high" && ticket["symptom"] as? String == "[E17] printer jammed")
            #expect((ticket["events"] as? [[String: Any]] ?? []).map { $0["action"] as? String } == ["open", "fault"])
        }
    }
}

extension ISO8601DateFormatter {
    /// The API's time format (milliseconds).
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}

/// The service desk's console pages: the hotline opens a repair ticket by MID + TID, dispatches it
/// and closes it with a swap-out that both dossiers show; the pages speak Chinese too.
@Suite struct ServiceConsoleTests {
    @Test(arguments: TestBackend.allCases)
    func theHotlineOpensARepairByMidAndTidAndSwapsTheTerminal(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await ServiceDeskTests.Setup.make(h)
            let admin = try await h.principal("admin")
            _ = try await h.env.services.estate.install(s.bound.id, installer: "Li", placement: nil, by: admin)
            var (jar, csrf) = try await h.consoleSession("admin")
            let list = try await h.browse(.get, "/console/service", jar: &jar)
            #expect(list.status == .ok && list.text.contains(#"id="ticket-form""#))
            let bad = try await h.browse(.post, "/console/service/tickets", jar: &jar, form: [
                ("_csrf", csrf), ("kind", "repair"), ("priority", "high"), ("mid", ServiceDeskTests.mid), ("tid", "99999999"),
                ("caller", "王芳"), ("symptom", "dead")])
            #expect(bad.status == .notFound, "an unknown TID: \(bad.status)")
            let opened = try await h.browse(.post, "/console/service/tickets", jar: &jar, form: [
                ("_csrf", csrf), ("kind", "repair"), ("priority", "high"), ("mid", ServiceDeskTests.mid), ("tid", "10000001"),
                ("caller", "王芳"), ("callerPhone", "13800138000"), ("symptom", "card reader dead")])
            #expect(opened.status == .found, "\(opened.text)")
            let location = try #require(opened.headers[.location])
            #expect(location.hasPrefix("/console/service/tickets/"))
            let page = try await h.browse(.get, location, jar: &jar)
            #expect(page.text.contains("PAX-A920-0001") && page.text.contains(#"id="action-form""#) && page.text.contains(#"id="ticket-assignee""#))
            for (action, version) in [("assign", "1"), ("start", "2")] {
                let moved = try await h.browse(.post, location + "/action", jar: &jar, form: [("_csrf", csrf), ("action", action), ("version", version),
                                                                                             ("assigneeId", s.tech.id.rawValue)])
                #expect(moved.status == .found, "\(action): \(moved.text)")
            }
            let stale = try await h.browse(.post, location + "/action", jar: &jar, form: [("_csrf", csrf), ("action", "resolve"), ("version", "1"),
                                                                                         ("note", "x")])
            #expect(stale.status == .conflict && stale.text.contains("role=\"alert\""))
            let swapped = try await h.browse(.post, location + "/repair", jar: &jar, form: [
                ("_csrf", csrf), ("version", "3"), ("diagnosis", "hardware"), ("parts", "card reader"), ("result", "swapped"),
                ("replacementSn", "PAX-A920-0002")])
            #expect(swapped.status == .found, "\(swapped.text)")
            let done = try await h.browse(.get, location, jar: &jar)
            #expect(done.text.contains(#"id="replacement-link""#) && done.text.contains(#"data-state="resolved""#))
            for terminal in [s.bound, s.stock] {
                let dossier = try await h.browse(.get, "/console/terminals/\(terminal.id.rawValue)", jar: &jar)
                #expect(dossier.text.contains("Repair (service ticket)"), "\(terminal.sn)'s dossier shows the swap-out")
            }
            // The merchant rates it in its own console, in Chinese.
            var (merchantJar, merchantCSRF) = try await h.consoleSession("merchantA.owner")
            let chinese = try await h.browse(.get, location, jar: &merchantJar, headers: [.acceptLanguage: "zh-CN"])
            #expect(chinese.text.contains("已解决") && chinese.text.contains(#"id="rating-form""#))
            let rated = try await h.browse(.post, location + "/rating", jar: &merchantJar, form: [("_csrf", merchantCSRF), ("rating", "5")])
            #expect(rated.status == .found)
            #expect(try await h.browse(.get, "/console/service/inspections", jar: &jar).status == .ok)
            #expect(try await h.browse(.get, "/console/service/knowledge", jar: &jar).status == .ok)
            let article = try await h.browse(.post, "/console/service/knowledge", jar: &jar, form: [("_csrf", csrf), ("title", "退款"), ("body", "按退款键")])
            #expect(article.status == .found)
            #expect(try await h.browse(.get, "/console/service/knowledge", jar: &merchantJar).text.contains("按退款键"))
        }
    }
}
