import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SQLKit
import Testing
import TillyardAgent
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Crash safety under repeated kills (issue 10, item 2): uploads keep coming while the real
/// `tillyard serve` process is SIGKILLed at a random moment, several rounds in a row, restarted on
/// the same data folder each time, and the clients send again whatever they have no answer for.
/// Afterwards everything acknowledged is stored exactly once and nothing is counted twice: the
/// register's books (receipts, shift totals, stock) and the risk counters the terminal uploads feed.
@Suite(.serialized) struct UploadCrashProofTests {
    static let rounds = 4

    @Test func registerSalesSurviveRepeatedKills() async throws {
        guard CLITests.binaryIsBuilt() else { return }
        let shop = try await ProofShop.make()
        defer { shop.remove() }
        let sales = ["POS-A", "POS-B"].flatMap { register in (1...60).map { ProofSale(shop: shop, register: register, seq: $0) } }
        var answers: [String: String] = [:]
        var generator = SystemRandomNumberGenerator()
        var server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
        for round in 0...Self.rounds {
            // Everything unanswered, plus a few answered ones sent again (a register that lost its answers).
            let pending = sales.filter { answers[$0.id] == nil }
            let again = Array(sales.filter { answers[$0.id] != nil }.shuffled(using: &generator).prefix(5))
            let burst = (pending + again).shuffled(using: &generator)
            // The last round runs to the end; the others are cut at a random answer.
            let killAfter = round == Self.rounds ? Int.max : Int.random(in: 1...max(1, burst.count / 2), using: &generator)
            let killer = server
            let outcome = await BurstOutcome.run(burst, client: server.client, parallel: 8, killAfter: killAfter) { killer.kill() }
            for (id, answer) in outcome.answered {
                #expect(answer.status == 201, "round \(round): \(answer.status) \(answer.text)")
                if let first = answers[id] {
                    #expect(answer.text == first, "round \(round): a repeat must answer exactly what the first upload did")
                } else if answer.status == 201 {
                    answers[id] = answer.text
                }
            }
            if round < Self.rounds {
                #expect(outcome.answered.count < burst.count, "round \(round): the kill must cut the burst short")
                server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
            }
        }
        let last = server
        defer { last.stop() }
        #expect(answers.count == sales.count, "every sale acknowledged after the last round: \(answers.count) of \(sales.count)")
        try await ProofBooks.verify(shop: shop, sales: sales, answers: answers, server: server)
    }

    @Test func terminalTransactionsSurviveRepeatedKills() async throws {
        guard CLITests.binaryIsBuilt() else { return }
        let shop = try await ProofShop.make(terminals: 3)
        defer { shop.remove() }
        var server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
        func url(_ server: ServerProcess) -> URL { URL(string: "http://127.0.0.1:\(server.client.port)")! }
        var agents: [TerminalAgent] = []
        for (index, terminal) in shop.terminals.enumerated() {
            let directory = AgentDirectory(URL(fileURLWithPath: shop.folder).appendingPathComponent("agent-\(index)").path)
            agents.append(try await TerminalAgent.activate(server: url(server), sn: terminal.sn, code: terminal.code, directory: directory))
        }
        var created: Set<String> = []
        var generator = SystemRandomNumberGenerator()
        for index in 0..<Self.rounds {
            // Each terminal takes payments and uploads after each one (the queue oldest first) until the
            // server is gone; the server is killed a random time after the round's first answered upload,
            // mid-request or between requests.
            let killer = server
            let delay = Int.random(in: 0...600, using: &generator)
            let progress = Progress()
            let round = try await withThrowingTaskGroup(of: Round.self) { group in
                for agent in agents {
                    group.addTask { try await Self.payAndUpload(agent, progress: progress) }
                }
                group.addTask {
                    for _ in 0..<2_000 where await progress.stored == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    try await Task.sleep(for: .milliseconds(delay))
                    killer.kill()
                    return Round()
                }
                return try await group.reduce(into: Round()) { total, part in total.add(part) }
            }
            created.formUnion(round.paid)
            #expect(round.stored > 0, "round \(index): uploads were answered before the kill")
            #expect(round.cutOff > 0, "round \(index): the kill must leave uploads unanswered")
            server = try await ServerProcess.start(dataDirectory: shop.folder, token: shop.token)
            for (index, agent) in agents.enumerated() {
                await agent.close()
                agents[index] = try await TerminalAgent.open(directory: agent.directory, transport: try URLSessionTransport(server: url(server)))
            }
        }
        // Back online for good: every queue drains.
        for agent in agents {
            let summary = try await agent.upload()
            #expect(summary.remaining == 0 && !summary.lockedOut, "\(summary)")
            #expect(try await agent.queued() == 0)
            await agent.close()
        }
        server.stop()

        // Behind the API: each transaction the terminals made is stored once, and the risk counters
        // that every stored transaction moves in its own write moved once per transaction.
        let database = try await Database.open(.sqlite(path: shop.databasePath))
        let stored = try await database.session { db in
            try await db.raw("SELECT id FROM terminal_transactions").all().map { try $0.decode(column: "id", as: String.self) }
        }
        #expect(stored.count == created.count && Set(stored) == created,
                "stored \(stored.count) rows (\(Set(stored).count) distinct) for \(created.count) transactions made")
        let counted = try await database.session { db -> (sales: Int, counter: Int) in
            let sales = try await db.raw("""
                SELECT COUNT(*) AS n FROM terminal_transactions WHERE merchant_id = \(bind: shop.merchant.rawValue) AND approved = 1 AND kind = 'sale'
                """).first()?.decode(column: "n", as: Int.self) ?? -1
            let counter = try await db.raw("SELECT COALESCE(SUM(count), 0) AS n FROM risk_counters WHERE key = \(bind: "ms:" + shop.merchant.rawValue)")
                .first()?.decode(column: "n", as: Int.self) ?? -1
            return (sales, counter)
        }
        #expect(counted.sales > 0 && counted.counter == counted.sales, "merchant sales counter \(counted.counter) for \(counted.sales) approved sales")
        await database.close()
    }

    /// What the terminals did in one round.
    struct Round: Sendable {
        var paid: [String] = []
        var stored = 0
        var cutOff = 0

        mutating func add(_ other: Round) {
            paid += other.paid
            stored += other.stored
            cutOff += other.cutOff
        }
    }

    /// Transactions stored so far in a round, for the killer to wait on.
    actor Progress {
        private(set) var stored = 0
        func note(_ count: Int) { stored += count }
    }

    /// Payments, each followed by an upload, until an upload finds no server (and at least 5 were
    /// made); then 3 more offline, which wait in the queue for the next server.
    static func payAndUpload(_ agent: TerminalAgent, progress: Progress) async throws -> Round {
        var round = Round()
        var serverGone = false
        var count = 0
        while !serverGone || count < 5 {
            count += 1
            round.paid.append(try await agent.pay(amount: Int64(100 + count), approved: count % 10 != 3).id)
            do {
                let stored = try await agent.upload().stored
                round.stored += stored
                await progress.note(stored)
            } catch {
                serverGone = true
                round.cutOff += 1
            }
            guard count < 2_000 else { break }
        }
        for extra in 1...3 { round.paid.append(try await agent.pay(amount: Int64(5_000 + extra)).id) }
        return round
    }
}
