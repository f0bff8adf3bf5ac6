import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SQLKit
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardAgent

/// `tillyard-bench sales`: the real server on a loopback port over a fresh database, driven by
/// concurrent keep-alive HTTP clients posting complete sales (3 lines + cash, each a new UUIDv7 and
/// register sequence); reports sales/s and latency next to the database's raw single-row commit rate
/// measured in the same run, then checks that every sale was stored exactly once and counted right.
struct SalesBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sales",
        abstract: "Throughput and latency of POST /api/v1/sales with concurrent clients, then a check of what was stored.")

    @Option(help: "Concurrent HTTP clients (one keep-alive connection each).") var clients = 32
    @Option(help: "Timed sales.") var sales = 100_000
    @Option(help: "Sales sent before timing (stored and checked like the others).") var warmup = 2_000
    @Option(help: "Registers (each with its own open shift and sequence).") var registers = 8
    @Option(help: "Stores the registers are spread over (each its own journal).") var stores = 2
    @Option(help: "Products in the catalog the sales pick from.") var products = 200
    @Option(help: "Single-row commits timed for the raw commit rate (per measurement).") var commits = 5_000
    @OptionGroup var storage: BenchStorage
    @Flag(name: .customLong("no-group-commit"), help: "One COMMIT per SQLite transaction (the product commits concurrent ones together).")
    var noGroupCommit = false

    func validate() throws {
        guard clients >= 1, clients <= 512 else { throw ValidationError("--clients must be from 1 to 512") }
        guard sales >= 1, warmup >= 0, commits >= 1 else { throw ValidationError("--sales and --commits must be positive, --warmup not negative") }
        guard registers >= 1, stores >= 1, stores <= registers else { throw ValidationError("--registers must be at least --stores, which must be at least 1") }
        guard products >= 3 else { throw ValidationError("--products must be at least 3 (a sale has 3 lines)") }
    }

    func run() async throws {
        try await storage.open(groupCommit: !noGroupCommit) { database, folder in
            try await benchmark(database, folder: folder)
        }
    }

    private func benchmark(_ database: Database, folder: String) async throws {
        let migrated = try await Migrator(database: database).migrate()
        let existing = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n FROM organizations").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        guard existing == 0 else { throw ValidationError("the database already holds \(existing) organisations; the benchmark needs an empty one") }
        Report.say("Tillyard sales benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(migrated.applied.joined(separator: ", "))")

        let services = AppServices(database: database, bcryptCost: 4, documents: URL(fileURLWithPath: folder).appendingPathComponent("documents"))
        let shop = try await BenchShop.make(services, stores: stores, registers: registers, products: products)
        Report.say("set up through the services: \(stores) stores, \(registers) registers with open shifts, \(products) products with opening stock")

        let raw = try await RawCommits.measure(database, count: commits, clients: clients)
        Report.say(raw.summary)

        let server = try await InProcessServer.start(services: services, folder: folder, databaseURL: storage.databaseURL)
        defer { server.stop() }
        let port = server.port
        Report.say("server: tillyard on 127.0.0.1:\(port) (in this process, the product's buildApplication), \(clients) clients, keep-alive")

        let load = SalesLoad(shop: shop, port: port)
        if warmup > 0 {
            let warm = try await load.drive(range: 0..<warmup, clients: clients)
            Report.say("warm-up: \(Report.grouped(warmup)) sales in \(Report.decimal(warm.seconds, 1)) s")
        }
        let timed = try await load.drive(range: warmup..<(warmup + sales), clients: clients)
        await server.finish()

        let rate = Double(sales) / timed.seconds
        Report.say("")
        Report.say("sales: \(Report.grouped(sales)) in \(Report.decimal(timed.seconds, 2)) s = \(Report.grouped(Int(rate))) sales/s "
                   + "(\(clients) clients, 3 lines + cash each)")
        Report.say("latency ms: p50 \(Report.decimal(timed.percentile(50), 2))  p99 \(Report.decimal(timed.percentile(99), 2))  "
                   + "max \(Report.decimal(timed.percentile(100), 2))")
        Report.say("raw single-row commits: \(Report.grouped(Int(raw.sequential))) /s one client (one INSERT, one COMMIT), "
                   + "\(Report.grouped(Int(raw.concurrent))) /s \(clients) clients")
        Report.say("ratio sales/s to raw commits/s: \(Report.decimal(rate / raw.sequential, 2)) (one client), "
                   + "\(Report.decimal(rate / raw.concurrent, 2)) (\(clients) clients)")
        Report.summary("complete sales over HTTP (\(database.backend.rawValue), \(clients) clients)",
                       "\(Report.grouped(Int(rate))) /s, p50 \(Report.decimal(timed.percentile(50), 1)) ms, p99 \(Report.decimal(timed.percentile(99), 1)) ms",
                       ceiling: "\(Report.grouped(Int(raw.concurrent))) commits/s", ratio: Report.decimal(rate / raw.concurrent, 2))
        let groupCommit = database.backend == .sqlite ? (noGroupCommit ? "off (--no-group-commit)" : "on") : "n/a (PostgreSQL)"
        Report.say("group commit: \(groupCommit)")
        Report.say("")
        try await SalesCheck(shop: shop, services: services, database: database).verify(total: warmup + sales)
    }

}

/// The installation the sales run against, made through the product's services: an acquirer,
/// a region, a merchant with stores, its owner's API token (the registers' credential), a catalog
/// with opening stock, and one open shift per register.
struct BenchShop: Sendable {
    struct Register: Sendable {
        let id: String
        let storeId: OrgID
        let shiftId: ShiftID
    }

    let token: String
    let owner: Principal
    let storeIds: [OrgID]
    let registers: [Register]
    let productIds: [ProductID]
    let prices: [Int64]
    /// Stock of every product in every store before the run, in milli-units.
    static let openingStock: Int64 = 1_000_000_000

    static func make(_ services: AppServices, stores: Int, registers: Int, products: Int) async throws -> BenchShop {
        let access = services.access
        let (admin, _) = try await access.bootstrap(rootName: "基准收单 Bench Acquirer", rootCode: "BENCH")
        let root = try await access.principal(commandLineUser: admin.username)
        let region = try await access.createOrganization(NewOrganization(parentId: admin.orgId, kind: .region, name: "华东 East", code: "EAST"), by: root)
        let merchant = try await access.createOrganization(
            NewOrganization(parentId: region.id, kind: .merchant, name: "基准超市 Bench Market", code: "M-BENCH"), by: root)
        var storeIds: [OrgID] = []
        for index in 1...stores {
            storeIds.append(try await access.createOrganization(
                NewOrganization(parentId: merchant.id, kind: .store, name: "基准超市 \(index) 号店", code: "S-BENCH-\(index)"), by: root).id)
        }
        _ = try await access.createUser(NewUser(orgId: merchant.id, username: "bench.owner", displayName: "Bench Owner", role: .merchantOwner,
                                                password: "Bench-pass-1"), by: root)
        let owner = try await access.principal(commandLineUser: "bench.owner")
        let token = try await access.createToken(name: "bench registers", scopes: [], expiresInDays: nil, by: owner).plaintext

        var productIds: [ProductID] = []
        var prices: [Int64] = []
        for index in 0..<products {
            // Prices from 1.50 to 99.50 yuan; whole fen, no rounding involved.
            let price = Int64(150 + (index * 37) % 9_800)
            let product = try await services.catalog.create(
                ProductInput(sku: String(format: "BENCH%05d", index), nameZh: "基准商品 \(index)", nameEn: "Bench product \(index)", price: price),
                merchantId: merchant.id, by: owner)
            productIds.append(product.id)
            prices.append(price)
            for store in storeIds {
                _ = try await services.sales.adjustStock(storeId: store, productId: product.id, delta: openingStock, counted: nil,
                                                         reason: "opening stock", by: owner)
            }
        }
        var list: [Register] = []
        for index in 0..<registers {
            let id = String(format: "BENCH-%03d", index + 1)
            let store = storeIds[index % stores]
            let shift = try await services.sales.openShift(storeId: store, registerId: id, openingFloat: 50_000, by: owner)
            list.append(Register(id: id, storeId: store, shiftId: shift.id))
        }
        return BenchShop(token: token, owner: owner, storeIds: storeIds, registers: list, productIds: productIds, prices: prices)
    }

    /// Sale number `index` of the run, the same every time it is asked for: its register and sequence
    /// (sales are dealt to registers in turn, so each register's sequence is 1, 2, 3… without gaps),
    /// its three lines (product index, milli-units) and its total.
    func sale(_ index: Int) -> (register: Register, seq: Int64, lines: [(product: Int, quantity: Int64)], total: Int64) {
        let register = registers[index % registers.count]
        let seq = Int64(index / registers.count + 1)
        let first = (index * 7) % productIds.count
        let lines = (0..<3).map { line in ((first + line * 11) % productIds.count, Int64(1_000 * (1 + (index + line) % 3))) }
        let total = lines.reduce(Int64(0)) { $0 + prices[$1.0] * $1.1 / 1_000 }
        return (register, seq, lines, total)
    }

    /// The upload of sale `index` as a register sends it.
    func body(_ index: Int) -> [UInt8] {
        let sale = sale(index)
        let lines = sale.lines.map { line in
            #"{"productId":"\#(productIds[line.product].rawValue)","quantity":\#(line.quantity),"unitPrice":\#(prices[line.product])}"#
        }.joined(separator: ",")
        // Cash rounded up to the next 10 yuan note: change is given, as at a real till.
        let tendered = (sale.total / 1_000 + 1) * 1_000
        return Array("""
            {"id":"\(UUIDv7.make())","storeId":"\(sale.register.storeId.rawValue)","registerId":"\(sale.register.id)",\
            "registerSeq":\(sale.seq),"shiftId":"\(sale.register.shiftId.rawValue)","lines":[\(lines)],\
            "tenders":[{"kind":"cash","tendered":\(tendered)}],"expectedTotal":\(sale.total)}
            """.utf8)
    }
}

/// Drives `POST /api/v1/sales` from client threads (`ClientThreads`), one sale number each.
struct SalesLoad: Sendable {
    let shop: BenchShop
    let port: UInt16

    /// Every body (its own UUIDv7 and register sequence) is made before the clock starts, as a
    /// replaying load generator would have them: making them as they go cost the 2 cores the
    /// server runs on about 4% (a UUIDv7 takes random bytes from the kernel).
    func drive(range: Range<Int>, clients: Int) async throws -> LoadOutcome {
        let shop = self.shop
        let bodies = range.map { shop.body($0) }
        return try await ClientThreads.drive(range: range, clients: clients, port: port) { connection, _, index in
            let answer = try connection.send("POST", "/api/v1/sales", token: shop.token, body: bodies[index - range.lowerBound])
            return answer.status == 201 ? nil : "sale \(index) answered \(answer.status): \(answer.text.prefix(300))"
        }
    }
}

/// The database's raw commit rate through the same `Database` layer and settings the product uses
/// (SQLite: the single writer, WAL, synchronous=FULL; PostgreSQL: the pool): one INSERT of one row
/// into a plain table per transaction, from one client and from many at once.
struct RawCommits {
    let sequential: Double
    let concurrent: Double
    let summary: String

    static func measure(_ database: Database, count: Int, clients: Int) async throws -> RawCommits {
        try await database.transaction { db in
            try await db.raw("CREATE TABLE bench_commits (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)").run()
        }
        let payload = String(repeating: "x", count: 100)
        let clock = ContinuousClock()
        let one = try await clock.measure {
            for index in 0..<count {
                try await database.transaction { db in
                    try await db.raw("INSERT INTO bench_commits (id, payload) VALUES (\(bind: index), \(bind: payload))").run()
                }
            }
        }
        let many = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        for index in stride(from: count + client, to: 2 * count, by: clients) {
                            try await database.transaction { db in
                                try await db.raw("INSERT INTO bench_commits (id, payload) VALUES (\(bind: index), \(bind: payload))").run()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let sequential = Double(count) / EstateBenchmark.seconds(one)
        let concurrent = Double(count) / EstateBenchmark.seconds(many)
        return RawCommits(sequential: sequential, concurrent: concurrent, summary: """
            raw commit rate (one 100-byte row per transaction, same Database layer and settings, \(Report.grouped(count)) commits each): \
            \(Report.grouped(Int(sequential))) /s one client, \(Report.grouped(Int(concurrent))) /s \(clients) clients
            """)
    }
}

/// What must hold after the run, read back through the product's services and plain SQL.
struct SalesCheck {
    let shop: BenchShop
    let services: AppServices
    let database: Database

    func verify(total: Int) async throws {
        var failures: [String] = []
        func check(_ ok: Bool, _ what: String) {
            Report.say("  \(ok ? "ok      " : "MISMATCH") \(what)")
            if !ok { failures.append(what) }
        }
        Report.say("checks:")
        // Expected figures, recomputed from the deterministic sale plan.
        var perStore: [OrgID: (count: Int, amount: Int64)] = [:]
        var perRegister: [String: (count: Int, amount: Int64)] = [:]
        var sold: [OrgID: [Int: Int64]] = [:]
        for index in 0..<total {
            let sale = shop.sale(index)
            perStore[sale.register.storeId, default: (0, 0)].count += 1
            perStore[sale.register.storeId, default: (0, 0)].amount += sale.total
            perRegister[sale.register.id, default: (0, 0)].count += 1
            perRegister[sale.register.id, default: (0, 0)].amount += sale.total
            for line in sale.lines { sold[sale.register.storeId, default: [:]][line.product, default: 0] += line.quantity }
        }
        let stored = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM sales WHERE kind = 'sale'").first()
        }
        let count = try stored?.decode(column: "n", as: Int.self) ?? -1
        let distinct = try stored?.decode(column: "ids", as: Int.self) ?? -1
        check(count == total && distinct == total, "stored sales \(Report.grouped(count)) (distinct ids \(Report.grouped(distinct))) == sent \(Report.grouped(total))")
        for store in shop.storeIds {
            let expected = perStore[store] ?? (0, 0)
            let row = try await database.session { db in
                try await db.raw("""
                    SELECT COUNT(DISTINCT receipt_number) AS d, MIN(receipt_number) AS lo, MAX(receipt_number) AS hi,
                           CAST(SUM(total) AS BIGINT) AS amount
                    FROM sales WHERE store_id = \(bind: store.rawValue)
                    """).first()
            }
            let distinctReceipts = try row?.decode(column: "d", as: Int.self) ?? -1
            let low = try row?.decode(column: "lo", as: Int?.self) ?? nil
            let high = try row?.decode(column: "hi", as: Int?.self) ?? nil
            let amount = try row?.decode(column: "amount", as: Int64?.self) ?? nil
            check(distinctReceipts == expected.count && low == 1 && high == expected.count && amount == expected.amount,
                  "store \(store.rawValue.suffix(6)): receipts 1…\(high ?? 0) gap-free (\(Report.grouped(distinctReceipts)) distinct), total \(Money(minorUnits: amount ?? 0))")
            let journal = try await services.sales.verifyJournal(store: store, by: shop.owner)
            check(journal.firstBroken == nil && journal.checked == expected.count,
                  "store \(store.rawValue.suffix(6)): journal verification \(journal.firstBroken == nil ? "intact" : journal.problem ?? "broken"), \(Report.grouped(journal.checked)) receipts checked")
            let levels = try await services.store.read { [shop] repos in try await repos.stock.levels(store: store, products: shop.productIds) }
            let wrong = shop.productIds.enumerated().filter { index, id in
                levels[id] != BenchShop.openingStock - (sold[store]?[index] ?? 0)
            }
            check(wrong.isEmpty, "store \(store.rawValue.suffix(6)): stock of \(shop.productIds.count) products == opening stock − sold (\(wrong.count) wrong)")
        }
        for register in shop.registers {
            let expected = perRegister[register.id] ?? (0, 0)
            let shift = try await services.sales.shift(register.shiftId, by: shop.owner)
            let cash = shift.tenders.first { $0.kind == .cash }
            check(shift.saleCount == expected.count && shift.saleAmount == expected.amount && cash?.salesAmount == expected.amount,
                  "\(register.id): shift totals \(shift.saleCount) sales, \(Money(minorUnits: shift.saleAmount)) (cash \(Money(minorUnits: cash?.salesAmount ?? 0))) == sum of its sales")
            let sync = try await services.sales.registerSync(register.id, by: shop.owner)
            check(sync.missing.isEmpty && sync.received == Int64(expected.count) && sync.lastSeq == Int64(expected.count),
                  "\(register.id): register-sync received \(sync.received) of \(sync.lastSeq), no gaps")
        }
        guard failures.isEmpty else { throw ValidationError("\(failures.count) checks failed") }
        Report.say("all checks passed")
    }
}
