import ArgumentParser
import Foundation
import Logging
import TillyardAgent
import TillyardServer
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

    /// Adds one row to the summary table `bench/run all` prints at the end (the file named by
    /// BENCH_SUMMARY; nothing without it): what was measured, its figure, the database ceiling
    /// measured in the same run, and the figure as a share of that ceiling.
    static func summary(_ measured: String, _ figure: String, ceiling: String = "-", ratio: String = "-") {
        guard let path = ProcessInfo.processInfo.environment["BENCH_SUMMARY"], !path.isEmpty else { return }
        let line = [measured, figure, ceiling, ratio].map { $0.replacingOccurrences(of: "\t", with: " ") }.joined(separator: "\t") + "\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: Data(line.utf8))
        }
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

    /// `text` left-aligned in `width` columns (and at least one space after it).
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// `text` right-aligned in `width` columns (and at least one space before it).
    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}

/// The database a benchmark runs on: a fresh SQLite file in a temporary folder (removed afterwards
/// unless `--keep`), the folder given by `--data-dir`, or the empty PostgreSQL database `--database-url`
/// names. Every benchmark opens, closes and cleans up the same way.
/// Where every benchmark's database lives: the options they share.
struct BenchStorage: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: "postgres://… of an EMPTY database to benchmark PostgreSQL instead of SQLite (its tables are filled, not dropped).")
    var databaseURL: String?
    @Option(name: .customLong("data-dir"), help: "Folder for the SQLite file (default: a new temporary folder, deleted afterwards).")
    var dataDirectory: String?
    @Flag(help: "Keep the SQLite file afterwards (its path is printed), e.g. to run EXPLAIN QUERY PLAN on it.") var keep = false

    /// Opens the database these options name for `body` (see `BenchDatabase.with`).
    func open(groupCommit: Bool = true, _ body: (Database, String) async throws -> Void) async throws {
        try await BenchDatabase.with(dataDirectory: dataDirectory, databaseURL: databaseURL, keep: keep, groupCommit: groupCommit, body)
    }
}

/// Load once, time later: the flags of the benchmarks whose data takes long to load (`risk`, `reports`).
struct BenchReuse: ParsableArguments {
    @Flag(help: "Load the generated data, then stop without timing (with --data-dir and --keep, for a later --reuse run).")
    var loadOnly = false
    @Flag(help: "Time against what --data-dir already holds (from a --load-only run) instead of loading it.")
    var reuse = false

    /// Refuses flags that cannot work with the storage options.
    func check(_ storage: BenchStorage) throws {
        guard !(loadOnly && reuse) else { throw ValidationError("--load-only and --reuse exclude each other") }
        if loadOnly || reuse, storage.databaseURL == nil, storage.dataDirectory == nil || (loadOnly && !storage.keep) {
            throw ValidationError("--load-only needs --data-dir and --keep; --reuse needs the same --data-dir")
        }
    }
}

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

/// The latencies of one load run and its wall-clock time.
struct LoadOutcome {
    let seconds: Double
    let millis: [Double]

    func percentile(_ p: Double) -> Double { Measurement(name: "", millis: millis, rows: []).percentile(p) }
}

/// A closed-loop load from client threads, each with its own keep-alive connection, taking request
/// numbers from a shared counter until the range is done. Blocking sockets on dedicated threads keep
/// the client outside the server's event loops and Swift's cooperative pool.
enum ClientThreads {
    /// Hands out request numbers and gathers what the threads measured.
    private final class Shared: @unchecked Sendable {
        private let lock = NSLock()
        private var next: Int
        private let end: Int
        private(set) var millis: [Double] = []
        private(set) var failure: String?

        init(range: Range<Int>) {
            next = range.lowerBound
            end = range.upperBound
            millis.reserveCapacity(range.count)
        }

        func take() -> Int? {
            lock.withLock {
                guard failure == nil, next < end else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func finish(_ measured: [Double], failure: String?) {
            lock.withLock {
                millis += measured
                if let failure, self.failure == nil { self.failure = failure }
            }
        }
    }

    /// Runs `request` (connection, client number, request number) for every number in `range`; it
    /// answers nil or what went wrong, which stops the load. The time of each call is its latency.
    static func drive(range: Range<Int>, clients: Int, port: UInt16,
                      _ request: @escaping @Sendable (LoopbackHTTPConnection, Int, Int) throws -> String?) async throws -> LoadOutcome {
        let shared = Shared(range: range)
        let group = DispatchGroup()
        let started = DispatchTime.now().uptimeNanoseconds
        for client in 0..<clients {
            group.enter()
            let thread = Thread {
                var measured: [Double] = []
                var failure: String?
                do {
                    let connection = try LoopbackHTTPConnection(port: port)
                    while let index = shared.take() {
                        let began = DispatchTime.now().uptimeNanoseconds
                        failure = try request(connection, client, index)
                        measured.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6)
                        if failure != nil { break }
                    }
                } catch {
                    failure = "\(error)"
                }
                shared.finish(measured, failure: failure)
                group.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                group.wait()
                done.resume()
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        if let failure = shared.failure { throw ValidationError("the load stopped: \(failure)") }
        return LoadOutcome(seconds: seconds, millis: shared.millis)
    }
}

/// The product's server (`buildApplication`) in this process on a free loopback port, so a
/// benchmark drives exactly what `tillyard serve` runs.
struct InProcessServer {
    let port: UInt16
    private let task: Task<Void, any Error>

    /// Builds and starts the application on `services`, and returns once it answers `/health`.
    static func start(services: AppServices, folder: String, databaseURL: String?) async throws -> InProcessServer {
        let port = try LoopbackHTTPConnection.freePort()
        let configuration = AppConfiguration(host: "127.0.0.1", port: Int(port), dataDirectory: folder, databaseURL: databaseURL,
                                             logLevel: .error, bcryptCost: 4)
        let app = try await buildApplication(configuration: configuration, services: services)
        let server = InProcessServer(port: port, task: Task { try await app.runService() })
        do {
            try await waitUntilListening(port: port)
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Polls /health on the port until a server answers 200 (at most a minute).
    static func waitUntilListening(port: UInt16) async throws {
        for _ in 0..<600 {
            if let connection = try? LoopbackHTTPConnection(port: port), let answer = try? connection.send("GET", "/health", token: nil),
               answer.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("no server started listening on 127.0.0.1:\(port)")
    }

    /// Asks the server to stop (graceful shutdown follows in the background).
    func stop() { task.cancel() }

    /// Stops the server and waits until it has.
    func finish() async {
        task.cancel()
        _ = try? await task.value
    }
}
