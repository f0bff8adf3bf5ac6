import Foundation
import TillyardKit

/// A realistic demo installation: an acquirer with two regions, agents, merchants with stores,
/// and a user for every role. Later areas add their demo data here.
public enum DemoData {
    /// The password of every demo user (printed by `serve --demo`; demo only).
    public static let password = "Tillyard-demo-1"

    /// One demo login: who, with which role, where.
    public struct Login: Sendable {
        public let username: String
        public let role: Role
        public let org: String
    }

    /// Fills an empty database. Returns the logins it created; does nothing (and returns the
    /// known logins) when the demo is already there, and refuses a database with other data.
    @discardableResult
    public static func seed(_ access: AccessService) async throws -> [Login] {
        if !(try await access.isEmpty()) {
            guard (try? await access.principal(commandLineUser: "admin")) != nil,
                  (try? await access.principal(commandLineUser: "lotus.owner")) != nil else {
                throw DomainError.conflict("the database already holds data that is not the demo; use an empty data folder for the demo")
            }
            return logins
        }
        let (admin, _) = try await access.bootstrap(rootName: "演示收单银行 Demo Acquirer Bank", rootCode: "ACQ001")
        let root = try await access.principal(commandLineUser: admin.username)
        try await access.resetPassword(admin.id, newPassword: password, by: root)

        func org(_ parent: OrgID, _ kind: OrgKind, _ name: String, _ code: String) async throws -> OrgID {
            try await access.createOrganization(NewOrganization(parentId: parent, kind: kind, name: name, code: code), by: root).id
        }
        let acquirer = admin.orgId
        let east = try await org(acquirer, .region, "华东分行 East China Branch", "R-EAST")
        let south = try await org(acquirer, .region, "华南分行 South China Branch", "R-SOUTH")
        let shAgent = try await org(east, .agent, "上海银联POS服务公司 Shanghai POS Services", "AG-SH01")
        let szAgent = try await org(south, .agent, "深圳终端服务公司 Shenzhen Terminal Services", "AG-SZ01")
        let lotus = try await org(shAgent, .merchant, "莲花超市 Lotus Supermarket", "M-LOTUS")
        let harbour = try await org(east, .merchant, "港湾咖啡 Harbour Coffee", "M-HARB")
        let pearl = try await org(szAgent, .merchant, "珠江酒家 Pearl River Restaurant", "M-PEARL")
        let greenleaf = try await org(south, .merchant, "绿叶大药房 Greenleaf Pharmacy", "M-GREEN")
        let lotusXuhui = try await org(lotus, .store, "莲花超市徐汇店 Lotus Xuhui", "S-LOTUS-XH")
        _ = try await org(lotus, .store, "莲花超市浦东店 Lotus Pudong", "S-LOTUS-PD")
        _ = try await org(harbour, .store, "港湾咖啡静安店 Harbour Jing'an", "S-HARB-JA")
        let pearlTianhe = try await org(pearl, .store, "珠江酒家天河店 Pearl River Tianhe", "S-PEARL-TH")
        _ = try await org(greenleaf, .store, "绿叶大药房福田店 Greenleaf Futian", "S-GREEN-FT")

        let places: [String: OrgID] = ["acquirer": acquirer, "east": east, "south": south, "lotus": lotus,
                                       "lotusXuhui": lotusXuhui, "pearl": pearl, "pearlTianhe": pearlTianhe]
        for login in logins where login.username != "admin" {
            _ = try await access.createUser(NewUser(orgId: places[login.org]!, username: login.username,
                                                    displayName: displayNames[login.username] ?? login.username,
                                                    role: login.role, password: password), by: root)
        }
        return logins
    }

    /// Every demo login, one per role plus regional and merchant variants.
    public static let logins: [Login] = [
        Login(username: "admin", role: .administrator, org: "acquirer"),
        Login(username: "finance", role: .finance, org: "acquirer"),
        Login(username: "tech", role: .technical, org: "acquirer"),
        Login(username: "security", role: .security, org: "acquirer"),
        Login(username: "desk", role: .serviceDesk, org: "acquirer"),
        Login(username: "east.admin", role: .administrator, org: "east"),
        Login(username: "east.inspector", role: .inspector, org: "east"),
        Login(username: "south.admin", role: .administrator, org: "south"),
        Login(username: "lotus.owner", role: .merchantOwner, org: "lotus"),
        Login(username: "lotus.cashier", role: .cashier, org: "lotusXuhui"),
        Login(username: "pearl.owner", role: .merchantOwner, org: "pearl"),
        Login(username: "pearl.cashier", role: .cashier, org: "pearlTianhe"),
    ]

    static let displayNames: [String: String] = [
        "finance": "王芳 Wang Fang", "tech": "李强 Li Qiang", "security": "赵敏 Zhao Min", "desk": "陈静 Chen Jing",
        "east.admin": "周伟 Zhou Wei", "east.inspector": "吴刚 Wu Gang", "south.admin": "郑丽 Zheng Li",
        "lotus.owner": "孙涛 Sun Tao", "lotus.cashier": "刘洋 Liu Yang", "pearl.owner": "黄磊 Huang Lei",
        "pearl.cashier": "林霞 Lin Xia",
    ]
}
