import ArgumentParser
import Foundation
import SQLKit
import TillyardKit
import TillyardStore

/// `tillyard-bench reports`: N terminal transactions (default 10,000,000) over the last 365 days of a
/// generated estate, bulk-loaded, with their rollups built in bulk by the product's rebuild SQL
/// (`ReportsRepository.rebuildTransactions`), then the acquirer dashboard's 90-day query set — what
/// `/console/reports/estate` runs for a user holding both report permissions — timed through
/// `ReportsService`, each query and the whole set.
struct ReportsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Time the 90-day acquirer dashboard over N stored transactions (default 10,000,000) and their rollups.")

    @Option(help: "Stored transactions.") var transactions = 10_000_000
    @Option(help: "Days the transactions spread over (ending now).") var days = 365
    @Option(help: "Terminals of the generated estate (about 60% are deployed at merchants).") var terminals = 20_000
    @Option(help: "Merchants of the generated estate.") var merchants = 5_000
    @Option(help: "Timed dashboard loads.") var iterations = 200
    @Option(help: "Untimed dashboard loads before timing.") var warmup = 20
    @Option(help: "Transactions per loading transaction.") var batch = 20_000
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 11
    @OptionGroup var history: BenchReuse
    @OptionGroup var storage: BenchStorage

    func validate() throws {
        guard transactions >= 1_000, days >= 90, terminals >= 100, merchants >= 10 else {
            throw ValidationError("--transactions ≥ 1,000, --days ≥ 90, --terminals ≥ 100, --merchants ≥ 10")
        }
        guard iterations >= 1, warmup >= 0, batch >= 1 else { throw ValidationError("--iterations, --warmup and --batch must be positive") }
        try history.check(storage)
    }

    func run() async throws {
        try await storage.open { database, _ in try await benchmark(database) }
    }

    private func benchmark(_ database: Database) async throws {
        let migrated = try await Migrator(database: database).migrate()
        Report.say("Tillyard reports benchmark: \(database.backend.rawValue) \(try await EstateBenchmark.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(migrated.applied.joined(separator: ", "))")
        let store = SQLPersistence(database: database)
        if !history.reuse { try await load(database, store: store) }
        let counts = try await database.session { db -> (Int, Int, Int) in
            func count(_ table: String) async throws -> Int {
                try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int.self) ?? 0
            }
            return (try await count("terminal_transactions"), try await count("report_transactions_daily"),
                    try await count("report_transaction_merchants"))
        }
        Report.say("""
            stored: \(Report.grouped(counts.0)) transactions; rollups: \(Report.grouped(counts.1)) daily rows per owner path, \
            \(Report.grouped(counts.2)) merchant block rows
            """)
        if history.loadOnly { Report.say("loaded; time it later with --reuse --data-dir \(storage.dataDirectory ?? "")"); return }

        // The acquirer's administrator, as the console's session would carry them.
        let root = try await database.session { db -> (String, String) in
            guard let row = try await db.raw("SELECT id, path FROM organizations WHERE parent_id IS NULL AND kind = 'acquirer' ORDER BY id LIMIT 1").first()
            else { throw ValidationError("no generated estate in this database") }
            return (try row.decode(column: "id", as: String.self), try row.decode(column: "path", as: String.self))
        }
        let now = Date()
        let user = User(id: UserID(rawValue: UUIDv7.make(now: now)), orgId: OrgID(rawValue: root.0), username: "bench", displayName: "bench", email: nil,
                        role: .administrator, passwordHash: "", createdAt: now, updatedAt: now)
        let principal = Principal(user: user, orgPath: root.1, orgKind: .acquirer, permissions: Role.administrator.permissions,
                                  credential: .commandLine, origin: "bench")
        let reports = ReportsService(store: store)
        let range = ReportRange(from: reports.today - 89, to: reports.today)
        let clock = ContinuousClock()
        var timings: [String: [Double]] = [:], rows: [String: [Int]] = [:]
        func timed<T>(_ name: String, _ index: Int, _ work: () async throws -> T, rows count: (T) -> Int) async throws -> T {
            let started = clock.now
            let result = try await work()
            if index >= warmup {
                timings[name, default: []].append(RiskBenchmark.millis(clock.now - started))
                rows[name, default: []].append(count(result))
            }
            return result
        }
        let names = ["fleet: estate(days: 90)", "money: transactions by day, region, top 10 merchants",
                     "whole dashboard (both at once, as the console page)"]
        for index in 0..<(warmup + iterations) {
            _ = try await timed(names[0], index, { try await reports.estate(days: 90, principal: principal) }, rows: { $0.byState.count + $0.byModel.count })
            _ = try await timed(names[1], index, { try await reports.transactionOverview(range: range, limit: 10, principal: principal) },
                                rows: { $0.byDay.rows.count + $0.byRegion.rows.count + $0.byMerchant.rows.count })
            let started = clock.now
            async let fleet = reports.estate(days: 90, principal: principal)
            let money = try await reports.transactionOverview(range: range, limit: 10, principal: principal)
            _ = try await fleet
            if index >= warmup {
                timings[names[2], default: []].append(RiskBenchmark.millis(clock.now - started))
                rows[names[2], default: []].append(Int(money.byDay.total.count))
            }
        }
        Report.say("timed \(Report.grouped(iterations)) dashboard loads (90 days, the acquirer's whole tree) after \(Report.grouped(warmup)) warm-up ones")
        Report.say("")
        let measured = names.map { Measurement(name: $0, millis: timings[$0] ?? [], rows: rows[$0] ?? []) }
        Report.say(Report.table(measured))
        Report.summary("90-day acquirer dashboard at \(Report.grouped(counts.0)) transactions (\(database.backend.rawValue))",
                       "p50 \(Report.decimal(measured[2].percentile(50), 1)) ms, p99 \(Report.decimal(measured[2].percentile(99), 1)) ms",
                       ceiling: "fleet p50 \(Report.decimal(measured[0].percentile(50), 1)) ms, money p50 \(Report.decimal(measured[1].percentile(50), 1)) ms")
    }

    /// The generated estate, the transactions over `days` days and their rollups built in bulk.
    private func load(_ database: Database, store: SQLPersistence) async throws {
        let estate = try await EstateBenchmark.load(database, store: store, terminals: terminals, merchants: merchants, agents: 4, batch: 20_000,
                                                    seed: seed)
        Report.say(estate.summary)
        let deployed = try await RiskBenchmark.deployedTerminals(database)
        var generator = SeededGenerator(seed: seed &+ 3)
        let now = Date()
        let clock = ContinuousClock()
        let began = clock.now
        for start in stride(from: 0, to: transactions, by: batch) {
            let rows = (start..<min(transactions, start + batch)).map { index -> (RiskBenchmark.Deployed, TerminalTransaction, String?) in
                let at = now.addingTimeInterval(-Double.random(in: 60...(Double(days) * 86_400), using: &generator))
                let (terminal, transaction) = RiskBenchmark.transaction(index, at: at, deployed: deployed, cards: 1_000_000, generator: &generator)
                return (terminal, transaction, nil)
            }
            try await database.transaction { db in try await RiskBenchmark.insert(rows, into: db) }
            if (start / batch) % 25 == 24 { Report.say("  loaded \(Report.grouped(start + rows.count)) transactions…") }
        }
        let loadSeconds = EstateBenchmark.seconds(clock.now - began)
        let rollupBegan = clock.now
        try await store.write { try await $0.reports.rebuildTransactions() }
        Report.say("""
            history: \(Report.grouped(transactions)) transactions over \(days) days on \(Report.grouped(deployed.count)) deployed terminals, \
            loaded in \(Report.decimal(loadSeconds, 1)) s; rollups built from them in \(Report.decimal(EstateBenchmark.seconds(clock.now - rollupBegan), 1)) s
            """)
        if database.backend == .postgres {
            try await database.session { db in try await db.raw("VACUUM ANALYZE").run() }
        }
    }
}
