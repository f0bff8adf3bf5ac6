import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Organisation rules of the access service: tree shape, subtree confinement, optimistic renames,
/// and the audit events they leave.
@Suite struct AccessOrganizationTests {
    @Test(arguments: TestBackend.allCases)
    func organisationsAreCreatedBelowVisibleParentsOfAFittingKind(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            let shop = try await env.access.createOrganization(
                NewOrganization(parentId: env.fixtures.merchantA, kind: .store, name: "  Shop 2 ", code: "S2"), by: owner)
            let merchantA = try await env.org(env.fixtures.merchantA)
            #expect(shop.name == "Shop 2")
            #expect(shop.path == merchantA.path + shop.id.rawValue + "/")
            #expect(shop.parentId == merchantA.id)
            #expect(shop.rootId == env.fixtures.acquirer)
            #expect(try await env.org(shop.id) == shop)
            let event = try #require(try await env.events("org.create", resourceId: shop.id.rawValue).first)
            #expect(event.orgPath == shop.path)
            #expect(event.summary.contains(#""kind":"store""#))

            // A store cannot have children; a merchant cannot hold a region.
            let underStore = await #expect(throws: DomainError.self) {
                try await env.access.createOrganization(NewOrganization(parentId: shop.id, kind: .store, name: "x", code: "x"), by: owner)
            }
            #expect(underStore?.fieldNames == ["kind"])
            let admin = try await env.principal("admin")
            let regionUnderMerchant = await #expect(throws: DomainError.self) {
                try await env.access.createOrganization(NewOrganization(parentId: env.fixtures.merchantB, kind: .region, name: "x", code: "x"), by: admin)
            }
            #expect(regionUnderMerchant?.fieldNames == ["kind"])
            // Another tenant's node is not a parent one can use; nor is a missing parent.
            for parent in [env.fixtures.merchantB, env.fixtures.regionA, OrgID.generate()] {
                let error = await #expect(throws: DomainError.self) {
                    try await env.access.createOrganization(NewOrganization(parentId: parent, kind: .store, name: "x", code: "x"), by: owner)
                }
                #expect(error?.fieldNames == ["parentId"])
            }
            let noParent = await #expect(throws: DomainError.self) {
                try await env.access.createOrganization(NewOrganization(parentId: nil, kind: .acquirer, name: "x", code: "x"), by: admin)
            }
            #expect(noParent?.fieldNames == ["parentId"])
            let cashier = try await env.principal("storeA.cashier")
            await #expect(throws: DomainError.forbidden("your role does not allow orgs.manage")) {
                _ = try await env.access.createOrganization(NewOrganization(parentId: env.fixtures.storeA, kind: .store, name: "x", code: "x"), by: cashier)
            }
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func organisationListingStaysInTheSubtree(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            let mine = try await env.access.organizations(kind: nil, page: PageRequest(), by: owner).items.map(\.id)
            #expect(Set(mine) == [env.fixtures.merchantA, env.fixtures.storeA])
            await #expect(throws: DomainError.notFound(resource: "organization", id: env.fixtures.merchantB.rawValue)) {
                _ = try await env.access.organization(env.fixtures.merchantB, by: owner)
            }
            let admin = try await env.principal("admin")
            let stores = try await env.access.organizations(kind: .store, page: PageRequest(), by: admin).items.map(\.id)
            #expect(Set(stores) == [env.fixtures.storeA, env.fixtures.storeB])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func renamesAreOptimisticAndAudited(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            let original = try await env.access.organization(env.fixtures.storeA, by: owner)
            env.clock.advance(60)
            let renamed = try await env.access.renameOrganization(original.id, name: "Store A (Mall)", code: nil,
                                                                  expectedVersion: original.version, by: owner)
            #expect(renamed.version == original.version + 1)
            #expect(renamed.code == original.code)
            #expect(renamed.updatedAt == original.updatedAt.addingTimeInterval(60))
            #expect(try await env.access.organization(original.id, by: owner) == renamed)
            let stale = await #expect(throws: DomainError.self) {
                try await env.access.renameOrganization(original.id, name: "Lost", code: nil, expectedVersion: original.version, by: owner)
            }
            #expect(stale?.isConflict == true)
            await #expect(throws: DomainError.notFound(resource: "organization", id: env.fixtures.storeB.rawValue)) {
                _ = try await env.access.renameOrganization(env.fixtures.storeB, name: "Mine now", code: nil, expectedVersion: 1, by: owner)
            }
            let events = try await env.events("org.update", resourceId: original.id.rawValue)
            #expect(events.map(\.summary) == [#"{"name":"store-a → Store A (Mall)"}"#])
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func deniedAttemptsCanBeRecorded(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            await env.access.recordDenied(owner, action: "user.create", resourceType: "user", resourceId: "new",
                                          reason: "you cannot grant the role administrator")
            let denied = try await env.events(AuditFilter(action: "user.create", outcome: .denied))
            #expect(denied.count == 1)
            #expect(denied.first?.actor == owner.actor)
            #expect(denied.first?.orgPath == owner.orgPath)
            #expect(denied.first?.summary == #"{"reason":"you cannot grant the role administrator"}"#)
            try await env.expectChainIntact()
        }
    }
}
