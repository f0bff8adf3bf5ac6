import ArgumentParser

/// `tillyard-bench`: benchmarks that build a realistic installation in a throwaway database and
/// time the product's real code paths against it. Run through `bench/run`, which builds in release.
@main
struct TillyardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tillyard-bench",
        abstract: "Benchmarks of Tillyard's storage paths on a throwaway database.",
        subcommands: [EstateBenchmark.self, SalesBenchmark.self, CatalogBenchmark.self, HeartbeatBenchmark.self, RiskBenchmark.self,
                      AbuseBenchmark.self, MemoryBenchmark.self, ReportsBenchmark.self])
}
