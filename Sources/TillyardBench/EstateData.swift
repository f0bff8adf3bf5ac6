import Foundation
import TillyardKit

/// A value drawn by weight, for the skewed mixes real estates have (many terminals on the
/// current app version, few on old ones).
struct WeightedChoice<Value: Sendable>: Sendable {
    let options: [(value: Value, weight: Int)]
    private let total: Int

    init(options: [(value: Value, weight: Int)]) {
        self.options = options
        total = options.reduce(0) { $0 + $1.weight }
    }

    func pick(using generator: inout SeededGenerator) -> Value {
        var roll = Int.random(in: 0..<total, using: &generator)
        for option in options {
            if roll < option.weight { return option.value }
            roll -= option.weight
        }
        return options[options.count - 1].value
    }

    /// Every value, rare ones included (searches ask for rare versions as often as common ones).
    var values: [Value] { options.map(\.value) }
}

/// A city a region works in: where its merchants' terminals stand.
struct City: Sendable {
    let name: String
    let latitude: Double
    let longitude: Double
}

/// A merchant of the benchmark estate with the five binding elements it signs with.
struct BenchMerchant: Sendable {
    let org: Organization
    let store: Organization
    /// The agent or region that signed the merchant and holds its terminals' dossiers.
    let holder: Organization
    let city: City
    let mid: String
    let creditCode: String
    let accountMasked: String
    let accountFingerprint: String
}

/// The organisation tree and model catalogue of the benchmark: one acquirer, its regions, agents
/// under the regions, and merchants (each with one store) signed by an agent or directly by a region.
struct EstateTree: Sendable {
    let root: Organization
    let regions: [Organization]
    /// Agent `i` works for `regions[i % regions.count]`.
    let agents: [Organization]
    let merchants: [BenchMerchant]
    let models: [TerminalModel]
    /// The acquirer institution code carried by every binding.
    let acquirerCode: String

    /// Every organisation, parents before children (the order they must be inserted in).
    var organizations: [Organization] {
        [root] + regions + agents + merchants.map(\.org) + merchants.map(\.store)
    }

    static let cities: [[City]] = [
        [City(name: "上海 Shanghai", latitude: 31.23, longitude: 121.47), City(name: "杭州 Hangzhou", latitude: 30.27, longitude: 120.16)],
        [City(name: "广州 Guangzhou", latitude: 23.13, longitude: 113.26), City(name: "深圳 Shenzhen", latitude: 22.54, longitude: 114.06)],
    ]

    static let trades = ["便利店 Convenience", "面馆 Noodles", "书店 Books", "花店 Flowers", "药房 Pharmacy",
                         "超市 Market", "咖啡 Coffee", "烘焙 Bakery", "茶饮 Tea", "五金 Hardware"]

    /// Builds the tree in memory; `now` is its creation time.
    static func build(merchantCount: Int, agentsPerRegion: Int, now: Date, generator: inout SeededGenerator) -> EstateTree {
        func node(_ kind: OrgKind, _ name: String, _ code: String, under parent: Organization?) -> Organization {
            let id = OrgID.generate(now: now)
            return Organization(id: id, parentId: parent?.id, kind: kind, name: name, code: code,
                                path: Organization.path(for: id, under: parent), createdAt: now, updatedAt: now)
        }
        let root = node(.acquirer, "基准收单 Benchmark Acquirer", "BENCH", under: nil)
        let regionNames = [("华东 East", "EAST"), ("华南 South", "SOUTH")]
        let regions = regionNames.map { node(.region, $0.0, $0.1, under: root) }
        let agents = (0..<(agentsPerRegion * regions.count)).map { index in
            let region = regions[index % regions.count]
            return node(.agent, "\(region.name) 服务商 Agent \(index + 1)", "\(region.code)-AG\(index + 1)", under: region)
        }
        // One settlement-account key for the run: fingerprints are HMACs, as in production.
        let protector = AccountProtector(key: Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        let merchants = (0..<merchantCount).map { index -> BenchMerchant in
            let regionIndex = index % regions.count
            // Seven in ten merchants are signed by an agent, the rest directly by their region.
            let holder = index % 10 < 7 ? agents[((index / regions.count) % agentsPerRegion) * regions.count + regionIndex] : regions[regionIndex]
            let cityGroup = cities[regionIndex % cities.count]
            let city = cityGroup[(index / regions.count) % cityGroup.count]
            let code = "M" + padded(index + 1, 6)
            let merchant = node(.merchant, "\(trades[index % trades.count]) #\(index + 1)", code, under: holder)
            let store = node(.store, "\(merchant.name) 1号店", code + "-1", under: merchant)
            let creditPrefix = "91310000MA1K" + padded(index % 100_000, 5)
            let account = "6222021" + padded(Int.random(in: 0..<1_000_000_000_000, using: &generator), 12)
            return BenchMerchant(org: merchant, store: store, holder: holder, city: city,
                                 mid: "898" + padded(310 + regionIndex, 4) + padded(index + 1, 8),
                                 creditCode: creditPrefix + String(EstateRules.creditCheckCharacter(creditPrefix) ?? "0"),
                                 accountMasked: AccountProtector.mask(account), accountFingerprint: protector.fingerprint(account))
        }
        let year: TimeInterval = 365 * 86400
        let catalogue: [(String, String, TerminalClass, [String], String)] = [
            ("PAX", "A920 Pro", .smartAndroid, ["4G", "WiFi", "Bluetooth"], "4-30310"),
            ("Newland", "ME31", .traditional, ["Ethernet", "Dial"], "4-10020"),
            ("Ingenico", "Move/5000", .mobile, ["4G", "WiFi"], "4-40120"),
            ("Sunmi", "P2 Pro", .smartAndroid, ["4G", "WiFi"], "4-30455"),
            ("Landi", "QR-S1", .qrBox, ["WiFi"], "4-20007"),
        ]
        let models = catalogue.map { maker, name, kind, links, approval in
            TerminalModel(id: ModelID.generate(now: now), orgId: root.id, manufacturer: maker, name: name, terminalClass: kind,
                          connectivity: links, ptsApproval: approval, ptsExpiry: now.addingTimeInterval(3 * year),
                          unionPayCertified: true, unionPayCertificate: "UP-\(approval)", createdAt: now, updatedAt: now)
        }
        return EstateTree(root: root, regions: regions, agents: agents, merchants: merchants, models: models, acquirerCode: "48020000")
    }
}

/// A decimal number left-padded with zeros (String(format:) is slow on Linux, and this runs millions of times).
func padded(_ number: Int, _ width: Int) -> String {
    let digits = String(number)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// One generated terminal with the paths stored beside it, and its bindings (open or closed).
struct GeneratedTerminal: Sendable {
    let terminal: Terminal
    let ownerPath: String
    let merchantPath: String?
    let bindings: [Binding]
}

/// Makes the terminals of the estate, oldest first, with the mix of a mature estate: most in
/// service at merchants, a quarter in warehouses, some in transit, repair or scrapped.
struct TerminalGenerator {
    let tree: EstateTree
    let count: Int
    let now: Date
    /// Terminals were stocked in over this many seconds before `now`, oldest first.
    let span: TimeInterval = 3 * 365 * 86400
    private var generator: SeededGenerator
    private var serials: [Int]

    /// The state mix of a mature estate.
    static let stateWeights: [(value: TerminalState, weight: Int)] = [
        (.inService, 52), (.installed, 6), (.bound, 3), (.removed, 2), (.inStock, 24), (.inTransit, 4), (.inRepair, 4), (.scrapped, 5),
    ]
    /// The mix by age: only the oldest 60% get scrapped; the newest tenth is three times as often still in stock or in transit.
    static let statesOld = WeightedChoice(options: stateWeights.map { ($0.value, $0.value == .scrapped ? $0.weight * 5 / 3 : $0.weight) })
    static let statesMiddle = WeightedChoice(options: stateWeights.map { ($0.value, $0.value == .scrapped ? 0 : $0.weight) })
    static let statesNew = WeightedChoice(options: stateWeights.map {
        ($0.value, $0.value == .scrapped ? 0 : [.inStock, .inTransit].contains($0.value) ? $0.weight * 3 : $0.weight)
    })
    /// Share of terminals per model index (the order of `EstateTree.build`'s catalogue).
    static let models = WeightedChoice(options: [(value: 0, weight: 35), (1, 25), (2, 15), (3, 15), (4, 10)])
    static let serialPrefixes = ["PX", "NL", "IG", "SM", "LD"]
    static let purchaseCosts: [Int64] = [185_000, 98_000, 156_000, 143_000, 39_000]
    static let appVersions = WeightedChoice(options: [
        (value: "2.4.1", weight: 45), (value: "2.4.0", weight: 20), (value: "2.3.9", weight: 15), (value: "2.3.5", weight: 10),
        (value: "2.2.0", weight: 6), (value: "2.1.7", weight: 3), (value: "1.9.8", weight: 1),
    ])
    static let firmwareVersions = WeightedChoice(options: [
        (value: "FW-1.7", weight: 40), (value: "FW-1.6", weight: 30), (value: "FW-1.5", weight: 20), (value: "FW-1.3", weight: 8),
        (value: "FW-1.0", weight: 2),
    ])
    /// Field staff answering for terminals: 20 surnames × 10 given names.
    static let responsiblePersons: [String] = {
        let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"]
        let given = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"]
        return surnames.flatMap { surname in given.map { surname + $0 } }
    }()

    init(tree: EstateTree, count: Int, now: Date, seed: UInt64) {
        self.tree = tree
        self.count = count
        self.now = now
        generator = SeededGenerator(seed: seed)
        serials = Array(repeating: 20_000_000, count: tree.models.count)
    }

    /// The terminal stocked in `index`-th (0 is the oldest).
    mutating func make(_ index: Int) -> GeneratedTerminal {
        let age = Double(index) / Double(max(1, count))
        let created = now.addingTimeInterval(-span * (1 - age))
        let state = (age < 0.6 ? Self.statesOld : age <= 0.9 ? Self.statesMiddle : Self.statesNew).pick(using: &generator)
        let modelIndex = Self.models.pick(using: &generator)
        serials[modelIndex] += 1
        var terminal = Terminal(
            id: TerminalID.generate(now: created), orgId: tree.root.id,
            sn: Self.serialPrefixes[modelIndex] + String(serials[modelIndex]),
            // A bijection of the index onto 8 digits (7919 is prime to 90,000,000), so TIDs are unique but not in stock-in order.
            tid: String(10_000_000 + (index * 7919) % 90_000_000),
            modelId: tree.models[modelIndex].id, state: state,
            responsiblePerson: Self.responsiblePersons[Int.random(in: 0..<Self.responsiblePersons.count, using: &generator)],
            appVersion: Self.appVersions.pick(using: &generator), firmwareVersion: Self.firmwareVersions.pick(using: &generator),
            keyCheckValue: "TMK:" + String(UInt32.random(in: 0..<0x100_0000, using: &generator), radix: 16, uppercase: true),
            purchaseCost: Self.purchaseCosts[modelIndex], warrantyEnd: created.addingTimeInterval(3 * 365 * 86400),
            createdAt: created, updatedAt: created, version: 1)
        // Something happened to it since stocking: bump the version and the update time as the lifecycle would.
        let lived = now.timeIntervalSince(created)
        terminal.updatedAt = created.addingTimeInterval(lived * Double.random(in: 0.1...1, using: &generator))
        terminal.version = 1 + Self.stepsToReach(state) + Int.random(in: 0...2, using: &generator)

        guard TerminalLifecycle.isBound(state) else {
            let owner = pickHolder()
            if state == .inTransit { terminal.transitToOrgId = destination(from: owner).id }
            terminal.orgId = owner.id
            var bindings: [Binding] = []
            // One stock terminal in ten came back from a merchant: its closed binding stays on record.
            if state == .inStock, Int.random(in: 0..<10, using: &generator) == 0 {
                var past = binding(terminal, merchant: pickMerchant(), boundAt: created.addingTimeInterval(lived * 0.2))
                past.unboundAt = created.addingTimeInterval(lived * 0.6)
                past.unboundBy = "tech"
                past.unbindReason = "商户停业 merchant closed"
                bindings.append(past)
            }
            return GeneratedTerminal(terminal: terminal, ownerPath: owner.path, merchantPath: nil, bindings: bindings)
        }
        let merchant = pickMerchant()
        terminal.orgId = merchant.holder.id
        terminal.merchantId = merchant.org.id
        terminal.storeId = merchant.store.id
        let open = binding(terminal, merchant: merchant, boundAt: created.addingTimeInterval(lived * 0.05))
        terminal.placement = open.placement
        if state != .bound {
            terminal.installer = Self.responsiblePersons[Int.random(in: 0..<Self.responsiblePersons.count, using: &generator)]
            terminal.installedAt = created.addingTimeInterval(lived * 0.08)
        }
        return GeneratedTerminal(terminal: terminal, ownerPath: merchant.holder.path, merchantPath: merchant.org.path, bindings: [open])
    }

    /// Lifecycle actions from stock-in to the state (for a plausible version number).
    private static func stepsToReach(_ state: TerminalState) -> Int {
        switch state {
        case .inStock: return 0
        case .inTransit, .bound, .inRepair: return 1
        case .installed, .scrapped: return 2
        case .inService: return 3
        case .removed: return 4
        }
    }

    /// Warehouse holder of a terminal not at a merchant: the acquirer, a region or an agent.
    private mutating func pickHolder() -> Organization {
        switch Int.random(in: 0..<100, using: &generator) {
        case ..<15: return tree.root
        case ..<50: return tree.regions[Int.random(in: 0..<tree.regions.count, using: &generator)]
        default: return tree.agents[Int.random(in: 0..<tree.agents.count, using: &generator)]
        }
    }

    /// Where a dispatched terminal goes: one level down the tree, or from an agent back to its region.
    private mutating func destination(from owner: Organization) -> Organization {
        switch owner.kind {
        case .acquirer: return tree.regions[Int.random(in: 0..<tree.regions.count, using: &generator)]
        case .region:
            let mine = tree.agents.filter { $0.parentId == owner.id }
            return mine.isEmpty ? tree.root : mine[Int.random(in: 0..<mine.count, using: &generator)]
        default: return tree.regions.first { $0.id == owner.parentId } ?? tree.root
        }
    }

    /// Merchants have skewed sizes: the square of a uniform draw puts a few chains of thousands of
    /// terminals at the front and a long tail of small shops behind them.
    private mutating func pickMerchant() -> BenchMerchant {
        let draw = Double.random(in: 0..<1, using: &generator)
        return tree.merchants[min(tree.merchants.count - 1, Int(draw * draw * Double(tree.merchants.count)))]
    }

    private mutating func binding(_ terminal: Terminal, merchant: BenchMerchant, boundAt: Date) -> Binding {
        let placement = Placement(
            address: "\(merchant.city.name) 中山路 \(Int.random(in: 1...2000, using: &generator)) 号",
            latitude: merchant.city.latitude + Double.random(in: -0.2...0.2, using: &generator),
            longitude: merchant.city.longitude + Double.random(in: -0.2...0.2, using: &generator))
        return Binding(id: UUIDv7.make(now: boundAt), terminalId: terminal.id, merchantId: merchant.org.id, storeId: merchant.store.id,
                       sn: terminal.sn, acquirerCode: tree.acquirerCode, mid: merchant.mid, creditCode: merchant.creditCode,
                       settlementAccountMasked: merchant.accountMasked, settlementAccountFingerprint: merchant.accountFingerprint,
                       placement: placement, boundAt: boundAt, boundBy: "tech")
    }
}
