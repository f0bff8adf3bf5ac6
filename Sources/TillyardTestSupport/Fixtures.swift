import Foundation
import TillyardKit
import TillyardServer
import TillyardStore
import Hummingbird

/// A small organisation tree with two merchants in different regions, users at several
/// levels, and an API token for each user: the standard cast of tenant-isolation tests.
public struct Fixtures: Sendable {
    /// The password of every fixture user.
    public static let password = "Fixture-pass-1"

    public let acquirer: OrgID
    public let regionA: OrgID
    public let regionB: OrgID
    public let merchantA: OrgID
    public let merchantB: OrgID
    public let storeA: OrgID
    public let storeB: OrgID
    /// Users by name: admin, regionA.admin, merchantA.owner, merchantB.owner, storeA.cashier, security.
    public let users: [String: User]
    /// API tokens (plaintext, all scopes of the user) by user name.
    public let tokens: [String: String]

    /// Builds the tree on an empty database.
    public static func make(_ access: AccessService) async throws -> Fixtures {
        let (admin, _) = try await access.bootstrap(rootName: "Fixture Acquirer", rootCode: "ACQ")
        let root = try await access.principal(commandLineUser: admin.username)
        func org(_ parent: OrgID, _ kind: OrgKind, _ name: String) async throws -> OrgID {
            try await access.createOrganization(NewOrganization(parentId: parent, kind: kind, name: name, code: name.uppercased()), by: root).id
        }
        let regionA = try await org(admin.orgId, .region, "region-a")
        let regionB = try await org(admin.orgId, .region, "region-b")
        let merchantA = try await org(regionA, .merchant, "merchant-a")
        let merchantB = try await org(regionB, .merchant, "merchant-b")
        let storeA = try await org(merchantA, .store, "store-a")
        let storeB = try await org(merchantB, .store, "store-b")
        try await access.resetPassword(admin.id, newPassword: password, by: root)
        var users: [String: User] = ["admin": try await access.principal(commandLineUser: "admin").user]
        let cast: [(String, Role, OrgID)] = [
            ("regionA.admin", .administrator, regionA), ("merchantA.owner", .merchantOwner, merchantA),
            ("merchantB.owner", .merchantOwner, merchantB), ("storeA.cashier", .cashier, storeA),
            ("security", .security, admin.orgId),
        ]
        for (name, role, place) in cast {
            users[name] = try await access.createUser(NewUser(orgId: place, username: name, displayName: name, role: role,
                                                              password: password), by: root)
        }
        var tokens: [String: String] = [:]
        for name in users.keys where users[name]!.role.permissions.contains(.tokensManage) {
            let principal = try await access.principal(commandLineUser: name)
            tokens[name] = try await access.createToken(name: "\(name) token", scopes: [], expiresInDays: nil, by: principal).plaintext
        }
        return Fixtures(acquirer: admin.orgId, regionA: regionA, regionB: regionB, merchantA: merchantA, merchantB: merchantB,
                        storeA: storeA, storeB: storeB, users: users, tokens: tokens)
    }
}

/// A complete application over a fresh test database, for router-level tests.
public struct TestEnvironment: Sendable {
    public let backend: TestBackend
    public let services: AppServices
    public let configuration: AppConfiguration
    public let clock: TestClock

    /// Builds services (bcrypt cost 4, a movable clock) over a fresh database, runs `body`, closes it.
    public static func with(_ backend: TestBackend, maxBodyBytes: Int = 1 << 20,
                            _ body: (TestEnvironment) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let clock = TestClock(Date())
            var configuration = AppConfiguration(bcryptCost: 4)
            configuration.maxBodyBytes = maxBodyBytes
            let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock)
            try await body(TestEnvironment(backend: backend, services: services, configuration: configuration, clock: clock))
        }
    }

    /// The application under test.
    public func application() async throws -> some ApplicationProtocol {
        try await buildApplication(configuration: configuration, services: services)
    }
}

extension Fixtures {
    /// A valid onboarding application; tests change what they are about.
    public static func application(creditCode: String = "91350100M000100Y43", account: String? = "6222 0212 3456 7890 123",
                                   mcc: String = "5411", areaCode: String = "2900",
                                   businessType: BusinessType = .fixed) -> MerchantApplication {
        MerchantApplication(legalName: "莲花超市有限公司", creditCode: creditCode, mcc: mcc, areaCode: areaCode, businessType: businessType,
                            businessHours: "08:00-22:00",
                            address: Placement(address: "上海市徐汇区漕溪北路 1 号", latitude: 31.19, longitude: 121.43),
                            settlementAccountName: "莲花超市有限公司", settlementBank: "工商银行上海徐汇支行", settlementAccount: account,
                            contacts: [MerchantContact(role: "法定代表人", name: "王芳", phone: "13800138000")])
    }

    /// Gives a merchant an approved onboarding file: filed with the required documents by the
    /// acquirer's administrator, approved by the security officer (four eyes).
    @discardableResult
    public static func onboard(_ merchant: OrgID, services: AppServices, application: MerchantApplication = Fixtures.application(),
                               mid: String? = nil) async throws -> MerchantFile {
        let admin = try await services.access.principal(commandLineUser: "admin")
        let security = try await services.access.principal(commandLineUser: "security")
        _ = try await services.merchants.start(merchant, application, by: admin)
        for kind in DocumentKind.required {
            _ = try await services.merchants.upload(merchant, kind: kind, filename: "\(kind.rawValue).png", bytes: DemoData.samplePNG, by: admin)
        }
        _ = try await services.merchants.submit(merchant, by: admin)
        return try await services.merchants.approve(merchant, mid: mid, riskLevel: nil, note: nil, by: security)
    }
}
