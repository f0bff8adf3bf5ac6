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
    public static func seed(_ access: AccessService, estate: EstateService) async throws -> [Login] {
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
        try await seedEstate(estate, access: access, root: root, regions: [east, south],
                             merchants: [(lotus, lotusXuhui), (pearl, pearlTianhe), (harbour, nil), (greenleaf, nil)])
        return logins
    }

    /// Five models (one with an expired PCI PTS approval), 2,000 terminals across every state,
    /// 50 merchants with bound and installed terminals.
    static func seedEstate(_ estate: EstateService, access: AccessService, root: Principal, regions: [OrgID],
                           merchants named: [(OrgID, OrgID?)]) async throws {
        let now = estate.clock.now()
        let year: TimeInterval = 365 * 86400
        let catalogue: [(String, String, TerminalClass, [String], String, TimeInterval)] = [
            ("PAX", "A920 Pro", .smartAndroid, ["4G", "WiFi", "Bluetooth"], "4-30310", 2 * year),
            ("Newland", "ME31", .traditional, ["Ethernet", "Dial"], "4-10020", year),
            ("Ingenico", "Move/5000", .mobile, ["4G", "WiFi"], "4-40120", 3 * year),
            ("Sunmi", "P2 Pro", .smartAndroid, ["4G", "WiFi"], "4-30455", 2 * year),
            ("Landi", "QR-S1", .qrBox, ["WiFi"], "4-20007", -30 * 86400),
        ]
        var models: [TerminalModel] = []
        for (maker, name, kind, links, approval, validity) in catalogue {
            models.append(try await estate.createModel(NewTerminalModel(
                manufacturer: maker, name: name, terminalClass: kind, connectivity: links, ptsApproval: approval,
                ptsExpiry: now.addingTimeInterval(validity), unionPayCertified: true, unionPayCertificate: "UP-\(approval)"), by: root))
        }
        let certified = models.filter { $0.certification(at: now) == .valid }

        // 46 more merchants, each with one store, spread over the two regions.
        var merchants = named
        let trades = ["便利店 Convenience", "面馆 Noodles", "书店 Books", "花店 Flowers", "药房 Pharmacy", "超市 Market",
                      "咖啡 Coffee", "烘焙 Bakery", "茶饮 Tea", "五金 Hardware"]
        for index in 0..<46 {
            let region = regions[index % regions.count]
            let merchant = try await access.createOrganization(NewOrganization(
                parentId: region, kind: .merchant, name: "演示\(trades[index % trades.count]) #\(index + 1)",
                code: String(format: "M-DEMO-%02d", index + 1)), by: root)
            let store = try await access.createOrganization(NewOrganization(
                parentId: merchant.id, kind: .store, name: "\(merchant.name) 1号店", code: "\(merchant.code)-1"), by: root)
            merchants.append((merchant.id, store.id))
        }

        // 2,000 terminals stocked in at the acquirer in one transaction.
        let stock = (0..<2000).map { index in
            let model = models[index % models.count]
            return StockIn(sn: String(format: "%@-%06d", model.manufacturer.uppercased(), index + 1),
                           tid: String(format: "%08d", 10_000_000 + index), modelId: model.id,
                           responsiblePerson: ["周伟", "郑丽", "吴刚"][index % 3], appVersion: index % 7 == 0 ? "2.3.9" : "2.4.1",
                           firmwareVersion: "FW-1.\(index % 4)", keyCheckValue: String(format: "TMK:%06X", (index * 7919) & 0xFFFFFF),
                           purchaseCost: [185_000, 98_000, 156_000, 143_000, 39_000][index % models.count],
                           warrantyEnd: now.addingTimeInterval(2 * year))
        }
        let terminals = try await estate.stockIn(stock, by: root)
        let usable = terminals.filter { terminal in certified.contains { $0.id == terminal.modelId } }

        // 1,200 go to the regions; a sixth of each batch is still in transit.
        let toRegions = Array(usable.prefix(1200))
        for (index, region) in regions.enumerated() {
            let batch = toRegions.enumerated().filter { $0.offset % regions.count == index }.map(\.element.id)
            _ = try await estate.dispatch(batch, to: region, reason: "年度配发 annual allocation", by: root)
            _ = try await estate.receive(Array(batch.prefix(batch.count * 5 / 6)), by: root)
        }
        // 150 bound, 100 of them installed, 80 in service, 10 removed; a few in repair and scrapped.
        let inRegionStock = toRegions.enumerated().filter { $0.offset % 12 < 10 }.map(\.element)
        for (index, terminal) in inRegionStock.prefix(150).enumerated() {
            let (merchant, store) = merchants[index % merchants.count]
            let prefix = String(format: "91310000MA1K%05d", index)
            let credit = prefix + String(EstateRules.creditCheckCharacter(prefix) ?? "0")
            _ = try await estate.bind(terminal.id, BindRequest(
                merchantId: merchant, storeId: store, mid: String(format: "8983100%08d", 48_000 + index), creditCode: credit,
                settlementAccount: String(format: "6222021%012d", 100_000 + index * 37),
                placement: Placement(address: "演示地址 \(index + 1) 号", latitude: 31.0 + Double(index % 50) / 100,
                                     longitude: 121.2 + Double(index % 40) / 100)), by: root)
            guard index < 100 else { continue }
            _ = try await estate.install(terminal.id, installer: ["吴刚", "李强"][index % 2], placement: nil, by: root)
            guard index < 90 else { continue }
            _ = try await estate.commission(terminal.id, by: root)
            if index >= 80 { _ = try await estate.remove(terminal.id, reason: "商户停业 merchant closed", by: root) }
        }
        for terminal in inRegionStock.dropFirst(150).prefix(20) {
            _ = try await estate.sendToRepair(terminal.id, reason: "屏幕损坏 broken screen", by: root)
        }
        for terminal in inRegionStock.dropFirst(170).prefix(5) {
            _ = try await estate.scrap(terminal.id, reason: "报废 end of life", by: root)
        }
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
