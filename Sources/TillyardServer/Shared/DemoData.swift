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
    public static func seed(_ services: AppServices) async throws -> [Login] {
        let access = services.access, estate = services.estate, merchants = services.merchants
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
        let reviewer = try await access.principal(commandLineUser: "security")
        try await seedEstate(estate, access: access, onboarding: merchants, root: root, reviewer: reviewer, regions: [east, south],
                             merchants: [(lotus, lotusXuhui, "5411"), (pearl, pearlTianhe, "5812"), (harbour, nil, "5814"),
                                         (greenleaf, nil, "5912")])
        try await seedReviewQueue(merchants, root: root, reviewer: reviewer, regions: [east, south])
        try await seedCatalog(services.catalog, owner: try await access.principal(commandLineUser: "lotus.owner"))
        try await seedPromotions(services.promotions, owner: try await access.principal(commandLineUser: "lotus.owner"))
        let members = try await DemoMembers.seed(services)
        try await DemoSales.seed(services, store: lotusXuhui, members: members)
        try await seedFleet(services.fleet, root: root, lotus: lotus)
        // Reports (issue 9): terminal payments for the acquirer dashboard.
        try await DemoTransactions.seed(services, root: root)
        try await seedService(services, root: root, lotus: lotus, east: east)
        return logins
    }

    /// The spare terminal the service demo keeps in the east region's stock for a swap-out.
    public static let spareSn = "PAX-SPARE-0001"

    /// The service desk: knowledge articles, tickets at Lotus (one overdue for its response, one for its
    /// fix, both escalated by the first tick; a new consultation from the merchant; one closed and rated),
    /// inspection tasks, and a spare terminal in the east region for a swap-out.
    static func seedService(_ services: AppServices, root: Principal, lotus: OrgID, east: OrgID) async throws {
        let service = services.service, access = services.access
        let desk = try await access.principal(commandLineUser: "desk")
        let tech = try await access.principal(commandLineUser: "tech")
        let owner = try await access.principal(commandLineUser: "lotus.owner")
        let inspector = try await access.principal(commandLineUser: "east.inspector")
        let refund = try await service.createArticle(
            title: "如何退货退款 How to refund a sale",
            body: "在终端主菜单选择“退货”，刷原卡并输入原交易参考号。Choose Refund on the main menu, present the original card and key in the reference number.",
            tags: ["退款 refund", "培训 training"], by: desk)
        _ = try await service.createArticle(
            title: "更换打印纸 Changing the paper roll", body: "打开纸仓盖，热敏面朝上放入 57 mm 纸卷。Open the cover and drop in a 57 mm roll, thermal side up.",
            tags: ["打印 printing"], by: desk)

        let lotusPath = try await services.estate.subtreePath(of: lotus, by: root)
        let working = try await services.estate.search(TerminalFilter(state: .inService, orgPath: lotusPath), page: PageRequest(limit: 10), by: root).items
        // Terminals go round the 50 demo merchants, so Lotus has two in service.
        guard working.count >= 2, let model = working.first?.modelId else { return }
        _ = try await services.estate.stockIn(StockIn(sn: spareSn, tid: "19990001", modelId: model, ownerId: east,
                                                      responsiblePerson: "周伟", appVersion: "2.4.1", notes: "备机 spare for swap-outs"), by: root)

        // Tickets opened in the past: the service answers with a clock set back.
        let now = service.clock.now()
        func earlier(_ hours: Double) -> ServiceDeskService {
            ServiceDeskService(store: service.store, estate: service.estate, vault: service.vault, clock: Clock { now.addingTimeInterval(-hours * 3600) })
        }
        let unanswered = try await earlier(6).open(NewTicket(kind: .repair, priority: .high, caller: "孙涛 Sun Tao", callerPhone: "13800130000",
                                                              symptom: "刷卡无反应 card reader does not respond", terminalId: working[0].id), by: desk)
        _ = try await earlier(5.5).act(unanswered.id, .assign, version: unanswered.version, note: nil, assignee: inspector.user.id, by: desk)
        let slow = try await earlier(30).open(NewTicket(kind: .repair, caller: "刘洋 Liu Yang", symptom: "打印模糊 printout is faint",
                                                        terminalId: working[1].id), by: desk)
        let assigned = try await earlier(29).act(slow.id, .assign, version: slow.version, note: nil, assignee: tech.user.id, by: desk)
        _ = try await earlier(28).act(slow.id, .start, version: assigned.version, note: nil, by: tech)
        _ = try await service.open(NewTicket(kind: .consultation, caller: "孙涛 Sun Tao", symptom: "顾客要求部分退款怎么操作？ how do I refund part of a sale?",
                                             terminalId: working[1].id, articleIds: [refund.id]), by: owner)
        let done = try await earlier(50).open(NewTicket(kind: .complaint, caller: "孙涛 Sun Tao", symptom: "结算延迟 settlement arrived a day late",
                                                        merchantId: lotus), by: desk)
        let taken = try await earlier(49).act(done.id, .assign, version: done.version, note: nil, assignee: tech.user.id, by: desk)
        _ = try await earlier(40).act(done.id, .resolve, version: taken.version, note: "清算行节假日顺延，已说明 the clearing bank's holiday, explained",
                                      by: tech)
        _ = try await service.rate(done.id, rating: 4, comment: "解释清楚 clear answer", by: owner)

        // Inspections: one asked for now, given to the east inspector; the plan adds the rest as they come due.
        let task = try await service.requestInspection(of: working[1].id, note: "商户反映机具松动 the merchant says the stand is loose", by: root)
        _ = try await service.assignInspection(task.id, to: inspector.user.id, version: task.version, by: root)
        try await service.tick()
    }

    /// Parameter templates for the acquirer and Lotus, and a last heartbeat from four in five
    /// deployed terminals (no real terminal talks to the demo, so they go offline as it runs).
    static func seedFleet(_ fleet: FleetService, root: Principal, lotus: OrgID) async throws {
        _ = try await fleet.saveTemplate(level: .defaults, target: root.rootId.rawValue,
                                         values: ["host.primary": "10.8.0.10:8583", "host.backup": "10.8.1.10:8583", "timeout.online": "60",
                                                  "tender.card": "on", "tender.wechat": "on", "tender.alipay": "on", "tender.unionpay_qr": "on"],
                                         replacing: 0, by: root)
        _ = try await fleet.saveTemplate(level: .merchant, target: lotus.rawValue,
                                         values: ["receipt.merchant_name": "莲花超市 Lotus Supermarket", "receipt.footer": "谢谢惠顾 Thank you"],
                                         replacing: 0, by: root)
        let deployed = try await fleet.store.read { repos in
            var found: [Terminal] = []
            for state in FleetService.activatable.sorted(by: { $0.rawValue < $1.rawValue }) {
                var filter = TerminalFilter()
                filter.state = state
                found += try await repos.terminals.search(visibleUnder: root.orgPath, filter: filter, page: PageRequest(limit: PageRequest.maxLimit)).items
            }
            return found
        }
        let now = fleet.clock.now()
        for (index, terminal) in deployed.enumerated() where index % 5 != 4 {
            let fix = terminal.placement.map { LocationReport(latitude: $0.latitude, longitude: $0.longitude, source: .gps, accuracy: 20, reportedAt: now) }
            fleet.hub.record(TerminalStatus(terminalId: terminal.id, lastSeenAt: now.addingTimeInterval(-Double(index % 240)),
                                            heartbeat: Heartbeat(appVersion: terminal.appVersion, firmwareVersion: terminal.firmwareVersion,
                                                                 battery: 40 + index % 60, paper: index % 9 == 0 ? .low : .ok, signal: -60 - index % 40,
                                                                 location: fix, secondsSinceTransaction: 60 * (index % 90))))
        }
        try await fleet.flushHeartbeats()
    }

    /// Lotus Supermarket's catalog: packaged goods with real-format barcodes, weighed goods with
    /// scale codes, member prices.
    static func seedCatalog(_ catalog: CatalogService, owner: Principal) async throws {
        let goods: [(String, String, String, String, Int64, Int64?)] = [
            ("COLA-330", "可口可乐 330ml", "Coca-Cola 330ml", "drinks", 350, 300), ("SPRITE-330", "雪碧 330ml", "Sprite 330ml", "drinks", 330, nil),
            ("WATER-550", "农夫山泉 550ml", "Spring water 550ml", "drinks", 200, nil), ("TEA-500", "康师傅冰红茶 500ml", "Iced tea 500ml", "drinks", 350, 320),
            ("MILK-250", "蒙牛纯牛奶 250ml", "Whole milk 250ml", "dairy", 380, 350), ("YOG-200", "光明酸奶 200g", "Yoghurt 200g", "dairy", 550, nil),
            ("NOODLE-5", "康师傅红烧牛肉面 五连包", "Beef noodles 5-pack", "instant", 1290, 1150), ("RICE-5KG", "五常大米 5kg", "Wuchang rice 5kg", "grain", 5990, 5490),
            ("OIL-5L", "金龙鱼调和油 5L", "Cooking oil 5L", "grain", 6990, nil), ("SOY-500", "海天生抽 500ml", "Light soy sauce 500ml", "condiment", 890, nil),
            ("EGG-10", "鲜鸡蛋 10枚", "Eggs x10", "fresh", 1290, 1190), ("TISSUE-10", "维达抽纸 10包", "Tissues 10 packs", "household", 2590, 2290),
        ]
        for (index, (sku, zh, en, category, price, member)) in goods.enumerated() {
            let body = String(format: "690123456%03d", index + 100)
            let barcode = body + String(Barcodes.checkDigit(body) ?? 0)
            _ = try await catalog.create(ProductInput(sku: sku, barcodes: [barcode], nameZh: zh, nameEn: en, category: category, price: price,
                                                      memberPrice: member, taxRate: 1300, cost: price * 7 / 10), merchantId: nil, by: owner)
        }
        let weighed: [(String, String, String, Int64, String)] = [
            ("PORK-BELLY", "五花肉", "Pork belly", 3280, "00101"), ("APPLE-FUJI", "红富士苹果", "Fuji apples", 1280, "00102"),
            ("BANANA", "香蕉", "Bananas", 698, "00103"), ("TOMATO", "西红柿", "Tomatoes", 598, "00104"),
        ]
        for (sku, zh, en, price, scale) in weighed {
            _ = try await catalog.create(ProductInput(sku: sku, nameZh: zh, nameEn: en, category: "fresh", unit: .weight, price: price,
                                                      taxRate: 900, cost: price * 6 / 10, scaleCode: scale), merchantId: nil, by: owner)
        }
    }

    /// Lotus's promotions: weekend drinks, buy 2 get 1 on noodles, the evening fresh-food markdown,
    /// member prices, and a Christmas rice offer still to come. Started a month ago, so the demo's
    /// past trading was priced by them.
    static func seedPromotions(_ promotions: PromotionService, owner: Principal) async throws {
        let now = promotions.clock.now()
        let monthAgo = now.addingTimeInterval(-30 * 86_400)
        let offers: [PromotionInput] = [
            PromotionInput(name: "周末饮料九折", rule: .percentOff(basisPoints: 1000), categories: ["drinks"], startsAt: monthAgo, weekdays: [6, 7]),
            PromotionInput(name: "方便面买二送一", rule: .buyXGetY(buy: 2, free: 1), skus: ["NOODLE-5"], startsAt: monthAgo),
            PromotionInput(name: "晚市鲜食八折", rule: .percentOff(basisPoints: 2000), categories: ["fresh"], startsAt: monthAgo, hours: "19:00-22:00"),
            PromotionInput(name: "会员价", rule: .memberPrice, startsAt: monthAgo, membersOnly: true),
            PromotionInput(name: "圣诞大米特价", rule: .fixedPrice(fenPerUnit: 4990), skus: ["RICE-5KG"], startsAt: now.addingTimeInterval(18 * 86_400),
                           endsAt: now.addingTimeInterval(21 * 86_400)),
        ]
        for offer in offers { _ = try await promotions.create(offer, merchantId: nil, by: owner) }
    }

    /// A 1×1 PNG: the demo's stand-in for scanned documents (tests use it too).
    public static let samplePNG: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41,
        0x54, 0x78, 0x9C, 0x63, 0xF8, 0xFF, 0xFF, 0x3F, 0x00, 0x05, 0xFE, 0x02, 0xFE, 0x0D, 0xEF, 0x46, 0xB8, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]

    /// A plausible onboarding application for demo merchant number `index`.
    public static func application(index: Int, mcc: String, areaCode: String, mobile: Bool = false) -> MerchantApplication {
        let prefix = String(format: "91310000MA1K%05d", index)
        let credit = prefix + String(EstateRules.creditCheckCharacter(prefix) ?? "0")
        let shanghai = areaCode == "2900"
        return MerchantApplication(
            legalName: "演示商贸有限公司 \(index + 1)", creditCode: credit, mcc: mcc, areaCode: areaCode,
            businessType: mobile ? .mobile : .fixed, businessHours: index % 9 == 0 ? "24h" : "08:30-22:00",
            address: Placement(address: (shanghai ? "上海市徐汇区演示路 " : "深圳市福田区演示路 ") + "\(index + 1) 号",
                               latitude: ((shanghai ? 31.18 : 22.54) * 1000 + Double(index % 20) * 5).rounded() / 1000,
                               longitude: ((shanghai ? 121.43 : 114.05) * 1000 + Double(index % 20) * 5).rounded() / 1000),
            settlementAccountName: "演示商贸有限公司 \(index + 1)", settlementBank: "演示银行 Demo Bank",
            settlementAccount: String(format: "6222021%012d", 100_000 + index * 37),
            contacts: [MerchantContact(role: "法定代表人 legal representative", name: ["王芳", "陈明", "刘洋"][index % 3],
                                       phone: String(format: "1380013%04d", index))])
    }

    /// Fills in a file with the required documents and submits it.
    static func submitFile(_ merchants: MerchantService, merchant: OrgID, _ application: MerchantApplication, by root: Principal) async throws {
        _ = try await merchants.start(merchant, application, by: root)
        for kind in DocumentKind.required {
            _ = try await merchants.upload(merchant, kind: kind, filename: "\(kind.rawValue).png", bytes: samplePNG, by: root)
        }
        _ = try await merchants.submit(merchant, by: root)
    }

    /// Merchants still in onboarding: two waiting for review, one rejected, one draft.
    static func seedReviewQueue(_ merchants: MerchantService, root: Principal, reviewer: Principal, regions: [OrgID]) async throws {
        let pending: [(String, String, String, Bool)] = [
            ("夜市小吃 Night Market Snacks", "M-NIGHT", "5814", true), ("金店 Golden Jewellery", "M-GOLD", "5944", false),
            ("快修 QuickFix Phones", "M-QFIX", "7399", false), ("新开面包房 New Bakery", "M-NEWB", "5462", false),
        ]
        for (offset, (name, code, mcc, mobile)) in pending.enumerated() {
            let index = 100 + offset
            let areaCode = offset % 2 == 0 ? "2900" : "5840"
            let file = try await merchants.apply(parentId: regions[offset % regions.count], tradingName: name, code: code,
                                                 application(index: index, mcc: mcc, areaCode: areaCode, mobile: mobile), by: root)
            let id = file.merchant.id
            guard offset < 3 else { continue }
            for kind in DocumentKind.required {
                _ = try await merchants.upload(id, kind: kind, filename: "\(kind.rawValue).png", bytes: samplePNG, by: root)
            }
            _ = try await merchants.submit(id, by: root)
            if offset == 2 {
                _ = try await merchants.reject(id, reasons: "营业执照照片模糊，请重新上传 licence photo unreadable, upload it again", by: reviewer)
            }
        }
    }

    /// Five models (one with an expired PCI PTS approval), 2,000 terminals across every state,
    /// 50 merchants with bound and installed terminals.
    static func seedEstate(_ estate: EstateService, access: AccessService, onboarding: MerchantService, root: Principal,
                           reviewer: Principal, regions: [OrgID], merchants named: [(OrgID, OrgID?, String)]) async throws {
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
        var merchants = named.map { ($0.0, $0.1) }
        var categories = named.map(\.2)
        let trades = ["便利店 Convenience", "面馆 Noodles", "书店 Books", "花店 Flowers", "药房 Pharmacy", "超市 Market",
                      "咖啡 Coffee", "烘焙 Bakery", "茶饮 Tea", "五金 Hardware"]
        let tradeCategories = ["5499", "5812", "5942", "5992", "5912", "5411", "5814", "5462", "5499", "5211"]
        for index in 0..<46 {
            let region = regions[index % regions.count]
            let merchant = try await access.createOrganization(NewOrganization(
                parentId: region, kind: .merchant, name: "演示\(trades[index % trades.count]) #\(index + 1)",
                code: String(format: "M-DEMO-%02d", index + 1)), by: root)
            let store = try await access.createOrganization(NewOrganization(
                parentId: merchant.id, kind: .store, name: "\(merchant.name) 1号店", code: "\(merchant.code)-1"), by: root)
            merchants.append((merchant.id, store.id))
            categories.append(tradeCategories[index % tradeCategories.count])
        }
        // Every merchant passes onboarding (filed by the administrator, approved by security)
        // before a terminal is bound to it. The named ones sit in the east and south in turn.
        for (index, (merchant, _)) in merchants.enumerated() {
            let areaCode = index % 2 == 0 ? "2900" : "5840"
            try await submitFile(onboarding, merchant: merchant, application(index: index, mcc: categories[index], areaCode: areaCode), by: root)
            _ = try await onboarding.approve(merchant, mid: nil, riskLevel: nil, note: "资料齐全 documents complete", by: reviewer)
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
            _ = try await estate.bind(terminal.id, BindRequest(merchantId: merchant, storeId: store, placement: nil), by: root)
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
