import ArgumentParser
import Foundation
import SQLKit
import TillyardKit
import TillyardStore

/// `tillyard-bench risk`: N stored terminal transactions (default 10,000,000) over the last 90 days
/// of a generated estate, bulk-loaded with the risk counters they leave (built from the stored rows
/// with the engine's keys), then each new transaction judged by the default rules exactly as an
/// upload does: `RiskScreen.judge` (counters read by key, rules, counters moved, alerts raised) inside
/// a write transaction. The figure is the time `judge` adds to the upload's transaction.
struct RiskBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk",
        abstract: "Time the risk rules per uploaded transaction against N stored transactions (default 10,000,000).")

    @Option(help: "Stored transactions before timing.") var transactions = 10_000_000
    @Option(help: "Terminals of the generated estate (about 60% are deployed at merchants).") var terminals = 20_000
    @Option(help: "Merchants of the generated estate.") var merchants = 5_000
    @Option(help: "Distinct cards in the stored history.") var cards = 2_000_000
    @Option(help: "Timed transactions.") var iterations = 5_000
    @Option(help: "Untimed transactions before timing.") var warmup = 500
    @Option(help: "Transactions per loading transaction.") var batch = 20_000
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 7
    @OptionGroup var history: BenchReuse
    @OptionGroup var storage: BenchStorage

    func validate() throws {
        guard transactions >= 1_000, terminals >= 100, merchants >= 10, cards >= 10 else {
            throw ValidationError("--transactions ≥ 1,000, --terminals ≥ 100, --merchants ≥ 10, --cards ≥ 10")
        }
        guard iterations >= 1, warmup >= 0, batch >= 1 else { throw ValidationError("--iterations, --warmup and --batch must be positive") }
        try history.check(storage)
    }

    func run() async throws {
        try await storage.open { database, _ in try await benchmark(database) }
    }

    /// A deployed terminal of the generated estate.
    struct Deployed: Sendable {
        let id: TerminalID
        let orgId: OrgID
        let merchantId: OrgID
        let ownerPath: String
    }

    private func benchmark(_ database: Database) async throws {
        let migrated = try await Migrator(database: database).migrate()
        Report.say("Tillyard risk benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(migrated.applied.joined(separator: ", "))")
        let store = SQLPersistence(database: database)
        let screen = RiskScreen(secret: Data(repeating: 7, count: 32))
        var generator = SeededGenerator(seed: seed &+ 2)
        let now = Date()
        let acquirer: OrgID
        if history.reuse {
            acquirer = try await database.session { db in
                guard let id = try await db.raw("SELECT id FROM organizations WHERE parent_id IS NULL AND kind = 'acquirer' ORDER BY id LIMIT 1").first()?
                    .decode(column: "id", as: String.self) else { throw ValidationError("--reuse: no generated estate in this database") }
                return OrgID(rawValue: id)
            }
        } else {
            acquirer = try await loadHistory(database, store: store, screen: screen, generator: &generator, now: now)
        }
        let deployed = try await Self.deployedTerminals(database)
        // Timed transactions take ids after every stored one, so a --reuse run can follow another.
        let stored = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n FROM terminal_transactions").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        if history.reuse { Report.say("reusing \(Report.grouped(stored)) stored transactions on \(Report.grouped(deployed.count)) deployed terminals") }
        if history.loadOnly { Report.say("loaded; time it later with --reuse --data-dir \(storage.dataDirectory ?? "")"); return }
        // Timed: new transactions judged one per write transaction, as an upload of one does.
        let clock = ContinuousClock()
        let rules = RiskLibrary.defaults
        let hours = BusinessHours(opens: 8 * 60, closes: 22 * 60)
        var judged: [Double] = [], writes: [Double] = []
        var alerts = 0
        for index in 0..<(warmup + iterations) {
            let (terminal, transaction) = Self.transaction(stored + index, at: now.addingTimeInterval(Double(index) * 0.01), deployed: deployed,
                                                           cards: cards, generator: &generator)
            let facts = RiskFacts(terminalId: terminal.id.rawValue, transactionId: transaction.id, merchantId: terminal.merchantId.rawValue,
                                  cardHash: screen.cards.hash(transaction.maskedPan), cardPrefix: CardIdentity.prefix(transaction.maskedPan),
                                  kind: transaction.kind, amount: transaction.amount, approved: transaction.approved, at: transaction.at,
                                  businessHours: hours)
            let subject = RiskSubject(terminalId: terminal.id, orgId: terminal.orgId, merchantId: terminal.merchantId, ownerPath: terminal.ownerPath)
            let started = clock.now
            let (inside, raised) = try await store.write { repos -> (Duration, Int) in
                _ = try await repos.fleetOps.insertTransactions([transaction], cardHashes: facts.cardHash.map { [transaction.id: $0] } ?? [:],
                                                                terminal: terminal.id, orgPath: terminal.ownerPath, merchantId: terminal.merchantId,
                                                                receivedAt: transaction.at)
                let timer = ContinuousClock()
                let began = timer.now
                let raised = try await screen.judge(facts, subject: subject, rules: rules, acquirer: acquirer, repos: repos, at: transaction.at)
                return (timer.now - began, raised.count)
            }
            let whole = clock.now - started
            guard index >= warmup else { continue }
            judged.append(Self.millis(inside))
            writes.append(Self.millis(whole))
            alerts += raised
        }
        let judge = Measurement(name: "", millis: judged, rows: [])
        let whole = Measurement(name: "", millis: writes, rows: [])
        Report.summary("risk rules per uploaded transaction at \(Report.grouped(stored)) stored (\(database.backend.rawValue))",
                       "p50 \(Report.decimal(judge.percentile(50), 2)) ms, p99 \(Report.decimal(judge.percentile(99), 2)) ms",
                       ceiling: "whole write p99 \(Report.decimal(whole.percentile(99), 2)) ms",
                       ratio: Report.decimal(judge.percentile(99) / max(whole.percentile(99), 0.001), 2))
        Report.say("timed \(Report.grouped(iterations)) transactions after \(Report.grouped(warmup)) warm-up ones, one at a time; \(alerts) alerts raised")
        Report.say("")
        Report.say(Report.table([
            Measurement(name: "rules: RiskScreen.judge (added per transaction)", millis: judged, rows: judged.map { _ in 1 }),
            Measurement(name: "whole write: insert + judge + commit", millis: writes, rows: writes.map { _ in 1 }),
        ]))
    }

    /// Loads the generated estate and `transactions` stored ones over 90 days with the counters they
    /// leave; returns the estate's acquirer.
    private func loadHistory(_ database: Database, store: SQLPersistence, screen: RiskScreen, generator: inout SeededGenerator,
                             now: Date) async throws -> OrgID {
        let estate = try await EstateBenchmark.load(database, store: store, terminals: terminals, merchants: merchants, agents: 4, batch: 20_000,
                                                    seed: seed)
        Report.say(estate.summary)
        let deployed = try await Self.deployedTerminals(database)
        let acquirer = estate.tree.root.id

        // The history: N transactions over 90 days, cards from a pool (a card shops near its first terminal).
        let clock = ContinuousClock()
        let began = clock.now
        for start in stride(from: 0, to: transactions, by: batch) {
            let rows = (start..<min(transactions, start + batch)).map { index -> (Deployed, TerminalTransaction, String?) in
                let (terminal, transaction) = Self.transaction(index, at: now.addingTimeInterval(-Double.random(in: 60...(90 * 86_400), using: &generator)),
                                                               deployed: deployed, cards: cards, generator: &generator)
                return (terminal, transaction, screen.cards.hash(transaction.maskedPan))
            }
            try await database.transaction { db in try await Self.insert(rows, into: db) }
            if (start / batch) % 25 == 24 { Report.say("  loaded \(Report.grouped(start + rows.count)) transactions…") }
        }
        let loadSeconds = EstateBenchmark.seconds(clock.now - began)
        let counterBegan = clock.now
        try await database.transaction { db in try await Self.buildCounters(db, acquirer: acquirer) }
        let counterSeconds = EstateBenchmark.seconds(clock.now - counterBegan)
        let counts = try await database.session { db -> (Int, Int) in
            let counters = try await db.raw("SELECT COUNT(*) AS n FROM risk_counters").first()?.decode(column: "n", as: Int.self) ?? 0
            let seen = try await db.raw("SELECT COUNT(*) AS n FROM risk_last_seen").first()?.decode(column: "n", as: Int.self) ?? 0
            return (counters, seen)
        }
        Report.say("""
            history: \(Report.grouped(transactions)) transactions on \(Report.grouped(deployed.count)) deployed terminals, \(Report.grouped(cards)) cards, \
            loaded in \(Report.decimal(loadSeconds, 1)) s; counters built from them in \(Report.decimal(counterSeconds, 1)) s: \
            \(Report.grouped(counts.0)) counters, \(Report.grouped(counts.1)) last-seen entries
            """)
        if database.backend == .postgres {
            try await database.session { db in try await db.raw("VACUUM ANALYZE").run() }
        }

        return acquirer
    }

    /// The deployed terminals of the generated estate, in id order.
    static func deployedTerminals(_ database: Database) async throws -> [Deployed] {
        let deployed = try await database.session { db in
            try await db.raw("""
                SELECT id, org_id, merchant_id, owner_path FROM terminals WHERE state IN ('bound', 'installed', 'in_service') ORDER BY id
                """).all().map { row in
                Deployed(id: TerminalID(rawValue: try row.decode(column: "id", as: String.self)),
                         orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                         merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
                         ownerPath: try row.decode(column: "owner_path", as: String.self))
            }
        }
        guard !deployed.isEmpty else { throw ValidationError("the generated estate has no deployed terminals") }
        return deployed
    }

    static func millis(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// One generated transaction: mostly card sales of everyday amounts, some QR, refunds and declines.
    static func transaction(_ index: Int, at: Date, deployed: [Deployed], cards: Int, generator: inout SeededGenerator)
        -> (Deployed, TerminalTransaction) {
        let card = Int.random(in: 0..<cards, using: &generator)
        // A card is used mostly at "its" few terminals.
        let terminal = deployed[(card &* 31 &+ Int.random(in: 0..<3, using: &generator)) % deployed.count]
        let qr = Int.random(in: 0..<10, using: &generator) < 3
        let roll = Int.random(in: 0..<100, using: &generator)
        let kind: TerminalTransactionKind = roll < 3 ? .refund : (roll < 5 ? .preAuth : .sale)
        let approved = Int.random(in: 0..<100, using: &generator) >= 4
        // BIN + last 4 is all a card's identity is made of: 8-digit BINs spread the pool so `cards` stay distinct.
        let bin = ["622", "628", "621", "436", "524"][card % 5] + String(format: "%05d", (card / 10_000) % 100_000)
        let pan = qr ? nil : "\(bin)****\(String(format: "%04d", card % 10_000))"
        let amount = Int64(Int.random(in: 100...50_000, using: &generator)) * (Int.random(in: 0..<50, using: &generator) == 0 ? 20 : 1)
        let transaction = TerminalTransaction(id: "bench-\(index)", at: at, kind: kind, amount: amount, tender: qr ? .wechat : .card, approved: approved,
                                              responseCode: approved ? "00" : "51", maskedPan: pan, entryMode: qr ? .qr : .chip)
        return (terminal, transaction)
    }

    static let columns = ["terminal_id", "id", "org_path", "merchant_id", "at", "kind", "amount", "currency", "tender", "approved", "response_code",
                          "masked_pan", "received_at", "entry_mode", "card_hash", "card_prefix"]

    static func insert(_ rows: [(Deployed, TerminalTransaction, String?)], into db: any SQLDatabase) async throws {
        for start in stride(from: 0, to: rows.count, by: 1_000) {
            let insert = db.insert(into: "terminal_transactions").columns(columns)
            for (terminal, item, hash) in rows[start..<min(rows.count, start + 1_000)] {
                let values: [any Encodable & Sendable] = [
                    terminal.id.rawValue, item.id, terminal.ownerPath, terminal.merchantId.rawValue, EpochMillis.from(item.at), item.kind.rawValue,
                    item.amount, item.currency, item.tender.rawValue, item.approved ? 1 : 0, item.responseCode, item.maskedPan,
                    EpochMillis.from(item.at), item.entryMode?.rawValue, hash, CardIdentity.prefix(item.maskedPan),
                ]
                insert.values(values)
            }
            try await insert.run()
        }
    }

    /// The counters the stored history leaves, built in SQL with the engine's keys (`RiskEngine.increments`):
    /// what an installation that screened every one of those transactions would hold.
    static func buildCounters(_ db: any SQLDatabase, acquirer: OrgID) async throws {
        let day: SQLQueryString = "((at / 1000 + \(unsafeRaw: String(RiskClock.utcOffset))) / 86400)"
        let org = acquirer.rawValue
        let forward = "kind IN ('sale', 'completion', 'pre_auth')"
        let groups: [(key: SQLQueryString, condition: String)] = [
            ("'c:' || card_hash", "card_hash IS NOT NULL AND kind NOT IN ('refund', 'void', 'reversal')"),
            ("'cma:' || card_hash || ':' || merchant_id || ':' || CAST(amount AS TEXT)",
             "card_hash IS NOT NULL AND merchant_id IS NOT NULL AND kind NOT IN ('refund', 'void', 'reversal')"),
            ("'bin:' || merchant_id || ':' || card_prefix", "merchant_id IS NOT NULL AND card_prefix IS NOT NULL AND LENGTH(card_prefix) = 8 AND \(forward)"),
            ("'ma:' || merchant_id || ':' || CAST(amount AS TEXT)", "merchant_id IS NOT NULL AND \(forward)"),
            ("'ms:' || merchant_id", "merchant_id IS NOT NULL AND approved = 1 AND kind IN ('sale', 'completion')"),
            ("'mr:' || merchant_id", "merchant_id IS NOT NULL AND approved = 1 AND kind = 'refund'"),
        ]
        for (key, condition) in groups {
            try await db.raw("""
                INSERT INTO risk_counters (key, day, org_id, count, amount)
                SELECT \(key), \(day), \(bind: org), COUNT(*), CAST(SUM(amount) AS BIGINT) FROM terminal_transactions
                WHERE \(unsafeRaw: condition) GROUP BY \(key), \(day)
                """).run()
        }
        // Last sightings: the newest transaction of each card and terminal (the terminal of a card's
        // newest one is approximated by the smallest terminal id at that instant).
        for (key, column, condition) in [("'c:' || card_hash", "card_hash", "card_hash IS NOT NULL"), ("'t:' || terminal_id", "terminal_id", "1 = 1")] {
            try await db.raw("""
                INSERT INTO risk_last_seen (key, org_id, terminal_id, at)
                SELECT \(unsafeRaw: key), \(bind: org), MIN(t.terminal_id), t.at FROM terminal_transactions t
                JOIN (SELECT \(unsafeRaw: column) AS k, MAX(at) AS newest FROM terminal_transactions WHERE \(unsafeRaw: condition) GROUP BY \(unsafeRaw: column)) m
                  ON m.k = t.\(unsafeRaw: column) AND m.newest = t.at
                GROUP BY t.\(unsafeRaw: column), t.at
                """).run()
        }
    }
}
