import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The terminal estate on both engines: every lifecycle transition (legal and illegal), transfer
/// rules, binding rules (five elements, certification, one merchant at a time), bulk
/// all-or-nothing, tenant scoping, and that history and audit follow every change.
@Suite struct EstateLifecycleTests {
    /// A fixture tree plus a certified model and a technician and inspector in region A.
    struct World {
        let services: AppServices
        let fixtures: Fixtures
        let clock: TestClock
        let admin: Principal
        let tech: Principal
        let model: TerminalModel

        var estate: EstateService { services.estate }

        static func make(_ database: Database) async throws -> World {
            let clock = TestClock(Date())
            let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock)
            let fixtures = try await Fixtures.make(services.access)
            let admin = try await services.access.principal(commandLineUser: "admin")
            _ = try await services.access.createUser(NewUser(orgId: fixtures.regionA, username: "tech.a", displayName: "Tech A",
                                                             role: .technical, password: Fixtures.password), by: admin)
            let tech = try await services.access.principal(commandLineUser: "tech.a")
            let model = try await services.estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G", "WiFi"],
                ptsApproval: "4-30310", ptsExpiry: clock.clock.now().addingTimeInterval(365 * 86400),
                unionPayCertified: true, unionPayCertificate: "UP-2026-001"), by: admin)
            try await Fixtures.onboard(fixtures.merchantA, services: services, mid: "898310048161234")
            return World(services: services, fixtures: fixtures, clock: clock, admin: admin, tech: tech, model: model)
        }

        func stockIn(_ sn: String, tid: String, owner: OrgID? = nil, by principal: Principal? = nil) async throws -> Terminal {
            try await estate.stockIn(StockIn(sn: sn, tid: tid, modelId: model.id, ownerId: owner ?? fixtures.regionA,
                                             purchaseCost: 180_000), by: principal ?? tech)
        }

        func bindRequest(merchant: OrgID? = nil) -> BindRequest {
            BindRequest(merchantId: merchant ?? fixtures.merchantA, storeId: fixtures.storeA,
                        placement: Placement(address: "上海市徐汇区漕溪北路 1 号 B1", latitude: 31.19, longitude: 121.43))
        }
    }

    static func conflict(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let DomainError.conflict(message) { return message } catch { return "unexpected \(error)" }
    }

    @Test(arguments: TestBackend.allCases)
    func fullLifecycleIsRecordedInHistoryAndAudit(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            var terminal = try await world.stockIn("PAX-A920-0001", tid: "10000001")
            #expect(terminal.state == .inStock)

            terminal = try await estate.bind(terminal.id, world.bindRequest(), by: world.tech)
            #expect(terminal.state == .bound)
            #expect(terminal.merchantId == world.fixtures.merchantA)
            terminal = try await estate.install(terminal.id, installer: "吴刚", placement: nil, by: world.tech)
            #expect(terminal.state == .installed && terminal.installer == "吴刚")
            terminal = try await estate.commission(terminal.id, by: world.tech)
            #expect(terminal.state == .inService)
            terminal = try await estate.remove(terminal.id, reason: "merchant closed", by: world.tech)
            #expect(terminal.state == .removed)
            terminal = try await estate.returnToStock(terminal.id, reason: nil, by: world.tech)
            #expect(terminal.state == .inStock && terminal.merchantId == nil && terminal.placement == nil)
            terminal = try await estate.sendToRepair(terminal.id, reason: "cracked screen", by: world.tech)
            #expect(terminal.state == .inRepair)
            terminal = try await estate.returnFromRepair(terminal.id, note: "screen replaced", by: world.tech)
            #expect(terminal.state == .inStock)
            terminal = try await estate.scrap(terminal.id, reason: "end of life", by: world.tech)
            #expect(terminal.state == .scrapped)
            let id = terminal.id

            let dossier = try await estate.dossier(id, by: world.tech)
            #expect(dossier.history.map(\.action) == ["scrap", "return_from_repair", "send_to_repair", "return_to_stock", "remove",
                                                      "commission", "install", "bind", "stock_in"])
            #expect(dossier.history.first?.reason == "end of life")
            #expect(dossier.binding == nil, "returning to stock closes the binding")
            let bindings = try await world.services.store.read { try await $0.bindings.all(for: id) }
            #expect(bindings.count == 1 && bindings[0].unboundAt != nil)

            let audit = try await world.services.access.auditEvents(AuditFilter(resourceType: "terminal", resourceId: id.rawValue),
                                                                   page: PageRequest(limit: 50), by: world.admin)
            #expect(audit.items.count == 9)
            #expect(try await world.services.access.verifyAuditChain().firstBreak == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func illegalTransitionsAreRefusedWithAReason(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let terminal = try await world.stockIn("PAX-A920-0002", tid: "10000002")
            // Every action that is not legal in stock is refused and leaves the terminal as it was.
            let message = await Self.conflict { _ = try await estate.install(terminal.id, installer: "x", placement: nil, by: world.tech) }
            #expect(message?.contains("in_stock cannot install") == true, "\(message ?? "")")
            #expect(message?.contains("allowed now: bind, dispatch, scrap, send_to_repair") == true)
            #expect(await Self.conflict { _ = try await estate.commission(terminal.id, by: world.tech) } != nil)
            #expect(await Self.conflict { _ = try await estate.remove(terminal.id, reason: "x", by: world.tech) } != nil)
            #expect(await Self.conflict { _ = try await estate.returnFromRepair(terminal.id, note: nil, by: world.tech) } != nil)
            _ = try await estate.scrap(terminal.id, reason: "dead on arrival", by: world.tech)
            let final = await Self.conflict { _ = try await estate.sendToRepair(terminal.id, reason: "x", by: world.tech) }
            #expect(final?.contains("allows no further action") == true)
            let dossier = try await estate.dossier(terminal.id, by: world.tech)
            #expect(dossier.terminal.state == .scrapped)
            #expect(dossier.history.count == 2)

            // The state machine table itself: every (state, action) pair either moves or is refused.
            for state in TerminalState.allCases {
                for action in LifecycleAction.allCases {
                    if let target = TerminalLifecycle.transitions[state]?[action] {
                        #expect(try TerminalLifecycle.next(from: state, by: action) == target)
                    } else {
                        #expect(throws: DomainError.self) { try TerminalLifecycle.next(from: state, by: action) }
                    }
                }
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func transfersMoveOneLevelAndNeedReceipt(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let fixtures = world.fixtures
            // Stocked at the acquirer by the administrator, then sent down to region A.
            let first = try await world.stockIn("PAX-A920-0101", tid: "10000101", owner: fixtures.acquirer, by: world.admin)
            let second = try await world.stockIn("PAX-A920-0102", tid: "10000102", owner: fixtures.acquirer, by: world.admin)
            let moved = try await estate.dispatch([first.id, second.id], to: fixtures.regionA, reason: "Q4 allocation", by: world.admin)
            #expect(moved.allSatisfy { $0.state == .inTransit && $0.transitToOrgId == fixtures.regionA })
            // Receipt by someone at the destination.
            let received = try await estate.receive([first.id, second.id], by: world.tech)
            #expect(received.allSatisfy { $0.state == .inStock && $0.orgId == fixtures.regionA })

            // Two levels at once (acquirer → merchant's store is not even allowed; region A → region B is not adjacent).
            let third = try await world.stockIn("PAX-A920-0103", tid: "10000103", owner: fixtures.acquirer, by: world.admin)
            let skip = await Self.conflict { _ = try await estate.dispatch([first.id], to: fixtures.regionB, reason: nil, by: world.admin) }
            #expect(skip?.contains("one level of the tree at a time") == true, "\(skip ?? "")")
            await #expect(throws: DomainError.self) {
                _ = try await estate.dispatch([third.id], to: fixtures.merchantA, reason: nil, by: world.admin)
            }
            // Bulk is all or nothing: one bound terminal in the batch stops the whole dispatch.
            _ = try await estate.bind(second.id, world.bindRequest(), by: world.tech)
            let batch = await Self.conflict { _ = try await estate.dispatch([first.id, second.id], to: fixtures.acquirer, reason: nil, by: world.tech) }
            #expect(batch?.contains("PAX-A920-0102") == true)
            let untouched = try await estate.dossier(first.id, by: world.tech)
            #expect(untouched.terminal.state == .inStock && untouched.terminal.orgId == fixtures.regionA)
            // Region A's technician does not see region B's receipt duty or terminals.
            let inB = try await world.stockIn("PAX-A920-0104", tid: "10000104", owner: fixtures.regionB, by: world.admin)
            await #expect(throws: DomainError.notFound(resource: "terminal", id: inB.id.rawValue)) {
                _ = try await estate.dossier(inB.id, by: world.tech)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func bindingRules(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            let terminal = try await world.stockIn("PAX-A920-0201", tid: "10000201")

            // A placement off the Earth is refused before anything is written.
            var bad = world.bindRequest()
            bad.placement?.latitude = 123
            await #expect(throws: DomainError.self) { _ = try await estate.bind(terminal.id, bad, by: world.tech) }
            // A merchant without an approved onboarding file gets no terminal.
            let newcomer = try await world.services.access.createOrganization(
                NewOrganization(parentId: world.fixtures.regionA, kind: .merchant, name: "newcomer", code: "NEW"), by: world.admin)
            let refusal = await Self.conflict { _ = try await estate.bind(terminal.id, world.bindRequest(merchant: newcomer.id), by: world.tech) }
            #expect(refusal?.contains("has not passed onboarding review") == true)
            // A merchant outside the caller's subtree is refused.
            await #expect(throws: DomainError.invalid("merchantId", "no such merchant in your part of the tree")) {
                _ = try await estate.bind(terminal.id, world.bindRequest(merchant: world.fixtures.merchantB), by: world.tech)
            }

            let bound = try await estate.bind(terminal.id, world.bindRequest(), by: world.tech)
            #expect(bound.state == .bound)
            let dossier = try await estate.dossier(terminal.id, by: world.tech)
            let binding = try #require(dossier.binding)
            #expect(binding.settlementAccountMasked == "6222 **** **** 0123")
            #expect(binding.settlementAccountFingerprint.count == 64)
            #expect(binding.acquirerCode == "ACQ" && binding.mid == "898310048161234")
            // The clear account number is nowhere in the database.
            let leaked = try await database.session { db in
                try await db.raw("SELECT COUNT(*) AS n FROM bindings WHERE settlement_account_masked LIKE '%6222021234567890123%' OR settlement_account_fingerprint LIKE '%6222021234567890123%'")
                    .first()?.decode(column: "n", as: Int.self) ?? -1
            }
            #expect(leaked == 0)
            let auditText = try await database.session { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_events WHERE summary LIKE '%6222021234567890123%'").first()?.decode(column: "n", as: Int.self) ?? -1
            }
            #expect(auditText == 0)

            // One merchant at a time: binding again is refused; changing an element is unbind + bind.
            #expect(await Self.conflict { _ = try await estate.bind(terminal.id, world.bindRequest(), by: world.tech) } != nil)
            await #expect(throws: DomainError.self) { _ = try await estate.unbind(terminal.id, reason: "  ", by: world.tech) }
            _ = try await estate.unbind(terminal.id, reason: "wrong settlement account", by: world.tech)
            // The new account goes through review again before the terminal is bound anew.
            let merchants = world.services.merchants
            let security = try await world.services.access.principal(commandLineUser: "security")
            let reopened = try await merchants.reopen(world.fixtures.merchantA, reason: "new settlement account", by: world.admin)
            let version = try #require(reopened.profile?.version)
            _ = try await merchants.update(world.fixtures.merchantA, Fixtures.application(account: "6222021234567899999"),
                                           expectedVersion: version, by: world.admin)
            _ = try await merchants.submit(world.fixtures.merchantA, by: world.admin)
            _ = try await merchants.approve(world.fixtures.merchantA, mid: nil, riskLevel: nil, note: nil, by: security)
            let rebound = try await estate.bind(terminal.id, world.bindRequest(), by: world.tech)
            #expect(rebound.state == .bound)
            let all = try await world.services.store.read { try await $0.bindings.all(for: terminal.id) }
            #expect(all.count == 2)
            #expect(all.filter { $0.unboundAt == nil }.count == 1)
            #expect(all.first { $0.unboundAt != nil }?.unbindReason == "wrong settlement account")
            // The reopened file kept its MID; the new binding carries the new account.
            let current = try #require(all.first { $0.unboundAt == nil })
            #expect(current.mid == "898310048161234" && current.settlementAccountMasked == "6222 **** **** 9999")

            // The merchant owner sees their terminal (read only); merchant B's owner does not.
            let ownerA = try await world.services.access.principal(commandLineUser: "merchantA.owner")
            let ownerB = try await world.services.access.principal(commandLineUser: "merchantB.owner")
            #expect(try await estate.dossier(terminal.id, by: ownerA).terminal.sn == "PAX-A920-0201")
            await #expect(throws: DomainError.notFound(resource: "terminal", id: terminal.id.rawValue)) {
                _ = try await estate.dossier(terminal.id, by: ownerB)
            }
            let visibleToA = try await estate.search(TerminalFilter(), page: PageRequest(), by: ownerA)
            #expect(visibleToA.items.map(\.sn) == ["PAX-A920-0201"])
            #expect(try await estate.search(TerminalFilter(), page: PageRequest(), by: ownerB).items.isEmpty)
            await #expect(throws: DomainError.forbidden("your role does not allow estate.install")) {
                _ = try await estate.install(terminal.id, installer: "x", placement: nil, by: ownerA)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func expiredModelsCannotBeBound(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let expiring = try await world.estate.createModel(NewTerminalModel(
                manufacturer: "Newland", name: "ME31", terminalClass: .traditional, connectivity: ["Ethernet"], ptsApproval: "4-10020",
                ptsExpiry: world.clock.clock.now().addingTimeInterval(86400), unionPayCertified: true, unionPayCertificate: nil), by: world.admin)
            let terminal = try await world.estate.stockIn(StockIn(sn: "NL-ME31-0001", tid: "20000001", modelId: expiring.id,
                                                                  ownerId: world.fixtures.regionA), by: world.tech)
            world.clock.advance(2 * 86400)
            #expect(expiring.certification(at: world.clock.clock.now()) == .ptsExpired)
            let message = await Self.conflict { _ = try await world.estate.bind(terminal.id, world.bindRequest(), by: world.tech) }
            #expect(message?.contains("pts_expired") == true)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func stockInRulesAndSearch(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            let estate = world.estate
            _ = try await world.stockIn("PAX-A920-0301", tid: "10000301")
            // One SN, one terminal; one TID per acquirer.
            let sn = await Self.conflict { _ = try await world.stockIn("pax-a920-0301", tid: "10000399") }
            #expect(sn?.contains("already on record") == true)
            let tid = await Self.conflict { _ = try await world.stockIn("PAX-A920-0399", tid: "10000301") }
            #expect(tid?.contains("TID 10000301") == true)
            // Bulk stock-in is all or nothing: a bad row stops every row.
            let rows = (0..<5).map { StockIn(sn: "BULK-\($0)", tid: "3000000\($0)", modelId: world.model.id, ownerId: world.fixtures.regionA) }
            var broken = rows
            broken[3].tid = "TOO-LONG-TID"
            await #expect(throws: DomainError.invalid("4.tid", "must be 8 digits or capital letters")) {
                _ = try await estate.stockIn(broken, by: world.tech)
            }
            #expect(try await estate.search(TerminalFilter(sn: "BULK"), page: PageRequest(), by: world.tech).items.isEmpty)
            let stocked = try await estate.stockIn(rows, by: world.tech)
            #expect(stocked.count == 5)
            // Search by SN prefix, TID, state, and paging walks everything once.
            #expect(try await estate.search(TerminalFilter(sn: "bulk-"), page: PageRequest(), by: world.tech).items.count == 5)
            #expect(try await estate.search(TerminalFilter(tid: "30000002"), page: PageRequest(), by: world.tech).items.map(\.sn) == ["BULK-2"])
            var seen: [String] = []
            var page = PageRequest(limit: 2)
            while true {
                let result = try await estate.search(TerminalFilter(state: .inStock), page: page, by: world.tech)
                seen += result.items.map(\.sn)
                guard let next = result.nextCursor else { break }
                page.cursor = next
            }
            #expect(seen.count == 6 && Set(seen).count == 6)
            // Merchants cannot stock in; cashiers cannot even read.
            let owner = try await world.services.access.principal(commandLineUser: "merchantA.owner")
            await #expect(throws: DomainError.forbidden("your role does not allow estate.manage")) {
                _ = try await world.stockIn("PAX-A920-0302", tid: "10000302", by: owner)
            }
            // Stock-in at a merchant node is refused: merchants get terminals by binding.
            await #expect(throws: DomainError.self) { _ = try await world.stockIn("PAX-A920-0303", tid: "10000303", owner: world.fixtures.merchantA) }
        }
    }
}
