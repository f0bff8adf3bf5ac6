import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The service desk's second step on both engines: the SLA clock stands still while a ticket waits,
/// escalations reach the responsible person's console inbox and the service webhook, each acquirer
/// sets its own SLA table, and the console uploads and shows ticket attachments and inspection photos.
@Suite struct ServiceDeskGapsTests {
    typealias Setup = ServiceDeskTests.Setup

    static func date(_ object: [String: Any], _ key: String) throws -> Date {
        try #require(ISO8601DateFormatter.withFractions.date(from: object[key] as? String ?? ""), "\(key) in \(object)")
    }

    @Test(arguments: TestBackend.allCases)
    func theSLAClockStandsStillWhileTheTicketWaits(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let service = h.env.services.service
            let hour = 3600.0
            // A repair (fix within 24 h) waits for parts from hour 2 to hour 12; another waits from hour 2 on.
            let waited = try #require(try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "no paper feed", "terminalId": "\#(s.bound.id.rawValue)"}"#)["id"] as? String)
            let waiting = try #require(try await s.open(#"{"kind": "repair", "caller": "李雷", "symptom": "keypad worn", "terminalId": "\#(s.bound.id.rawValue)"}"#)["id"] as? String)
            let opened = try Self.date(try await h.send(.get, "/api/v1/tickets/\(waited)", as: "admin").object, "openedAt")
            for id in [waited, waiting] {
                #expect(try await s.act(id, "assign", assignee: s.tech.id.rawValue).status == .ok)
            }
            h.env.clock.advance(hour)
            for id in [waited, waiting] { #expect(try await s.act(id, "start").status == .ok) }
            h.env.clock.advance(hour)
            for id in [waited, waiting] { #expect(try await s.act(id, "wait_parts", note: "reader ordered").status == .ok) }
            let paused = try await h.send(.get, "/api/v1/tickets/\(waited)", as: "admin").object
            #expect(paused["pausedAt"] != nil && paused["state"] as? String == "waiting_parts", "\(paused)")
            h.env.clock.advance(10 * hour)
            let resumed = try await s.act(waited, "resume")
            #expect(resumed.status == .ok, "\(resumed.text)")
            // Ten hours of waiting move the fix target from hour 24 to hour 34.
            let fixDue = try Self.date(resumed.object, "fixDueAt")
            #expect(abs(fixDue.timeIntervalSince(opened) - 34 * hour) < 1, "\(resumed.text)")
            // Times are stored to the millisecond, so the wait is ten hours give or take one.
            #expect(abs((resumed.object["pausedSeconds"] as? Double ?? 0) - 10 * hour) < 0.01 && resumed.object["pausedAt"] == nil,
                    "\(resumed.text)")

            // Hour 30: neither is breached (the waiting one's clock still stands at hour 2).
            h.env.clock.advance(18 * hour)
            for id in [waited, waiting] {
                let ticket = try await h.send(.get, "/api/v1/tickets/\(id)", as: "admin").object
                #expect(ticket["fixBreached"] as? Bool == false && ticket["responseBreached"] as? Bool == false, "\(id) at hour 30")
            }
            #expect(try await h.send(.get, "/api/v1/tickets?overdue=true", as: "admin").items.isEmpty)
            #expect(try await service.tick().escalated == 0)

            // Past hour 34 the resumed ticket is breached and escalated; the one still waiting is not.
            h.env.clock.advance(4 * hour + 60)
            let late = try await h.send(.get, "/api/v1/tickets/\(waited)", as: "admin").object
            #expect(late["fixBreached"] as? Bool == true)
            #expect(try await h.send(.get, "/api/v1/tickets/\(waiting)", as: "admin").object["fixBreached"] as? Bool == false)
            #expect(try await h.send(.get, "/api/v1/tickets?overdue=true", as: "admin").items.map { $0["id"] as? String } == [waited])
            #expect(try await service.tick().escalated == 1)
            let figures = try await h.send(.get, "/api/v1/service/figures", as: "admin").items
            #expect(figures.first?["fixBreaches"] as? Int == 1, "\(figures)")
        }
    }

    /// A loopback listener counting what the webhook posts.
    actor Received {
        var bodies: [String] = []
        func add(_ body: String) { bodies.append(body) }
    }

    @Test(arguments: TestBackend.allCases)
    func escalationsReachTheInboxOfTheResponsiblePersonAndTheWebhook(backend: TestBackend) async throws {
        let received = Received()
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            await received.add(String(buffer: try await request.body.collect(upTo: 1 << 20)))
            return .noContent
        }
        try await Application(router: router).test(.live) { client in
            let port = try #require(client.port)
            try await Harness.run(backend) { h in
                let s = try await Setup.make(h)
                let services = h.env.services
                let admin = try await h.principal("admin")
                // A second terminal at merchant A names the technician as its responsible person.
                let model = s.bound.modelId
                let named = try await services.estate.stockIn(StockIn(sn: "PAX-A920-0003", tid: "10000003", modelId: model, ownerId: h.fixtures.regionA,
                                                                      responsiblePerson: "regionA.tech"), by: admin)
                _ = try await services.estate.bind(named.id, BindRequest(merchantId: h.fixtures.merchantA, storeId: nil,
                                                                         placement: Placement(address: "A street 2", latitude: 31.2, longitude: 121.4)),
                                                   by: admin)
                let plain = try #require(try await s.open(#"{"kind": "repair", "caller": "王芳", "callerPhone": "13800138000", "symptom": "dead", "terminalId": "\#(s.bound.id.rawValue)"}"#)["id"] as? String)
                let owned = try #require(try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "slow", "terminalId": "\#(named.id.rawValue)"}"#)["id"] as? String)
                let desk = ServiceDeskService(store: services.store, estate: services.estate, vault: services.service.vault, clock: services.service.clock,
                                              notifier: WebhookNotifier(url: URL(string: "http://127.0.0.1:\(port)/hook")!, firstPause: .milliseconds(50)))
                h.env.clock.advance(4 * 3600 + 1)
                #expect(try await desk.tick().escalated == 2)
                #expect(try await desk.tick().escalated == 0, "each ticket is escalated and announced once")
                for _ in 0..<100 where await received.bodies.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
                let bodies = await received.bodies
                #expect(bodies.count == 1, "\(bodies)")
                let payload = try #require(try JSONSerialization.jsonObject(with: Data((bodies.first ?? "").utf8)) as? [String: Any])
                #expect(payload["event"] as? String == "service.escalated")
                let escalations = payload["escalations"] as? [[String: Any]] ?? []
                #expect(Set(escalations.compactMap { $0["ticketId"] as? String }) == [plain, owned])
                #expect(escalations.allSatisfy { $0["missed"] as? String == "response" })
                #expect(escalations.first { $0["ticketId"] as? String == owned }?["escalatedTo"] as? String == "regionA.tech")
                #expect(bodies.allSatisfy { !$0.contains("13800138000") }, "the caller's phone stays inside")

                // The technician's inbox holds the ticket about their terminal; region A's administrator the other.
                var (techJar, techCSRF) = try await h.consoleSession("regionA.tech")
                let dashboard = try await h.browse(.get, "/console", jar: &techJar)
                #expect(dashboard.text.contains(#"id="unread-count">1<"#), "the header counts one unread message")
                let inbox = try await h.browse(.get, "/console/notifications", jar: &techJar)
                #expect(inbox.text.contains("/console/service/tickets/\(owned)") && !inbox.text.contains("/console/service/tickets/\(plain)"))
                #expect(inbox.text.contains("missed its response target"))
                var (adminJar, _) = try await h.consoleSession("regionA.admin")
                let adminInbox = try await h.browse(.get, "/console/notifications", jar: &adminJar, headers: [.acceptLanguage: "zh-CN"])
                #expect(adminInbox.text.contains("/console/service/tickets/\(plain)") && adminInbox.text.contains("超出响应时限"))
                #expect(!adminInbox.text.contains("/console/service/tickets/\(owned)"))

                // Marked read by its owner only: another person's message is not found.
                let mine = try #require(try await services.notifications.inbox(by: try await h.principal("regionA.tech")).first)
                #expect(mine.link == "/console/service/tickets/\(owned)" && mine.readAt == nil)
                await #expect(throws: DomainError.self) { try await services.notifications.markRead(mine.id, by: try await h.principal("regionA.admin")) }
                let read = try await h.browse(.post, "/console/notifications/\(mine.id)/read", jar: &techJar, form: [("_csrf", techCSRF)])
                #expect(read.status == .found)
                #expect(!(try await h.browse(.get, "/console", jar: &techJar)).text.contains(#"id="unread-count""#))
                #expect(try await services.notifications.unreadCount(by: try await h.principal("regionA.admin")) == 1)
                #expect(try await services.notifications.markAllRead(by: try await h.principal("regionA.admin")) == 1)
            }
        }
    }

    /// The whole table as JSON with one row changed.
    static func table(changing kind: String = "repair", _ priority: String = "normal", response: Double, fix: Double, drop: Bool = false) -> String {
        let rows = ServiceLevelTable.defaults.levels.compactMap { row -> String? in
            let target = row.kind.rawValue == kind && row.priority.rawValue == priority
            if target && drop { return nil }
            return #"{"kind": "\#(row.kind.rawValue)", "priority": "\#(row.priority.rawValue)", "responseHours": \#(target ? response : row.responseHours), "fixHours": \#(target ? fix : row.fixHours)}"#
        }
        return #"{"levels": [\#(rows.joined(separator: ", "))]}"#
    }

    @Test(arguments: TestBackend.allCases)
    func eachAcquirerSetsItsSLATableAndNewTicketsTakeIt(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let initial = try await h.send(.get, "/api/v1/service-sla", as: "merchantA.owner")
            let levels = initial.object["levels"] as? [[String: Any]] ?? []
            #expect(levels.count == TicketKind.allCases.count * TicketPriority.allCases.count)
            let repair = levels.first { $0["kind"] as? String == "repair" && $0["priority"] as? String == "normal" }
            #expect(repair?["responseHours"] as? Double == 4 && repair?["fixHours"] as? Double == 24, "the defaults are the built-in table")
            let before = try #require(try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "dead", "terminalId": "\#(s.bound.id.rawValue)"}"#)["id"] as? String)

            // Validated and permitted: positive hours, response before fix, every row; service.admin at the top of the tree.
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "merchantA.owner", json: Self.table(response: 2, fix: 12)), 403)
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "regionA.admin", json: Self.table(response: 2, fix: 12)), 403)
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "admin", json: Self.table(response: 13, fix: 12)), 422)
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "admin", json: Self.table(response: 0, fix: 12)), 422)
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "admin", json: Self.table(response: -1, fix: 12)), 422)
            expectProblem(try await h.send(.put, "/api/v1/service-sla", as: "admin", json: Self.table(response: 2, fix: 12, drop: true)), 422)
            let saved = try await h.send(.put, "/api/v1/service-sla", as: "admin", json: Self.table(response: 2, fix: 12))
            #expect(saved.status == .ok, "\(saved.text)")
            let audit = try await h.env.services.access.auditEvents(AuditFilter(action: "service.sla"), page: PageRequest(limit: 10),
                                                                   by: try await h.principal("admin")).items
            #expect(audit.count == 1 && audit.first?.summary.contains(#""repair/normal":"4/24 h → 2/12 h""#) == true, "\(audit)")

            // A new ticket takes the acquirer's table; the one opened before keeps its targets.
            let after = try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "dead again", "mid": "\#(ServiceDeskTests.mid)", "tid": "10000001"}"#)
            #expect(abs(try Self.date(after, "fixDueAt").timeIntervalSince(try Self.date(after, "openedAt")) - 12 * 3600) < 1)
            #expect(abs(try Self.date(after, "responseDueAt").timeIntervalSince(try Self.date(after, "openedAt")) - 2 * 3600) < 1)
            let old = try await h.send(.get, "/api/v1/tickets/\(before)", as: "admin").object
            #expect(abs(try Self.date(old, "fixDueAt").timeIntervalSince(try Self.date(old, "openedAt")) - 24 * 3600) < 1)

            // The console page: editable for the acquirer's administrator, read-only for the merchant, in both languages.
            var (jar, csrf) = try await h.consoleSession("admin")
            let page = try await h.browse(.get, "/console/service/sla", jar: &jar)
            #expect(page.status == .ok && page.text.contains(#"id="fix_repair_normal" value="12""#) && page.text.contains(#"id="sla-submit""#))
            var form: [(String, String)] = [("_csrf", csrf)]
            for row in ServiceLevelTable.defaults.levels {
                let suffix = "\(row.kind.rawValue)_\(row.priority.rawValue)"
                form.append(("response_\(suffix)", suffix == "repair_urgent" ? "1.5" : ServiceDeskService.hours(row.responseHours)))
                form.append(("fix_\(suffix)", ServiceDeskService.hours(row.fixHours)))
            }
            #expect(try await h.browse(.post, "/console/service/sla", jar: &jar, form: form).status == .found)
            #expect(try await h.send(.get, "/api/v1/service-sla", as: "admin").object["levels"].map { "\($0)" }?.contains("1.5") == true)
            let bad = form.map { $0.0 == "fix_training_low" ? ($0.0, "soon") : $0 }
            let refused = try await h.browse(.post, "/console/service/sla", jar: &jar, form: bad)
            #expect(refused.status == .unprocessableContent && refused.text.contains(#"id="sla-error""#) && refused.text.contains(#"value="soon""#))
            var (merchantJar, _) = try await h.consoleSession("merchantA.owner")
            let readOnly = try await h.browse(.get, "/console/service/sla", jar: &merchantJar, headers: [.acceptLanguage: "zh-CN"])
            #expect(readOnly.status == .ok && readOnly.text.contains("服务时限") && !readOnly.text.contains(#"id="sla-submit""#))
        }
    }

    /// A multipart body with one file field.
    static func multipart(_ filename: String, _ bytes: [UInt8], type: String = "image/png") -> ByteBuffer {
        var body = ByteBuffer()
        body.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(type)\r\n\r\n")
        body.writeBytes(bytes)
        body.writeString("\r\n--XyZ--\r\n")
        return body
    }

    @Test(arguments: TestBackend.allCases)
    func theConsoleUploadsAndShowsAttachmentsAndInspectionPhotos(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let s = try await Setup.make(h)
            let id = try #require(try await s.open(#"{"kind": "repair", "caller": "王芳", "symptom": "cracked", "terminalId": "\#(s.bound.id.rawValue)"}"#)["id"] as? String)
            var (jar, csrf) = try await h.consoleSession("merchantA.owner")
            let type: HTTPFields = [.contentType: "multipart/form-data; boundary=XyZ"]
            func post(_ path: String, _ body: ByteBuffer, language: String = "en") async throws -> TestResponse {
                var headers = jar.headers(type)
                headers[.acceptLanguage] = language
                return try await h.client.execute(uri: path + "?_csrf=\(csrf)", method: .post, headers: headers, body: body)
            }
            let page = try await h.browse(.get, "/console/service/tickets/\(id)", jar: &jar)
            #expect(page.text.contains(#"id="attachment-form""#) && page.text.contains("Nothing uploaded yet."))
            let uploaded = try await post("/console/service/tickets/\(id)/attachments", Self.multipart("裂屏.png", DemoData.samplePNG))
            #expect(uploaded.status == .found, "\(uploaded.text.prefix(300))")
            #expect(try await post("/console/service/tickets/\(id)/attachments", Self.multipart("receipt.pdf", Array("%PDF-1.4\n%%EOF\n".utf8), type: "application/pdf")).status == .found)
            let stored = try await h.env.services.service.ticket(TicketID(rawValue: id), by: try await h.principal("admin")).ticket.attachments
            #expect(stored.map(\.filename) == ["裂屏.png", "receipt.pdf"])
            let png = try #require(stored.first)
            let shown = try await h.browse(.get, "/console/service/tickets/\(id)", jar: &jar)
            let href = "/console/service/tickets/\(id)/attachments/\(png.id.rawValue)"
            #expect(shown.text.contains(#"<img class="thumb" src="\#(href)""#), "the image is a thumbnail")
            #expect(shown.text.components(separatedBy: #"class="thumb""#).count == 2, "the PDF is a link only")
            let download = try await h.browse(.get, href, jar: &jar)
            #expect(download.status == .ok && download.bytes == DemoData.samplePNG && download.headers[.contentType] == "image/png")
            var (otherJar, _) = try await h.consoleSession("merchantB.owner")
            #expect(try await h.browse(.get, href, jar: &otherJar).status == .notFound)

            // Refused with a readable message in the reader's language; nothing stored.
            let wrong = try await post("/console/service/tickets/\(id)/attachments", Self.multipart("x.txt", Array("hello".utf8), type: "text/plain"),
                                       language: "zh-CN")
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("只能上传 JPEG、PNG 图片或 PDF 文件"), "\(wrong.text.prefix(200))")
            let huge = [UInt8](repeating: 0x89, count: MerchantRules.maxDocumentBytes + 100 * 1024)
            let tooLarge = try await post("/console/service/tickets/\(id)/attachments", Self.multipart("big.png", huge))
            #expect(tooLarge.status == .unprocessableContent && tooLarge.text.contains("larger than 5 MB"), "\(tooLarge.status)")
            let empty = try await post("/console/service/tickets/\(id)/attachments", Self.multipart("", []))
            #expect(empty.status == .unprocessableContent && empty.text.contains("Choose a file"))
            #expect(try await h.env.services.service.ticket(TicketID(rawValue: id), by: try await h.principal("admin")).ticket.attachments.count == 2)

            // The inspection page: the task, a photo uploaded from the console, the visit recorded there.
            let task = try await h.env.services.service.requestInspection(of: s.bound.id, note: "complaint", by: try await h.principal("admin"))
            let (techJar, techCSRF) = try await h.consoleSession("regionA.inspector")
            csrf = techCSRF
            jar = techJar
            let list = try await h.browse(.get, "/console/service/inspections", jar: &jar)
            #expect(list.text.contains("/console/service/inspections/\(task.id)"))
            let taskPage = try await h.browse(.get, "/console/service/inspections/\(task.id)", jar: &jar)
            #expect(taskPage.status == .ok && taskPage.text.contains(#"id="photo-form""#) && taskPage.text.contains(#"id="inspection-record-form""#))
            #expect(try await post("/console/service/inspections/\(task.id)/photos", Self.multipart("site.png", DemoData.samplePNG)).status == .found)
            let photo = try #require(try await h.env.services.service.inspection(task.id, by: try await h.principal("admin")).photos.first)
            let withPhoto = try await h.browse(.get, "/console/service/inspections/\(task.id)", jar: &jar)
            #expect(withPhoto.text.contains(#"<img class="thumb" src="/console/service/inspections/\#(task.id)/photos/\#(photo.id.rawValue)""#))
            #expect(try await h.browse(.get, "/console/service/inspections/\(task.id)/photos/\(photo.id.rawValue)", jar: &jar).bytes == DemoData.samplePNG)
            let badPhoto = try await post("/console/service/inspections/\(task.id)/photos", Self.multipart("x.gif", Array("GIF89a".utf8)))
            #expect(badPhoto.status == .unprocessableContent && badPhoto.text.contains("Only JPEG or PNG images"))
            let recorded = try await h.browse(.post, "/console/service/inspections/\(task.id)/record", jar: &jar, form: [
                ("_csrf", csrf), ("version", "2"), ("devicePresent", "1"), ("sealsIntact", "1"), ("notRelocated", "1"), ("signage", "1"),
                ("testTransaction", "1"), ("outcome", "passed"), ("back", "task")])
            #expect(recorded.status == .found && recorded.headers[.location] == "/console/service/inspections/\(task.id)", "\(recorded.text.prefix(300))")
            let done = try await h.browse(.get, "/console/service/inspections/\(task.id)", jar: &jar, headers: [.acceptLanguage: "zh-CN"])
            #expect(done.text.contains(#"id="inspection-record""#) && done.text.contains("巡检记录") && !done.text.contains(#"id="inspection-record-form""#))
        }
    }
}
