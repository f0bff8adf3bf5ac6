import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The register's proof over real HTTP against the real `tillyard serve` process: sales uploaded
/// with retries, duplicates and reordering, the server SIGKILLed while uploads are in flight and
/// restarted on the same data folder, everything unanswered sent again (the register's rule), and
/// then every sale is stored exactly once with its first answer, and the books add up.
@Suite(.serialized) struct RegisterUploadProofTests {
    /// Two registers of store A, each numbering its sales 1…`perRegister`.
    static let perRegister = 40

    @Test func exactlyOnceThroughAServerKill() async throws {
        guard CLITests.binaryIsBuilt() else { return }
        let shop = try await ProofShop.make()
        defer { shop.remove() }
        var server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
        let firstServer = server
        defer { firstServer.stop() }

        // The plan: each register's sales, made (ids, sequences, lines) before anything is sent.
        let sales = ["POS-A", "POS-B"].flatMap { register in
            (1...Self.perRegister).map { seq in ProofSale(shop: shop, register: register, seq: seq) }
        }
        var answers: [String: String] = [:]          // sale id → the first answer's body
        func acknowledge(_ sale: ProofSale, _ answer: HTTPAnswer) {
            #expect(answer.status == 201, "\(sale.register) #\(sale.seq): \(answer.status) \(answer.text)")
            if let first = answers[sale.id] {
                #expect(answer.text == first, "\(sale.register) #\(sale.seq): a repeat must answer exactly what the first upload did")
            } else {
                answers[sale.id] = answer.text
            }
        }
        let byKey = Dictionary(uniqueKeysWithValues: sales.map { ("\($0.register)#\($0.seq)", $0) })
        func sale(_ register: String, _ seq: Int) -> ProofSale { byKey["\(register)#\(seq)"]! }

        // 1. Online, out of order: POS-A 1, 3, 2 (reordered), then 4 twice at once (a double tap), and
        //    POS-B 1–3 with 2 retried after its answer "got lost" (sent again).
        for (register, seq) in [("POS-A", 1), ("POS-A", 3), ("POS-A", 2), ("POS-B", 1), ("POS-B", 2), ("POS-B", 3), ("POS-B", 2)] {
            let item = sale(register, seq)
            acknowledge(item, try await server.client.upload(item))
        }
        let doubleTap = sale("POS-A", 4)
        let client = server.client
        async let tapOne = client.upload(doubleTap)
        async let tapTwo = client.upload(doubleTap)
        for answer in [try await tapOne, try await tapTwo] { acknowledge(doubleTap, answer) }

        // 2. POS-A 5 is held back (the register's queue is stuck on it); 6–8 go through. The server sees the hole.
        for seq in 6...8 { acknowledge(sale("POS-A", seq), try await server.client.upload(sale("POS-A", seq))) }
        let holding = try await server.client.json("GET", "/api/v1/register-sync?registerId=POS-A")
        #expect(holding.text.contains(#""missing":[{"from":5,"to":5}]"#), "\(holding.text)")

        // 3. A burst of every other unsent sale, 8 at a time, and the server is SIGKILLed while it runs:
        //    as soon as a few answers came back, with the rest still in flight or queued.
        let burst = sales.filter { answers[$0.id] == nil && !($0.register == "POS-A" && $0.seq == 5) }
        let killer = server
        let outcome = await BurstOutcome.run(burst, client: server.client, parallel: 8, killAfter: 6) { killer.kill() }
        for (id, answer) in outcome.answered {
            acknowledge(burst.first { $0.id == id }!, answer)
        }
        #expect(outcome.answered.count >= 6 && outcome.answered.count < burst.count,
                "the kill must land mid-burst: \(outcome.answered.count) of \(burst.count) answered")
        #expect(!outcome.failed.isEmpty, "requests must have been cut off by the kill")

        // 4. Restart on the same data folder. The register sends again everything it has no answer for,
        //    plus a few it has (a register that lost its memory of the answers), in a shuffled order.
        server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
        let restarted = server
        defer { restarted.stop() }
        let unanswered = sales.filter { answers[$0.id] == nil && !($0.register == "POS-A" && $0.seq == 5) }
        let answeredAgain = Array(sales.filter { answers[$0.id] != nil }.prefix(10))
        var generator = SystemRandomNumberGenerator()
        for item in (unanswered + answeredAgain).shuffled(using: &generator) {
            acknowledge(item, try await server.client.upload(item))
        }
        let stillHolding = try await server.client.json("GET", "/api/v1/register-sync?registerId=POS-A")
        #expect(stillHolding.text.contains(#""missing":[{"from":5,"to":5}]"#), "\(stillHolding.text)")

        // 5. The held-back sale arrives last; now nothing is missing on either register.
        acknowledge(sale("POS-A", 5), try await server.client.upload(sale("POS-A", 5)))
        #expect(answers.count == sales.count, "every sale acknowledged once all are in")
        for register in ["POS-A", "POS-B"] {
            let sync = try await server.client.json("GET", "/api/v1/register-sync?registerId=\(register)")
            #expect(sync.object["missing"] as? [Any] != nil && (sync.object["missing"] as? [Any])?.isEmpty == true, "\(sync.text)")
            #expect(sync.object["lastSeq"] as? Int == Self.perRegister && sync.object["received"] as? Int == Self.perRegister, "\(sync.text)")
        }

        // 6. The books: every sale once, with the answer it was first acknowledged with.
        try await ProofBooks.verify(shop: shop, sales: sales, answers: answers, server: server)
    }

    @Test func anOfflineSaleKeepsThePriceThatWasPaidAfterACatalogChange() async throws {
        guard CLITests.binaryIsBuilt() else { return }
        let shop = try await ProofShop.make()
        defer { shop.remove() }
        let server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
        defer { server.stop() }

        // The register rang up product 0 at its price ten minutes ago, while offline.
        let offline = ProofSale(shop: shop, register: "POS-A", seq: 1, soldAt: Date().addingTimeInterval(-600))
        let line = try #require(offline.lines.first)
        let product = try await server.client.json("GET", "/api/v1/products/\(shop.products[line.product].rawValue)")
        let version = try #require(product.object["version"] as? Int)
        // Meanwhile the merchant raised the price by 1.00.
        let raised = try await server.client.json("PUT", "/api/v1/products/\(shop.products[line.product].rawValue)", body: """
            {"version": \(version), "sku": "\(product.object["sku"] as? String ?? "")", "nameZh": "\(product.object["nameZh"] as? String ?? "")", \
            "price": \(shop.prices[line.product] + 100)}
            """)
        #expect(raised.status == 200, "\(raised.text)")

        // An online sale at the old price is refused: the register must reload prices.
        let online = ProofSale(shop: shop, register: "POS-A", seq: 2, firstProduct: line.product)
        let refused = try await server.client.upload(online)
        #expect(refused.status == 422 && refused.text.contains("unitPrice"), "\(refused.text)")

        // The offline sale arrives: kept at what the customer paid, the line flagged, the totals its own.
        let uploaded = try await server.client.upload(offline)
        #expect(uploaded.status == 201, "\(uploaded.text)")
        let lines = try #require(uploaded.object["lines"] as? [[String: Any]])
        #expect(lines.first?["unitPrice"] as? Int == Int(shop.prices[line.product]) && lines.first?["catalogChanged"] as? Bool == true, "\(uploaded.text)")
        #expect(lines.dropFirst().allSatisfy { $0["catalogChanged"] as? Bool == false })
        #expect(uploaded.object["total"] as? Int == Int(offline.total) && uploaded.object["receiptNumber"] as? Int == 1)
        let again = try await server.client.upload(offline)
        #expect(again.status == 201 && again.text == uploaded.text)
        let shift = try await server.client.json("GET", "/api/v1/shifts/\(shop.shifts["POS-A"]!.rawValue)")
        #expect(shift.object["saleCount"] as? Int == 1 && shift.object["saleAmount"] as? Int == Int(offline.total), "\(shift.text)")
        let sync = try await server.client.json("GET", "/api/v1/register-sync?registerId=POS-A")
        #expect(sync.object["lastSeq"] as? Int == 1 && (sync.object["missing"] as? [Any])?.isEmpty == true, "\(sync.text)")
    }
}

/// The books after an upload proof: every sale once, each with the answer it was first
/// acknowledged with; receipts 1…n without a gap; the shifts' running totals and the stock exactly
/// what the plan sold; and behind the API one row per sale id. Stops `server` to read the file.
enum ProofBooks {
    static func verify(shop: ProofShop, sales: [ProofSale], answers: [String: String], server: ServerProcess) async throws {
        let verification = try await server.client.json("GET", "/api/v1/stores/\(shop.store.rawValue)/journal-verification")
        #expect(verification.object["checked"] as? Int == sales.count && verification.object["firstBroken"] == nil, "\(verification.text)")
        var receipts: Set<Int> = []
        for item in sales {
            let stored = try await server.client.json("GET", "/api/v1/sales/\(item.id)")
            #expect(stored.status == 200, "\(stored.text)")
            let first = try #require(answers[item.id].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(stored.object["receiptNumber"] as? Int == first["receiptNumber"] as? Int && stored.object["hash"] as? String == first["hash"] as? String,
                    "\(item.register) #\(item.seq): the stored sale is the one acknowledged")
            #expect(stored.object["total"] as? Int == Int(item.total))
            if let number = stored.object["receiptNumber"] as? Int { receipts.insert(number) }
        }
        #expect(receipts == Set(1...sales.count), "receipt numbers must be 1…\(sales.count) without gaps or repeats")
        for register in ["POS-A", "POS-B"] {
            let mine = sales.filter { $0.register == register }
            let shift = try await server.client.json("GET", "/api/v1/shifts/\(shop.shifts[register]!.rawValue)")
            #expect(shift.object["saleCount"] as? Int == mine.count && shift.object["saleAmount"] as? Int == Int(mine.reduce(Int64(0)) { $0 + $1.total }),
                    "\(register): \(shift.text)")
        }
        let stock = try await server.client.json("GET", "/api/v1/stores/\(shop.store.rawValue)/stock?limit=100")
        for (index, product) in shop.products.enumerated() {
            let sold = sales.reduce(Int64(0)) { total, item in total + item.lines.filter { $0.product == index }.reduce(0) { $0 + $1.quantity } }
            let level = stock.items.first { $0["productId"] as? String == product.rawValue }?["quantity"] as? Int
            #expect(level.map(Int64.init) == ProofShop.openingStock - sold, "stock of product \(index): \(level ?? -1)")
        }
        server.stop()
        // Behind the API: one row per sale id, nothing else.
        let database = try await Database.open(.sqlite(path: shop.databasePath))
        let rows = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, COUNT(DISTINCT receipt_number) AS receipts FROM sales").first()
        }
        await database.close()
        #expect(try rows?.decode(column: "n", as: Int.self) == sales.count && rows?.decode(column: "ids", as: Int.self) == sales.count
                && rows?.decode(column: "receipts", as: Int.self) == sales.count)
    }
}

/// A store with a small catalog, opening stock and two registers with open shifts, made through
/// the services on a fresh SQLite data folder before the server process starts on it.
struct ProofShop: Sendable {
    static let openingStock: Int64 = 1_000_000
    let folder: String
    let databasePath: String
    let token: String
    let store: OrgID
    let products: [ProductID]
    let prices: [Int64]
    let shifts: [String: ShiftID]
    /// Merchant A, which owns the store and the terminals.
    let merchant: OrgID
    /// Terminals bound to merchant A, each with a one-time activation code (when asked for).
    let terminals: [(sn: String, code: String)]

    /// The shop, and `terminals` certified terminals bound to its merchant with activation codes.
    static func make(terminals terminalCount: Int = 0) async throws -> ProofShop {
        guard case .sqlite(let path)? = try await TestDatabase.freshLocation(.sqlite) else { throw ProofFailure("no SQLite location") }
        var logger = Logger(label: "proof")
        logger.logLevel = .warning
        let database = try await openDatabase(configuration: AppConfiguration(dataDirectory: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                                              bcryptCost: 4), logger: logger)
        do {
            let services = AppServices(database: database, bcryptCost: 4)
            let fixtures = try await Fixtures.make(services.access)
            let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
            var products: [ProductID] = []
            var prices: [Int64] = []
            for index in 0..<5 {
                let price = Int64(250 + index * 130)
                let product = try await services.catalog.create(ProductInput(sku: "PROOF-\(index)", nameZh: "证明商品 \(index)", price: price),
                                                                merchantId: fixtures.merchantA, by: owner)
                _ = try await services.sales.adjustStock(storeId: fixtures.storeA, productId: product.id, delta: openingStock, counted: nil,
                                                         reason: "opening stock", by: owner)
                products.append(product.id)
                prices.append(price)
            }
            var shifts: [String: ShiftID] = [:]
            for register in ["POS-A", "POS-B"] {
                shifts[register] = try await services.sales.openShift(storeId: fixtures.storeA, registerId: register, openingFloat: 20_000, by: owner).id
            }
            var terminals: [(sn: String, code: String)] = []
            if terminalCount > 0 {
                let admin = try await services.access.principal(commandLineUser: "admin")
                let model = try await services.estate.createModel(NewTerminalModel(
                    manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
                    ptsExpiry: Date().addingTimeInterval(365 * 86400), unionPayCertified: true, unionPayCertificate: nil), by: admin)
                try await Fixtures.onboard(fixtures.merchantA, services: services, mid: "898310048161234")
                for index in 0..<terminalCount {
                    let sn = "PAX-PROOF-\(index + 1)"
                    let stocked = try await services.estate.stockIn(StockIn(sn: sn, tid: String(10_008_000 + index), modelId: model.id,
                                                                            ownerId: fixtures.regionA), by: admin)
                    _ = try await services.estate.bind(stocked.id, BindRequest(merchantId: fixtures.merchantA, storeId: fixtures.storeA,
                                                                               placement: Placement(address: "A street 1", latitude: 31.2, longitude: 121.4)),
                                                       by: admin)
                    terminals.append((sn, try await services.fleet.issueActivationCode(for: stocked.id, by: admin).code))
                }
            }
            await database.close()
            return ProofShop(folder: URL(fileURLWithPath: path).deletingLastPathComponent().path, databasePath: path,
                             token: fixtures.tokens["merchantA.owner"]!, store: fixtures.storeA, products: products, prices: prices, shifts: shifts,
                             merchant: fixtures.merchantA, terminals: terminals)
        } catch {
            await database.close()
            throw error
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// One sale as a register made it: its id and sequence are fixed when it is rung up, so every
/// upload of it is the same request.
struct ProofSale: Sendable {
    let id: String
    let register: String
    let seq: Int
    let lines: [(product: Int, quantity: Int64)]
    let total: Int64
    let body: String

    init(shop: ProofShop, register: String, seq: Int, soldAt: Date? = nil, firstProduct: Int? = nil) {
        id = UUIDv7.make()
        self.register = register
        self.seq = seq
        let first = firstProduct ?? (seq + (register == "POS-B" ? 2 : 0)) % shop.products.count
        lines = (0..<3).map { line in ((first + line) % shop.products.count, Int64(1_000 * (1 + (seq + line) % 2))) }
        total = lines.reduce(0) { $0 + shop.prices[$1.product] * $1.quantity / 1_000 }
        let items = lines.map { #"{"productId":"\#(shop.products[$0.product].rawValue)","quantity":\#($0.quantity),"unitPrice":\#(shop.prices[$0.product])}"# }
        let when = soldAt.map { #","soldAt":"\#($0.iso8601)""# } ?? ""
        body = #"{"id":"\#(id)","storeId":"\#(shop.store.rawValue)","registerId":"\#(register)","registerSeq":\#(seq),"shiftId":"\#(shop.shifts[register]!.rawValue)","lines":[\#(items.joined(separator: ","))],"tenders":[{"kind":"cash","tendered":\#(total + 500)}],"expectedTotal":\#(total)\#(when)}"#
    }
}

struct ProofFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An HTTP answer: status and body.
struct HTTPAnswer: Sendable {
    let status: Int
    let text: String
    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
}

/// Real HTTP to the server process on 127.0.0.1 (URLSession, a connection per request in flight).
struct ProofClient: Sendable {
    let port: Int
    let token: String
    let session: URLSession

    func json(_ method: String, _ path: String, body: String? = nil) async throws -> HTTPAnswer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 20
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response) = try await session.data(for: request)
        return HTTPAnswer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, text: String(decoding: data, as: UTF8.self))
    }

    func upload(_ sale: ProofSale) async throws -> HTTPAnswer {
        try await json("POST", "/api/v1/sales", body: sale.body)
    }
}

/// `tillyard serve` as a child process on a free loopback port.
struct ServerProcess: Sendable {
    let pid: Int32
    let client: ProofClient
    private let process: UncheckedProcess

    /// `Process` is not Sendable; the wrapper only signals and waits on it.
    private final class UncheckedProcess: @unchecked Sendable {
        let process: Process
        init(_ process: Process) { self.process = process }
    }

    static func start(dataDirectory: String, token: String) async throws -> ServerProcess {
        let probe = try LoopbackPrinter()
        let port = probe.port
        probe.stop()
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["serve", "--data-dir", dataDirectory, "--host", "127.0.0.1", "--port", String(port), "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        environment["TILLYARD_BCRYPT_COST"] = "4"
        process.environment = environment
        let log = URL(fileURLWithPath: dataDirectory).appendingPathComponent("serve-\(port).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 16
        let server = ServerProcess(pid: process.processIdentifier,
                                   client: ProofClient(port: port, token: token, session: URLSession(configuration: configuration)),
                                   process: UncheckedProcess(process))
        for _ in 0..<200 {
            if let health = try? await server.client.json("GET", "/health"), health.status == 200 { return server }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.stop()
        throw ProofFailure("tillyard serve did not come up: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// SIGKILL: no shutdown, no flushing; whatever SQLite committed is all there is.
    func kill() {
        #if canImport(Glibc)
        _ = Glibc.kill(pid, SIGKILL)
        #else
        _ = Darwin.kill(pid, SIGKILL)
        #endif
        process.process.waitUntilExit()
    }

    /// A normal stop (SIGTERM), if still running.
    func stop() {
        guard process.process.isRunning else { return }
        process.process.terminate()
        process.process.waitUntilExit()
    }
}

/// The upload burst that the server is killed in: `parallel` uploads at a time; once `killAfter`
/// answers have come back, `kill` runs while the others are in flight. Records who got an answer.
struct BurstOutcome: Sendable {
    var answered: [(String, HTTPAnswer)] = []
    var failed: [String] = []

    static func run(_ sales: [ProofSale], client: ProofClient, parallel: Int, killAfter: Int,
                    kill: @escaping @Sendable () -> Void) async -> BurstOutcome {
        var outcome = BurstOutcome()
        var killed = false
        await withTaskGroup(of: (String, HTTPAnswer?).self) { group in
            var next = 0
            func launch() {
                guard next < sales.count else { return }
                let sale = sales[next]
                next += 1
                group.addTask { (sale.id, try? await client.upload(sale)) }
            }
            for _ in 0..<parallel { launch() }
            while let (id, answer) = await group.next() {
                if let answer, answer.status != 0 { outcome.answered.append((id, answer)) } else { outcome.failed.append(id) }
                if !killed, outcome.answered.count >= killAfter {
                    killed = true
                    kill()
                }
                if !killed { launch() }
            }
        }
        return outcome
    }
}
