import ArgumentParser
import Foundation
import Logging
import SQLKit
import TillyardKit
import TillyardStore

/// `tillyard-bench estate`: builds an estate of N terminals in a fresh database (the real
/// migrations, then bulk loading) and times the real terminal search, `TerminalRepository.search`
/// through `SQLPersistence.read`, for every kind of filter, next to a primary-key lookup as the ceiling.
struct EstateBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estate",
        abstract: "Time terminal search and counting on a generated estate (default 1,000,000 terminals).")

    @Option(help: "Terminals to generate.") var terminals = 1_000_000
    @Option(help: "Merchants (each with one store) the bound terminals are spread over.") var merchants = 5_000
    @Option(help: "Agents per region (two regions).") var agents = 10
    @Option(help: "Timed calls per kind of query.") var iterations = 200
    @Option(help: "Untimed calls per kind of query before timing.") var warmup = 20
    @Option(help: "Terminals per loading transaction.") var batch = 25_000
    @Option(help: "Seed of the generated estate.") var seed: UInt64 = 1
    @OptionGroup var storage: BenchStorage
    @Flag(help: "Run ANALYZE on SQLite after loading (PostgreSQL is always analysed, as autovacuum would do).") var analyze = false

    func validate() throws {
        guard terminals >= 1_000 else { throw ValidationError("--terminals must be at least 1,000") }
        guard merchants >= 10, agents >= 1 else { throw ValidationError("--merchants must be at least 10 and --agents at least 1") }
        guard iterations >= 1, warmup >= 0, batch >= 1 else { throw ValidationError("--iterations, --warmup and --batch must be positive") }
    }

    func run() async throws {
        try await storage.open() { database, _ in
            try await benchmark(database)
        }
    }

    private func benchmark(_ database: Database) async throws {
        let report = try await Migrator(database: database).migrate()
        let existing = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n FROM organizations").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        guard existing == 0 else {
            throw ValidationError("the database already holds \(existing) organisations; the benchmark needs an empty one")
        }
        Report.say("Tillyard estate benchmark: \(database.backend.rawValue) \(try await Self.engineVersion(database)), \(database.location)")
        Report.say("migrations: \(report.applied.joined(separator: ", "))")

        let store = SQLPersistence(database: database)
        let loaded = try await Self.load(database, store: store, terminals: terminals, merchants: merchants, agents: agents, batch: batch, seed: seed)
        Report.say(loaded.summary)
        if database.backend == .postgres || analyze {
            let clock = ContinuousClock()
            // PostgreSQL: what autovacuum does shortly after a bulk load (statistics, and the visibility
            // map that index-only scans need). SQLite: only when asked, since the product never runs ANALYZE.
            let elapsed = try await clock.measure {
                try await database.session { db in
                    try await db.raw(database.backend == .postgres ? "VACUUM ANALYZE" : "ANALYZE").run()
                }
            }
            Report.say("\(database.backend == .postgres ? "VACUUM ANALYZE" : "ANALYZE") after loading: \(Report.decimal(Self.seconds(elapsed), 1)) s")
        } else {
            Report.say("no ANALYZE (as in production: the query planner has no statistics)")
        }

        let queries = EstateQueries(store: store, estate: loaded)
        Report.say("timing \(iterations) calls per query after \(warmup) warm-up calls, one client, page size \(PageRequest.defaultLimit)…")
        let measurements = try await queries.measureAll(iterations: iterations, warmup: warmup)
        Report.say("")
        Report.say(Report.table(measurements))
    }

    /// Generates and loads the estate in transactions of `batch` terminals, timing the loading
    /// (also the fleet the heartbeat benchmark beats with).
    static func load(_ database: Database, store: SQLPersistence, terminals: Int, merchants: Int, agents: Int, batch: Int,
                     seed: UInt64) async throws -> LoadedEstate {
        let now = Date()
        var generator = SeededGenerator(seed: seed)
        let tree = EstateTree.build(merchantCount: merchants, agentsPerRegion: agents, now: now, generator: &generator)
        try await EstateLoader.insertTree(tree, into: store)
        if database.backend == .sqlite {
            // Bigger page cache for the loading connection only (the single writer): index inserts in
            // random key order otherwise re-read the same pages. The timed reads use other connections.
            try await database.transaction { db in try await db.raw("PRAGMA cache_size = -262144").run() }
        }

        var terminalGenerator = TerminalGenerator(tree: tree, count: terminals, now: now, seed: seed &+ 1)
        var samples = EstateSamples(tree: tree, sampleEvery: max(1, terminals / 4_096))
        let clock = ContinuousClock()
        var bindingCount = 0
        var inserting = Duration.zero
        let tenant = tree.root.id
        func generate(_ start: Int) -> [GeneratedTerminal] {
            let rows = (start..<min(terminals, start + batch)).map { terminalGenerator.make($0) }
            rows.forEach { samples.note($0) }
            bindingCount += rows.reduce(0) { $0 + $1.bindings.count }
            return rows
        }
        let began = clock.now
        var rows = generate(0)
        for start in stride(from: 0, to: terminals, by: batch) {
            // The next batch is generated on this task while a child task inserts this one: the two
            // cores share the work, and the wall-clock rate below is the one a user waits through.
            let batchRows = rows
            async let inserted = clock.measure {
                try await database.transaction { db in try await EstateLoader.insert(batchRows, tenant: tenant, into: db) }
            }
            rows = start + batch < terminals ? generate(start + batch) : []
            inserting += try await inserted
            if (start / batch) % 8 == 7 {
                Report.say("  loaded \(Report.grouped(start + batchRows.count)) terminals…")
            }
        }
        let wall = seconds(clock.now - began)
        let stored = terminals + bindingCount
        let summary = """
            estate: \(tree.regions.count) regions, \(tree.agents.count) agents, \(Report.grouped(tree.merchants.count)) merchants \
            (\(Report.grouped(samples.boundMerchants.count)) with terminals), \(tree.models.count) models, \
            \(Report.grouped(terminals)) terminals, \(Report.grouped(bindingCount)) bindings
            states: \(TerminalState.allCases.map { "\($0.rawValue) \(Report.grouped(samples.states[$0, default: 0]))" }.joined(separator: ", "))
            load: \(Report.grouped(stored)) rows (terminals + bindings) in \(Report.decimal(wall, 1)) s = \
            \(Report.grouped(Int(Double(stored) / max(wall, 0.001)))) rows/s, \
            \(Report.grouped(Int(Double(terminals) / max(wall, 0.001)))) terminals/s \
            (INSERT transactions busy \(Report.decimal(seconds(inserting), 1)) s of it, generation overlapping)
            """
        return LoadedEstate(tree: tree, samples: samples, summary: summary)
    }

    static func engineVersion(_ database: Database) async throws -> String {
        let query: SQLQueryString = database.backend == .postgres ? "SELECT version() AS v" : "SELECT sqlite_version() AS v"
        return try await database.session { db in
            try await db.raw(query).first()?.decode(column: "v", as: String.self) ?? "?"
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// What was loaded: the tree, the values the queries pick from, and the loading figures.
struct LoadedEstate: Sendable {
    let tree: EstateTree
    let samples: EstateSamples
    let summary: String
}

/// Values seen while generating, for queries that find something: every `sampleEvery`-th
/// terminal's id, SN and TID, the merchants that have terminals, and the state mix.
struct EstateSamples: Sendable {
    let tree: EstateTree
    let sampleEvery: Int
    private(set) var terminals: [(id: TerminalID, sn: String, tid: String)] = []
    private(set) var boundMerchantIds: Set<OrgID> = []
    private(set) var states: [TerminalState: Int] = [:]
    private var seen = 0

    init(tree: EstateTree, sampleEvery: Int) {
        self.tree = tree
        self.sampleEvery = sampleEvery
    }

    mutating func note(_ generated: GeneratedTerminal) {
        let terminal = generated.terminal
        if seen % sampleEvery == 0 { terminals.append((terminal.id, terminal.sn, terminal.tid)) }
        seen += 1
        states[terminal.state, default: 0] += 1
        if let merchant = terminal.merchantId { boundMerchantIds.insert(merchant) }
    }

    /// Merchants with at least one bound terminal, in the tree's order.
    var boundMerchants: [BenchMerchant] { tree.merchants.filter { boundMerchantIds.contains($0.org.id) } }
}
