import Foundation
import Logging
import TillyardStore

/// The latencies of one kind of query, and how many rows each call answered.
struct Measurement: Sendable {
    let name: String
    /// Wall-clock milliseconds of each timed call.
    let millis: [Double]
    /// Rows (or, for counts, the counted number) each timed call answered.
    let rows: [Int]

    /// Nearest-rank percentile (`p` from 0 to 100) of the timed calls.
    func percentile(_ p: Double) -> Double {
        guard !millis.isEmpty else { return 0 }
        let sorted = millis.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    var meanRows: Double { rows.isEmpty ? 0 : Double(rows.reduce(0, +)) / Double(rows.count) }

    /// Runs `call` `warmup` times untimed (to fill the caches as a running server has them), then
    /// `iterations` times timed. `call` gets the iteration number, to vary its values, and answers its row count.
    static func run(_ name: String, iterations: Int, warmup: Int,
                    _ call: (Int) async throws -> Int) async throws -> Measurement {
        for index in 0..<warmup { _ = try await call(index) }
        let clock = ContinuousClock()
        var millis: [Double] = []
        var rows: [Int] = []
        millis.reserveCapacity(iterations)
        rows.reserveCapacity(iterations)
        for index in 0..<iterations {
            var answered = 0
            let elapsed = try await clock.measure { answered = try await call(warmup + index) }
            millis.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            rows.append(answered)
        }
        return Measurement(name: name, millis: millis, rows: rows)
    }
}

/// Text output of the benchmark: a fixed-width table that reads well in a terminal and in a log.
enum Report {
    /// Writes a line to standard output at once: `print` buffers when the output is a pipe or a
    /// file (bench/run | tee), and progress lines should show as they happen.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// The table of measurements: name, p50 and p99 in milliseconds, mean rows per call.
    static func table(_ measurements: [Measurement]) -> String {
        let width = max(44, (measurements.map(\.name.count).max() ?? 0) + 2)
        var lines = [pad("query", width) + left("p50 ms", 9) + left("p99 ms", 9) + left("rows/call", 12)]
        lines.append(String(repeating: "-", count: width + 30))
        for measurement in measurements {
            lines.append(pad(measurement.name, width) + left(decimal(measurement.percentile(50), 2), 9)
                         + left(decimal(measurement.percentile(99), 2), 9) + left(decimal(measurement.meanRows, 1), 12))
        }
        return lines.joined(separator: "\n")
    }

    /// A whole number with thousands separators (1,000,000).
    static func grouped(_ number: Int) -> String {
        let digits = String(number.magnitude)
        var result = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return (number < 0 ? "-" : "") + result
    }

    /// A number with a fixed count of decimals.
    static func decimal(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}

/// The database a benchmark runs on: a fresh SQLite file in a temporary folder (removed afterwards
/// unless `--keep`), the folder given by `--data-dir`, or the empty PostgreSQL database `--database-url`
/// names. Every benchmark opens, closes and cleans up the same way.
enum BenchDatabase {
    /// Opens the database, runs `body` with it and the data folder, closes it, and removes a folder it
    /// made (also when `body` throws), or says where the kept SQLite file is.
    static func with(dataDirectory: String?, databaseURL: String?, keep: Bool, groupCommit: Bool = true,
                     _ body: (Database, String) async throws -> Void) async throws {
        let ownFolder = dataDirectory == nil
        let folder = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("tillyard-bench-\(UUID().uuidString)").path
        let location = try DatabaseLocation.resolve(dataDirectory: folder, databaseURL: databaseURL)
        var logger = Logger(label: "tillyard.bench")
        logger.logLevel = .warning
        let database = try await Database.open(location, logger: logger, groupCommit: groupCommit)
        do {
            try await body(database, folder)
        } catch {
            await database.close()
            if ownFolder, !keep { try? FileManager.default.removeItem(atPath: folder) }
            throw error
        }
        await database.close()
        if case .sqlite(let path) = location, keep { Report.say("SQLite file kept: \(path)") }
        if ownFolder, !keep { try? FileManager.default.removeItem(atPath: folder) }
    }
}
