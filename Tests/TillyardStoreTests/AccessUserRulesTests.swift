import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Who may create, see and change which users: escalation, tenant isolation and role placement.
@Suite struct AccessUserRulesTests {
    static func newUser(_ name: String, _ role: Role, at org: OrgID) -> NewUser {
        NewUser(orgId: org, username: name, displayName: name, email: "\(name)@example.com", role: role, password: "Good-pass-123")
    }

    @Test(arguments: TestBackend.allCases)
    func merchantOwnerCreatesStaffForTheirOwnShops(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.sessionPrincipal("merchantA.owner")
            let created = try await env.access.createUser(
                NewUser(orgId: env.fixtures.storeA, username: "  New.Cashier ", displayName: " Lin ", email: " lin@example.cn ",
                        role: .cashier, password: "Good-pass-123", locale: "zh-CN"), by: owner)
            #expect(created.username == "new.cashier")
            #expect(created.displayName == "Lin")
            #expect(created.email == "lin@example.cn")
            #expect(created.locale == "zh-CN")
            #expect(created.orgId == env.fixtures.storeA)
            #expect(created.passwordHash != "Good-pass-123" && created.passwordHash.hasPrefix("$2"))
            #expect(try await env.stored(created.id) == created)
            _ = try await env.access.login(username: "new.cashier", password: "Good-pass-123", origin: "x")

            let event = try #require(try await env.events("user.create", resourceId: created.id.rawValue).first)
            #expect(event.outcome == .success)
            #expect(event.actor == owner.actor)
            #expect(event.summary == #"{"org":"store-a","role":"cashier","username":"new.cashier"}"#)
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func nobodyGrantsRightsTheyDoNotHave(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            for role in [Role.administrator, .security] {
                let error = await #expect(throws: DomainError.self) {
                    try await env.access.createUser(Self.newUser("escalate.\(role.rawValue)", role, at: env.fixtures.merchantA), by: owner)
                }
                #expect(error?.isForbidden == true, "\(role)")
            }
            // A cashier cannot create anyone, not even another cashier.
            let cashier = try await env.principal("storeA.cashier")
            let error = await #expect(throws: DomainError.self) {
                try await env.access.createUser(Self.newUser("cashier.two", .cashier, at: env.fixtures.storeA), by: cashier)
            }
            #expect(error == .forbidden("your role does not allow users.manage"))
            // Nor promote an existing user.
            let storeCashier = try env.user("storeA.cashier")
            let promote = await #expect(throws: DomainError.self) {
                try await env.access.updateUser(storeCashier.id, UserChanges(role: .administrator, expectedVersion: storeCashier.version), by: owner)
            }
            #expect(promote?.isForbidden == true)
            #expect(try await env.stored(storeCashier.id).role == .cashier)
            #expect(try await env.store.read { try await $0.users.find(username: "escalate.administrator") } == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func usersCannotBeCreatedOutsideTheCallersSubtree(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            for target in [env.fixtures.storeB, env.fixtures.merchantB, env.fixtures.regionA, env.fixtures.acquirer, OrgID.generate()] {
                let error = await #expect(throws: DomainError.self) {
                    try await env.access.createUser(Self.newUser("outsider", .cashier, at: target), by: owner)
                }
                #expect(error?.fieldNames == ["orgId"])
            }
            #expect(try await env.store.read { try await $0.users.find(username: "outsider") } == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func otherTenantsUsersAreNotFound(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let regionAdmin = try await env.principal("regionA.admin")
            let other = try env.user("merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "user", id: other.id.rawValue)) {
                _ = try await env.access.user(other.id, by: regionAdmin)
            }
            await #expect(throws: DomainError.notFound(resource: "user", id: other.id.rawValue)) {
                _ = try await env.access.updateUser(other.id, UserChanges(displayName: "pwned", expectedVersion: other.version), by: regionAdmin)
            }
            // A missing id gives exactly the same answer as another tenant's.
            let ghost = UserID.generate()
            await #expect(throws: DomainError.notFound(resource: "user", id: ghost.rawValue)) { _ = try await env.access.user(ghost, by: regionAdmin) }

            let visible = try await env.access.users(page: PageRequest(), by: regionAdmin).items.map(\.username)
            #expect(Set(visible) == ["regiona.admin", "merchanta.owner", "storea.cashier"])
            let mine = try await env.access.user(try env.user("storeA.cashier").id, by: regionAdmin)
            #expect(mine.username == "storea.cashier")
            #expect(try await env.stored(other.id).displayName == "merchantB.owner")

            // The dashboard counts only the caller's subtree.
            let counts = try await env.access.dashboardCounts(by: regionAdmin)
            #expect(counts.organizations == 3)
            #expect(counts.users == 3)
            // And the audit trail too: region A's administrator never sees region B's events.
            let trail = try await env.access.auditEvents(AuditFilter(), page: PageRequest(limit: 200), by: regionAdmin).items
            let regionA = try #require(try await env.store.read { try await $0.orgs.find(env.fixtures.regionA) })
            #expect(!trail.isEmpty)
            #expect(trail.allSatisfy { $0.orgPath.hasPrefix(regionA.path) })
            #expect(counts.auditEvents == trail.count)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func rolesMustFitTheKindOfNode(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let admin = try await env.principal("admin")
            let cases: [(Role, OrgID)] = [
                (.cashier, env.fixtures.regionA), (.merchantOwner, env.fixtures.acquirer),
                (.finance, env.fixtures.storeA), (.administrator, env.fixtures.merchantA), (.inspector, env.fixtures.storeB),
            ]
            for (index, (role, org)) in cases.enumerated() {
                let error = await #expect(throws: DomainError.self) {
                    try await env.access.createUser(Self.newUser("misplaced\(index)", role, at: org), by: admin)
                }
                #expect(error?.fieldNames == ["role"], "\(role)")
            }
            let owner = try env.user("merchantA.owner")
            let error = await #expect(throws: DomainError.self) {
                try await env.access.updateUser(owner.id, UserChanges(role: .technical, expectedVersion: owner.version), by: admin)
            }
            #expect(error?.fieldNames == ["role"])
            // Fitting placements work.
            _ = try await env.access.createUser(Self.newUser("tech", .technical, at: env.fixtures.regionB), by: admin)
            _ = try await env.access.createUser(Self.newUser("till", .cashier, at: env.fixtures.merchantB), by: admin)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func updatesUseOptimisticVersionsAndNobodyDisablesThemselves(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let admin = try await env.principal("regionA.admin")
            let cashier = try env.user("storeA.cashier")
            let updated = try await env.access.updateUser(
                cashier.id, UserChanges(displayName: "Cashier Wang", email: "wang@example.cn", locale: "zh-CN", expectedVersion: cashier.version),
                by: admin)
            #expect(updated.version == cashier.version + 1)
            #expect(try await env.stored(cashier.id) == updated)
            let stale = await #expect(throws: DomainError.self) {
                try await env.access.updateUser(cashier.id, UserChanges(displayName: "Lost", expectedVersion: cashier.version), by: admin)
            }
            #expect(stale?.isConflict == true)
            // No change: no new version, no audit event.
            let same = try await env.access.updateUser(cashier.id, UserChanges(displayName: "Cashier Wang", expectedVersion: updated.version), by: admin)
            #expect(same.version == updated.version)
            #expect(try await env.events("user.update", resourceId: cashier.id.rawValue).count == 1)

            let selfDisable = await #expect(throws: DomainError.self) {
                try await env.access.updateUser(admin.user.id, UserChanges(status: .disabled, expectedVersion: admin.user.version), by: admin)
            }
            #expect(selfDisable?.isConflict == true)
            let duplicate = await #expect(throws: DomainError.self) {
                try await env.access.createUser(AccessUserRulesTests.newUser("StoreA.Cashier", .cashier, at: env.fixtures.storeA), by: admin)
            }
            #expect(duplicate == .conflict("username storea.cashier is taken"))
            let badEmail = await #expect(throws: DomainError.self) {
                try await env.access.updateUser(cashier.id, UserChanges(email: "not-an-email", expectedVersion: updated.version), by: admin)
            }
            #expect(badEmail?.fieldNames == ["email"])
            try await env.expectChainIntact()
        }
    }
}
