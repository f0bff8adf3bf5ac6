import Foundation
import Testing
import TillyardKit

/// The role → permission matrix and which roles may sit on which kind of organisation node.
@Suite struct RolesTests {
    static let merchantRoles: [Role] = [.merchantOwner, .cashier]
    static let staffRoles: [Role] = Role.allCases.filter { !merchantRoles.contains($0) }

    @Test func administratorHoldsEveryPermission() {
        #expect(Role.administrator.permissions == Set(Permission.allCases))
    }

    @Test func cashierSellsAndReadsTheCatalogButNeverApproves() {
        #expect(Role.cashier.permissions == [.dashboardView, .catalogRead, .salesSell, .salesRead, .membersRead])
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.salesApprove) }) == [.administrator, .merchantOwner])
    }

    @Test(arguments: Role.allCases)
    func everyRoleSeesTheDashboardAndIsWithinTheAdministrators(role: Role) {
        #expect(role.permissions.contains(.dashboardView))
        #expect(role.permissions.isSubset(of: Role.administrator.permissions))
    }

    @Test func theMatrix() {
        #expect(Role.security.permissions.subtracting([.reportsSales, .reportsFleet]) == [.dashboardView, .orgsRead, .usersRead, .auditRead, .tokensManage, .estateRead,
                                              .merchantsRead, .merchantsReview, .fleetManage, .serviceRead, .riskRead, .riskManage])
        #expect(Role.finance.permissions.subtracting([.reportsSales, .reportsFleet]) == [.dashboardView, .orgsRead, .tokensManage, .estateRead, .estateCosts, .merchantsRead, .riskRead])
        #expect(Role.technical.permissions.subtracting([.reportsSales, .reportsFleet]) == [.dashboardView, .orgsRead, .tokensManage, .estateRead, .estateManage, .estateBind,
                                               .estateInstall, .modelsManage, .merchantsRead, .merchantsOnboard, .fleetManage, .fleetRelease,
                                               .serviceRead, .serviceOpen, .serviceHandle, .serviceRepair, .inspectionsManage,
                                               .inspectionsRecord, .knowledgeManage])
        #expect(Role.serviceDesk.permissions == [.dashboardView, .orgsRead, .estateRead, .merchantsRead, .serviceRead, .serviceOpen,
                                                 .serviceHandle, .inspectionsManage, .knowledgeManage])
        #expect(Role.inspector.permissions == [.dashboardView, .orgsRead, .estateRead, .estateInstall, .merchantsRead, .serviceRead,
                                               .serviceHandle, .serviceRepair, .inspectionsRecord])
        #expect(Role.merchantOwner.permissions.subtracting([.reportsSales, .reportsFleet]) == [.dashboardView, .orgsRead, .orgsManage, .usersRead, .usersManage, .tokensManage,
                                                   .estateRead, .merchantsRead, .merchantsOnboard, .catalogRead, .catalogManage, .salesSell,
                                                   .salesRead, .salesApprove, .stockManage, .serviceRead, .serviceOpen,
                                                   .membersRead, .membersManage, .membersPrivacy])
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.membersPrivacy) }) == [.administrator, .merchantOwner],
                "only the merchant's owner (and administrators) see members' phone numbers")
    }

    @Test func financeSeesSalesReportsAndTechnicalStaffTheFleetDashboard() {
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.reportsSales) }) == [.administrator, .finance, .merchantOwner])
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.reportsFleet) }) == [.administrator, .technical, .security])
    }

    @Test func onlyFinanceAndAdministratorsSeeCostsAndMerchantsNeverChangeTheEstate() {
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.estateCosts) }) == [.administrator, .finance])
        for role in [Role.merchantOwner, .cashier] {
            #expect(role.permissions.isDisjoint(with: [.estateManage, .estateBind, .estateInstall, .modelsManage]))
        }
    }

    @Test func onlyAdministratorsAndSecurityReviewMerchantsAndCashiersSeeNoFiles() {
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.merchantsReview) }) == [.administrator, .security])
        #expect(Role.cashier.permissions.isDisjoint(with: [.merchantsRead, .merchantsOnboard, .merchantsReview, .catalogManage]))
    }

    @Test func onlyAdministratorsAndSecurityReadTheAuditTrail() {
        #expect(Set(Role.allCases.filter { $0.permissions.contains(.auditRead) }) == [.administrator, .security])
    }

    @Test func noRoleButTheAdministratorCanCreateAnAdministrator() {
        // Creating a user requires the new role's permissions to be a subset of the creator's.
        for role in Role.allCases where role != .administrator {
            #expect(!Role.administrator.permissions.isSubset(of: role.permissions), "\(role) could grant administrator")
        }
    }

    @Test(arguments: Role.allCases)
    func merchantRolesFitOnlyMerchantAndStoreNodes(role: Role) {
        let fitting = Set(OrgKind.allCases.filter { role.fits($0) })
        if Self.merchantRoles.contains(role) {
            #expect(role.isMerchantSide)
            #expect(fitting == [.merchant, .store])
        } else {
            #expect(!role.isMerchantSide)
            #expect(fitting == [.acquirer, .region, .agent])
            #expect(!role.fits(.store), "no staff role fits a store")
            #expect(!role.fits(.merchant))
        }
    }

    @Test func permissionNamesAreStable() {
        #expect(Permission.allCases.map(\.rawValue) == [
            "dashboard.view", "orgs.read", "orgs.manage", "users.read", "users.manage", "tokens.manage", "audit.read",
            "estate.read", "estate.manage", "estate.bind", "estate.install", "estate.costs", "models.manage",
            "merchants.read", "merchants.onboard", "merchants.review", "catalog.read", "catalog.manage",
            "sales.sell", "sales.read", "sales.approve", "stock.manage", "fleet.manage", "fleet.release",
            "service.read", "service.open", "service.handle", "service.repair", "inspections.manage", "inspections.record",
            "knowledge.manage", "service.admin",
            "members.read", "members.manage", "members.privacy",
            "risk.read", "risk.manage",
            "backups.manage",
            "reports.sales", "reports.fleet",
        ])
        #expect(Role.allCases.map(\.rawValue) == [
            "administrator", "finance", "technical", "security", "service_desk", "inspector", "merchant_owner", "cashier",
        ])
        #expect(Permission.allCases.sorted().first == .auditRead, "permissions sort by name")
    }

    @Test func orgKindTree() {
        #expect(OrgKind.acquirer.allowedChildren == [.region, .agent, .merchant])
        #expect(OrgKind.region.allowedChildren == [.region, .agent, .merchant])
        #expect(OrgKind.agent.allowedChildren == [.merchant])
        #expect(OrgKind.merchant.allowedChildren == [.store])
        #expect(OrgKind.store.allowedChildren.isEmpty)
        #expect(Set(OrgKind.allCases.filter(\.isMerchantSide)) == [.merchant, .store])
    }
}

/// The per-request permission and tenant checks of `Principal`.
@Suite struct PrincipalTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func principal(role: Role, path: String, permissions: Set<Permission>? = nil,
                          credential: Credential = .session(idHash: "h", csrfToken: "c")) -> Principal {
        let user = User(id: UserID(rawValue: "u1"), orgId: OrgID(rawValue: "o1"), username: "alice", displayName: "Alice",
                        email: nil, role: role, passwordHash: "x", createdAt: now, updatedAt: now)
        return Principal(user: user, orgPath: path, orgKind: .region, permissions: permissions ?? role.permissions,
                         credential: credential, origin: "127.0.0.1")
    }

    static func org(_ path: String) -> Organization {
        Organization(id: OrgID(rawValue: "x"), parentId: nil, kind: .merchant, name: "m", code: "M", path: path,
                     createdAt: now, updatedAt: now)
    }

    @Test func requireThrowsForbiddenWithoutThePermission() {
        let cashier = Self.principal(role: .cashier, path: "/a/")
        #expect(cashier.can(.dashboardView))
        #expect(!cashier.can(.usersManage))
        #expect(throws: Never.self) { try cashier.require(.dashboardView) }
        #expect(throws: DomainError.forbidden("your role does not allow users.manage")) { try cashier.require(.usersManage) }
    }

    @Test func subtreeVisibility() {
        let regionA = Self.principal(role: .administrator, path: "/root/a/")
        #expect(regionA.sees(path: "/root/a/"))
        #expect(regionA.sees(path: "/root/a/m1/s1/"))
        #expect(!regionA.sees(path: "/root/b/"))
        #expect(!regionA.sees(path: "/root/"), "a parent is outside the subtree")
        #expect(throws: Never.self) { try regionA.requireVisible(Self.org("/root/a/m/"), resource: "organization", id: "m") }
        #expect(throws: DomainError.notFound(resource: "organization", id: "m")) {
            try regionA.requireVisible(Self.org("/root/b/m/"), resource: "organization", id: "m")
        }
    }

    @Test func actorDependsOnTheCredential() {
        #expect(Self.principal(role: .cashier, path: "/a/").actor == AuditActor(kind: .user, id: "u1", name: "alice"))
        #expect(Self.principal(role: .cashier, path: "/a/", credential: .token(TokenID(rawValue: "t1"))).actor
            == AuditActor(kind: .token, id: "t1", name: "alice (token)"))
        #expect(Self.principal(role: .cashier, path: "/a/", credential: .commandLine).actor
            == AuditActor(kind: .user, id: "u1", name: "alice (cli)"))
    }
}
