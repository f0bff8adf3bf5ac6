import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Software packages, staged update campaigns and the compliance report on both engines: publishing
/// (checksum refused, immutable versions), permissions, automatic halt on failures and on an
/// approval drop, stage advance with soak, pause / resume / roll back, the window, offers from memory,
/// idempotent install reports, signed downloads, problem+json for bad input.
@Suite struct CampaignAPITests {
    /// A model and `count` terminals of region A bound to merchant A.
    static func fleet(_ h: Harness, count: Int, modelName: String = "A920", expiresIn: TimeInterval = 365 * 86400,
                      firstSN: Int = 1) async throws -> (TerminalModel, [Terminal]) {
        let admin = try await h.principal("admin")
        let estate = h.env.services.estate
        let model = try await estate.createModel(NewTerminalModel(
            manufacturer: "PAX", name: modelName, terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
            ptsExpiry: h.env.clock.clock.now().addingTimeInterval(expiresIn), unionPayCertified: true, unionPayCertificate: nil), by: admin)
        if firstSN == 1 { try await Fixtures.onboard(h.fixtures.merchantA, services: h.env.services, mid: "898310048161234") }
        var terminals: [Terminal] = []
        for n in firstSN..<(firstSN + count) {
            let stocked = try await estate.stockIn(StockIn(sn: String(format: "PAX-%05d", n), tid: String(format: "2%07d", n), modelId: model.id,
                                                           ownerId: h.fixtures.regionA, appVersion: "2.3.0"), by: admin)
            terminals.append(try await estate.bind(stocked.id, BindRequest(merchantId: h.fixtures.merchantA, storeId: nil,
                                                                           placement: Placement(address: "A street \(n)", latitude: 31.2, longitude: 121.4)),
                                                   by: admin))
        }
        return (model, terminals)
    }

    /// Publishes a package over the API as region A's administrator.
    static func publish(_ h: Harness, version: String, models: [ModelID], bytes: Data, sha256: String? = nil) async throws -> TestResponse {
        var uri = "/api/v1/packages?kind=app&version=\(version)&models=\(models.map(\.rawValue).joined(separator: ","))"
        if let sha256 { uri += "&sha256=\(sha256)" }
        return try await h.client.execute(uri: uri, method: .post,
                                          headers: [.authorization: "Bearer \(h.token("regionA.admin"))", .contentType: "application/octet-stream"],
                                          body: ByteBuffer(data: bytes))
    }

    static func hex(_ data: Data) -> String { StreamingDigestHelper.sha256(data) }

    /// Activates a terminal and returns its secret.
    static func activate(_ h: Harness, _ terminal: Terminal) async throws -> Data {
        let issued = try await h.send(.post, "/api/v1/terminals/\(terminal.id.rawValue)/activation-codes", as: "regionA.admin", json: "{}")
        let code = try #require(issued.object["code"] as? String)
        let activated = try await h.send(.post, "/terminal/v1/activate", json: #"{"sn": "\#(terminal.sn)", "code": "\#(code)"}"#)
        let secretHex = try #require(activated.object["secret"] as? String)
        return Data(stride(from: 0, to: secretHex.count, by: 2).map { offset -> UInt8 in
            let start = secretHex.index(secretHex.startIndex, offsetBy: offset)
            return UInt8(secretHex[start...secretHex.index(after: start)], radix: 16)!
        })
    }

    static func signedRequest(_ h: Harness, _ method: HTTPRequest.Method, _ path: String, terminal: Terminal, secret: Data,
                              body: Data = Data()) async throws -> TestResponse {
        var headers = TerminalProtocolTests.signed(method.rawValue, path, terminal: terminal.id.rawValue, secret: secret, body: body,
                                                   at: Int64(h.env.clock.clock.now().timeIntervalSince1970))
        if !body.isEmpty { headers[.contentType] = "application/json" }
        return try await h.client.execute(uri: path, method: method, headers: headers, body: body.isEmpty ? nil : ByteBuffer(data: body))
    }

    static func campaignJSON(_ packageId: String, name: String = "2.4.0 rollout", rollback: String? = nil, stages: [Int] = [5000, 10_000],
                             minimumReports: Int = 3, window: String? = nil, soak: Int = 0) -> String {
        var plan = #""stages": \#(stages), "minimumReports": \#(minimumReports), "maxFailureRate": 500, "maxApprovalDrop": 200, "soakMinutes": \#(soak)"#
        if let window { plan += #", "window": "\#(window)""# }
        return #"{"name": "\#(name)", "packageId": "\#(packageId)"\#(rollback.map { #", "rollbackPackageId": "\#($0)""# } ?? ""), "plan": {\#(plan)}}"#
    }

    /// Starts a campaign over the API and returns its id.
    static func startCampaign(_ h: Harness, json: String) async throws -> CampaignID {
        let created = try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: json)
        #expect(created.status == .created, "\(created.text)")
        let id = try #require(created.object["id"] as? String)
        let started = try await h.send(.post, "/api/v1/campaigns/\(id)/start", as: "regionA.admin", json: #"{"version": 1}"#)
        #expect(started.status == .ok && started.object["state"] as? String == "running", "\(started.text)")
        return CampaignID(rawValue: id)
    }

    static func band(_ terminal: Terminal, _ campaign: CampaignID, stages: [Int] = [5000, 10_000]) -> Int {
        CampaignRules.band(of: CampaignRules.bucket(terminal: terminal.id.rawValue, campaign: campaign.rawValue), plan: CampaignPlan(stages: stages))
    }

    @Test(arguments: TestBackend.allCases)
    func packagesAndPermissions(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (model, terminals) = try await Self.fleet(h, count: 2)
            let bytes = Data((0..<70_000).map { UInt8($0 % 251) })
            // The uploader's checksum differs: refused, and no file is left in the package folder.
            expectProblem(try await Self.publish(h, version: "2.4.0", models: [model.id], bytes: bytes, sha256: String(repeating: "0", count: 64)), 422,
                          "checksum mismatch")
            let folder = h.env.services.campaigns.files as? FilePackageFiles
            let left = (try? FileManager.default.contentsOfDirectory(atPath: folder?.root.path ?? "/nonexistent")) ?? []
            #expect(left.isEmpty, "left behind: \(left)")
            // Bad input is a problem document naming the field; a merchant cannot publish.
            expectProblem(try await Self.publish(h, version: "2.4!", models: [model.id], bytes: bytes), 422)
            expectProblem(try await Self.publish(h, version: "2.4.0", models: [], bytes: bytes), 422)
            expectProblem(try await h.client.execute(uri: "/api/v1/packages?kind=app&version=2.4.0&models=\(model.id.rawValue)", method: .post,
                                                     headers: [.authorization: "Bearer \(h.token("merchantA.owner"))"], body: ByteBuffer(data: bytes)), 403)
            let published = try await Self.publish(h, version: "2.4.0", models: [model.id], bytes: bytes, sha256: Self.hex(bytes))
            #expect(published.status == .created, "\(published.text)")
            #expect(published.object["sha256"] as? String == Self.hex(bytes) && published.object["size"] as? Int == bytes.count)
            let packageId = try #require(published.object["id"] as? String)
            expectProblem(try await Self.publish(h, version: "2.4.0", models: [model.id], bytes: bytes), 409, "a version is published once")
            #expect(try await h.send(.get, "/api/v1/packages", as: "regionA.admin").object["items"].map { ($0 as? [Any])?.count } == 1)
            #expect(try await h.send(.get, "/api/v1/packages/\(packageId)", as: "merchantA.owner").status == .ok, "estate.read sees packages")

            // Campaign input refused with problem+json.
            expectProblem(try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: Self.campaignJSON(packageId, stages: [5000, 1000])), 422)
            expectProblem(try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: #"{"name": "x", "packageId": "\#(packageId)", "colour": 1}"#), 422)
            expectProblem(try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: #"{"name": "x", "#), 400)
            expectProblem(try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: Self.campaignJSON(PackageID.generate().rawValue)), 422)
            expectProblem(try await h.send(.post, "/api/v1/campaigns", as: "merchantA.owner", json: Self.campaignJSON(packageId)), 403)
            let created = try await h.send(.post, "/api/v1/campaigns", as: "regionA.admin", json: Self.campaignJSON(packageId))
            let campaignId = try #require(created.object["id"] as? String)
            expectProblem(try await h.send(.post, "/api/v1/campaigns/\(campaignId)/pause", as: "regionA.admin", json: #"{"version": 1}"#), 409,
                          "a draft cannot be paused")
            expectProblem(try await h.send(.post, "/api/v1/campaigns/\(campaignId)/start", as: "regionA.admin", json: #"{"version": 7}"#), 409)
            expectProblem(try await h.send(.post, "/api/v1/campaigns/\(campaignId)/start", as: "merchantA.owner", json: #"{"version": 1}"#), 403)
            // A cashier or an inspector cannot start it either.
            let cashier = try await h.principal("storeA.cashier")
            await #expect(throws: DomainError.self) {
                _ = try await h.env.services.campaigns.act(.start, on: CampaignID(rawValue: campaignId), expectedVersion: 1, by: cashier)
            }
            let root = try await h.principal("admin")
            _ = try await h.env.services.access.createUser(NewUser(orgId: h.fixtures.regionA, username: "inspector.a", displayName: "Inspector",
                                                                   role: .inspector, password: Fixtures.password), by: root)
            let inspector = try await h.principal("inspector.a")
            await #expect(throws: DomainError.self) {
                _ = try await h.env.services.campaigns.act(.start, on: CampaignID(rawValue: campaignId), expectedVersion: 1, by: inspector)
            }
            expectProblem(try await h.send(.get, "/api/v1/campaigns/\(campaignId)", as: "merchantB.owner"), 404, "another branch")

            // Signed download: the terminal of a compatible model gets the bytes; unsigned and other models do not.
            let secret = try await Self.activate(h, terminals[0])
            let path = "/terminal/v1/packages/\(packageId)"
            let download = try await Self.signedRequest(h, .get, path, terminal: terminals[0], secret: secret)
            #expect(download.status == .ok && Data(buffer: download.body) == bytes, "\(download.status)")
            #expect(download.headers[HTTPField.Name("X-Tillyard-SHA256")!] == Self.hex(bytes))
            expectProblem(try await h.client.execute(uri: path, method: .get), 401, "unsigned")
            let (_, others) = try await Self.fleet(h, count: 1, modelName: "S920", firstSN: 50)
            let otherSecret = try await Self.activate(h, others[0])
            expectProblem(try await Self.signedRequest(h, .get, path, terminal: others[0], secret: otherSecret), 404, "another model")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func haltPauseResumeRollBack(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (model, terminals) = try await Self.fleet(h, count: 24)
            let bytes = Data("package 2.4.0".utf8), old = Data("package 2.3.0".utf8)
            let packageId = try #require(try await Self.publish(h, version: "2.4.0", models: [model.id], bytes: bytes).object["id"] as? String)
            let backId = try #require(try await Self.publish(h, version: "2.3.0", models: [model.id], bytes: old).object["id"] as? String)
            let service = h.env.services.campaigns
            let id = try await Self.startCampaign(h, json: Self.campaignJSON(packageId, rollback: backId))
            let first = terminals.filter { Self.band($0, id) == 0 }, second = terminals.filter { Self.band($0, id) == 1 }
            try #require(first.count >= 4 && second.count >= 1, "the buckets spread 24 terminals over both halves")
            let path = try await h.principal("admin").orgPath + h.fixtures.regionA.rawValue + "/"
            let now = { h.env.clock.clock.now() }
            let beat = Heartbeat(appVersion: "2.3.0")
            // Stage 1 terminals are offered 2.4.0; stage 2 not yet; a terminal already on 2.4.0 never.
            let offer = try #require(service.offer(terminal: first[0], ownerPath: path, heartbeat: beat, now: now()))
            #expect(offer.packageId == packageId && offer.version == "2.4.0" && offer.url == "/terminal/v1/packages/\(packageId)")
            #expect(service.offer(terminal: second[0], ownerPath: path, heartbeat: beat, now: now()) == nil)
            #expect(service.offer(terminal: first[1], ownerPath: path, heartbeat: Heartbeat(appVersion: "2.4.0"), now: now()) == nil)

            // Install reports: idempotent over the signed route.
            let secret = try await Self.activate(h, first[0])
            let report = Data(#"{"packageId": "\#(packageId)", "outcome": "installed"}"#.utf8)
            let result = "/terminal/v1/updates/\(id.rawValue)/result"
            let once = try await Self.signedRequest(h, .post, result, terminal: first[0], secret: secret, body: report)
            #expect(once.status == .ok && once.object["duplicate"] as? Bool == false, "\(once.text)")
            let twice = try await Self.signedRequest(h, .post, result, terminal: first[0], secret: secret, body: report)
            #expect(twice.status == .ok && twice.object["duplicate"] as? Bool == true, "\(twice.text)")
            expectProblem(try await Self.signedRequest(h, .post, result, terminal: first[0], secret: secret, body: Data(#"{"packageId": "x", "outcome": "maybe"}"#.utf8)),
                          422)
            expectProblem(try await h.client.execute(uri: result, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(data: report)), 401)
            #expect(service.offer(terminal: first[0], ownerPath: path, heartbeat: beat, now: now()) == nil, "reported: not offered again")

            // Three failures among four reports: the campaign halts itself.
            for terminal in first[1...3] {
                try await service.report(InstallReport(packageId: packageId, outcome: .failed, detail: "no space"), campaign: id, from: terminal)
            }
            try await service.tick()
            var body = try await h.send(.get, "/api/v1/campaigns/\(id.rawValue)", as: "regionA.admin").object
            #expect(body["state"] as? String == "halted" && (body["reason"] as? String)?.contains("3 of 4 installs failed") == true, "\(body)")
            let progress = try #require(body["progress"] as? [[String: Any]])
            #expect(progress[0]["installed"] as? Int == 1 && progress[0]["failed"] as? Int == 3 && progress[0]["targeted"] as? Int == first.count)
            #expect(progress[0]["offered"] as? Int == 1, "\(progress)")
            if first.count > 4 {
                #expect(service.offer(terminal: first[4], ownerPath: path, heartbeat: beat, now: now()) == nil, "a halted campaign offers nothing")
            }

            // Resume (the halted stage accepted) → it advances; pause stops offers; resume brings them back.
            var version = try #require(body["version"] as? Int)
            body = try await h.send(.post, "/api/v1/campaigns/\(id.rawValue)/resume", as: "regionA.admin", json: #"{"version": \#(version), "reason": "bad batch of terminals"}"#).object
            #expect(body["state"] as? String == "running", "\(body)")
            try await service.tick()
            body = try await h.send(.get, "/api/v1/campaigns/\(id.rawValue)", as: "regionA.admin").object
            #expect(body["stage"] as? Int == 2, "advanced after the operator accepted stage 1: \(body)")
            #expect(service.offer(terminal: second[0], ownerPath: path, heartbeat: beat, now: now()) != nil)
            version = try #require(body["version"] as? Int)
            body = try await h.send(.post, "/api/v1/campaigns/\(id.rawValue)/pause", as: "regionA.admin", json: #"{"version": \#(version)}"#).object
            #expect(body["state"] as? String == "paused")
            #expect(service.offer(terminal: second[0], ownerPath: path, heartbeat: beat, now: now()) == nil, "paused")
            version = try #require(body["version"] as? Int)
            body = try await h.send(.post, "/api/v1/campaigns/\(id.rawValue)/rollback", as: "regionA.admin", json: #"{"version": \#(version)}"#).object
            #expect(body["state"] as? String == "rolled_back", "\(body)")
            // Only the terminal that installed goes back, to 2.3.0; then it reports and is left alone.
            let back = try #require(service.offer(terminal: first[0], ownerPath: path, heartbeat: Heartbeat(appVersion: "2.4.0"), now: now()))
            #expect(back.packageId == backId && back.version == "2.3.0")
            #expect(service.offer(terminal: first[1], ownerPath: path, heartbeat: beat, now: now()) == nil, "it failed to install: nothing to roll back")
            try await service.report(InstallReport(packageId: backId, outcome: .installed), campaign: id, from: first[0])
            #expect(service.offer(terminal: first[0], ownerPath: path, heartbeat: Heartbeat(appVersion: "2.4.0"), now: now()) == nil)

            // Every operator action and every automatic step is in the audit trail.
            let admin = try await h.principal("admin")
            let actions = try await h.env.services.access.auditEvents(AuditFilter(), page: PageRequest(limit: 200), by: admin).items.map(\.action)
            for action in ["package.publish", "campaign.create", "campaign.start", "campaign.halt", "campaign.resume", "campaign.advance",
                           "campaign.pause", "campaign.rollback", "campaign.install_report"] {
                #expect(actions.contains(action), "audited: \(action)")
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func approvalDropWindowSoakAndCompliance(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let (model, terminals) = try await Self.fleet(h, count: 16, expiresIn: 86400)
            let packageId = try #require(try await Self.publish(h, version: "2.4.0", models: [model.id], bytes: Data("x".utf8)).object["id"] as? String)
            let service = h.env.services.campaigns
            let path = try await h.principal("admin").orgPath + h.fixtures.regionA.rawValue + "/"
            let clock = h.env.clock
            // A window that opens an hour from now in Shanghai and lasts an hour: closed now, open 90 minutes later.
            let minute = CampaignRules.minuteOfDay(clock.clock.now(), zone: TimeZone(identifier: "Asia/Shanghai")!)
            let hhmm = { (m: Int) in String(format: "%02d:%02d", (m % 1440) / 60, m % 60) }
            let window = "\(hhmm(minute + 60))-\(hhmm(minute + 120))"
            let id = try await Self.startCampaign(h, json: Self.campaignJSON(packageId, minimumReports: 2, window: window, soak: 30))
            let first = terminals.filter { Self.band($0, id) == 0 }
            try #require(first.count >= 2)
            #expect(service.offer(terminal: first[0], ownerPath: path, heartbeat: Heartbeat(appVersion: "2.3.0"), now: clock.clock.now()) == nil,
                    "outside the window")
            clock.advance(90 * 60)
            #expect(service.offer(terminal: first[0], ownerPath: path, heartbeat: Heartbeat(appVersion: "2.3.0"), now: clock.clock.now()) != nil)

            // Two installs; before them the terminals approved 49 of 50, after only 40 of 50.
            let installedAt = clock.clock.now()
            for terminal in first[0...1] { try await service.report(InstallReport(packageId: packageId, outcome: .installed), campaign: id, from: terminal) }
            try await h.env.services.database.session { db in
                for (index, terminal) in first[0...1].enumerated() {
                    for n in 0..<25 {
                        for (offset, approved) in [(-(n * 60_000 + 30_000), n != 0 || index != 0), (n * 60_000 + 30_000, n % 5 != 0)] {
                            try await db.raw("""
                                INSERT INTO terminal_transactions (terminal_id, id, org_path, merchant_id, at, kind, amount, currency, tender, approved,
                                    response_code, received_at)
                                VALUES (\(bind: terminal.id.rawValue), \(bind: "tx-\(index)-\(n)-\(offset > 0)"), \(bind: path), NULL,
                                    \(bind: EpochMillis.from(installedAt) + Int64(offset)), 'sale', 100, 'CNY', 'card', \(bind: approved ? 1 : 0),
                                    \(bind: approved ? "00" : "51"), \(bind: EpochMillis.from(installedAt)))
                                """).run()
                        }
                    }
                }
            }
            // No install failed, but ten minutes after installing the approval rate is 80% against 95% the ten minutes before: halt.
            clock.advance(10 * 60)
            try await service.tick()
            let body = try await h.send(.get, "/api/v1/campaigns/\(id.rawValue)", as: "regionA.admin").object
            let progress = try #require(body["progress"] as? [[String: Any]])
            #expect(progress[0]["attemptedBefore"] as? Int == 20 && progress[0]["attemptedAfter"] as? Int == 20, "ten minutes either side: \(progress[0])")
            #expect(progress[0]["approvedBefore"] as? Int == 19 && progress[0]["approvedAfter"] as? Int == 16, "\(progress[0])")
            #expect(body["state"] as? String == "halted" && (body["reason"] as? String)?.contains("approval rate fell") == true, "\(body)")

            // A second campaign of a healthy package advances after its soak.
            let healthyId = try #require(try await Self.publish(h, version: "2.5.0", models: [model.id], bytes: Data("y".utf8)).object["id"] as? String)
            let healthy = try await Self.startCampaign(h, json: Self.campaignJSON(healthyId, name: "2.5.0", minimumReports: 1, soak: 30))
            let firstHealthy = try #require(terminals.first { Self.band($0, healthy) == 0 && !first[0...1].contains($0) })
            try await service.report(InstallReport(packageId: healthyId, outcome: .installed), campaign: healthy, from: firstHealthy)
            try await service.tick()
            #expect(try await h.send(.get, "/api/v1/campaigns/\(healthy.rawValue)", as: "regionA.admin").object["stage"] as? Int == 1, "soaking")
            clock.advance(31 * 60)
            try await service.tick()
            #expect(try await h.send(.get, "/api/v1/campaigns/\(healthy.rawValue)", as: "regionA.admin").object["stage"] as? Int == 2, "advanced")

            // Compliance: every terminal below 2.4.0 and never heard from; after two days the model's PTS approval has expired.
            clock.advance(2 * 86400)
            let report = try await h.send(.get, "/api/v1/compliance?minApp=2.4.0&silentDays=7&limit=10", as: "regionA.admin")
            #expect(report.status == .ok, "\(report.text)")
            let items = try #require(report.object["items"] as? [[String: Any]])
            #expect(items.count == 10 && report.object["nextCursor"] as? String != nil)
            let issues = Set((items.first?["issues"] as? [String]) ?? [])
            #expect(issues == ["app_below_minimum", "model_expired", "never_seen"], "\(items.first ?? [:])")
            #expect((report.object["counts"] as? [String: Int])?["never_seen"] == 10)
            let rest = try await h.send(.get, "/api/v1/compliance?minApp=2.4.0&cursor=\(report.object["nextCursor"] as? String ?? "")", as: "regionA.admin")
            #expect((rest.object["items"] as? [Any])?.count == 6 && rest.object["nextCursor"] == nil, "\(rest.text)")
            #expect((try await h.send(.get, "/api/v1/compliance", as: "merchantB.owner").object["items"] as? [Any])?.isEmpty == true, "another branch")
            expectProblem(try await h.send(.get, "/api/v1/compliance?silentDays=0", as: "regionA.admin"), 422)
            expectProblem(try await h.send(.get, "/api/v1/compliance?minApp=a%20b", as: "regionA.admin"), 422)

            // The console pages render for the operator.
            var jar = try await h.consoleSession("regionA.admin").0
            for page in ["/console/packages", "/console/campaigns", "/console/campaigns/\(id.rawValue)", "/console/compliance?minApp=2.4.0"] {
                let html = try await h.browse(.get, page, jar: &jar)
                #expect(html.status == .ok && !html.text.contains("{{"), "\(page): \(html.status)")
            }
        }
    }
}

/// SHA-256 as lowercase hex, for comparing with what the server computed.
enum StreamingDigestHelper {
    static func sha256(_ data: Data) -> String {
        var digest = StreamingDigest()
        data.withUnsafeBytes { digest.update($0) }
        return digest.hex()
    }
}
