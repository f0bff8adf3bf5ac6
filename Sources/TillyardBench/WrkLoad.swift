import ArgumentParser
import Foundation

/// A load from wrk, a separate C process on loopback, replaying requests signed before the timing
/// starts. The client then costs the server's cores far less than client threads in the same
/// process that sign as they go, so the figure is the server's, not the load generator's. Each
/// request is sent exactly once (terminal requests carry single-use nonces). wrk itself always runs
/// for its whole `-d` duration, so each thread leaves a marker file when its share is sent, and
/// once every thread has, wrk gets SIGINT: it then prints the figures of the time it really ran.
enum WrkLoad {
    /// What wrk measured.
    struct Outcome {
        let requests: Int
        let seconds: Double
        let perSecond: Double
        let p50: Double
        let p99: Double
        /// Answers outside 2xx/3xx (any is a failure of the run).
        let failed: Int
    }

    /// Whether wrk is on the PATH.
    static var available: Bool { locate() != nil }

    /// Runs wrk with `threads` threads and `connections` keep-alive connections against
    /// 127.0.0.1:`port`, each thread sending its share of `requests` (complete HTTP/1.1 requests),
    /// bounded by `limit` seconds. With `until`, each thread sends its share over and over instead,
    /// until a file appears at that path (or the limit passes).
    static func run(requests: [[UInt8]], port: UInt16, threads: Int, connections: Int, limit: Int, folder: String,
                    until stopFile: String? = nil) async throws -> Outcome {
        // The waiting blocks, so it runs on a thread of its own: on Swift's cooperative pool it
        // would take a thread the in-process server needs (two cores: two threads).
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try runBlocking(requests: requests, port: port, threads: threads, connections: connections, limit: limit, folder: folder,
                                    stopFile: stopFile)
                })
            }.start()
        }
    }

    private static func runBlocking(requests: [[UInt8]], port: UInt16, threads: Int, connections: Int, limit: Int, folder: String,
                                    stopFile: String?) throws -> Outcome {
        guard let wrk = locate() else { throw ValidationError("wrk is not installed (apt-get install -y wrk)") }
        let directory = URL(fileURLWithPath: folder).appendingPathComponent("wrk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Thread t gets requests t, t + threads, ...: one file each, requests separated by NUL.
        for thread in 0..<threads {
            var bytes: [UInt8] = []
            for index in stride(from: thread, to: requests.count, by: threads) {
                bytes += requests[index]
                bytes.append(0)
            }
            try Data(bytes).write(to: directory.appendingPathComponent("requests-\(thread + 1).bin"))
        }
        let script = directory.appendingPathComponent("replay.lua")
        try luaScript(folder: directory.path, cycle: stopFile != nil).write(to: script, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = ["-t", String(threads), "-c", String(max(connections, threads)), "-d", "\(limit)s", "--timeout", "10s",
                             "--latency", "-s", script.path, "http://127.0.0.1:\(port)/"]
        // Into a file, so wrk never waits on a full pipe while nobody reads it.
        let log = directory.appendingPathComponent("wrk.out")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        // wrk inherits this thread's signal mask, and threads made from Swift's runtime block most
        // signals: blocked, the SIGINT below would never reach it.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        try process.run()
        let markers = stopFile.map { [$0] } ?? (1...threads).map { directory.appendingPathComponent("sent-\($0)").path }
        let deadline = Date().addingTimeInterval(TimeInterval(limit))
        while process.isRunning, Date() < deadline, !markers.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            usleep(5_000)
        }
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        process.waitUntilExit()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else { throw ValidationError("wrk exited with \(process.terminationStatus):\n\(text)") }
        return try parse(text)
    }

    /// Reads wrk's summary: "N requests in Xs", "Requests/sec:", the latency distribution and
    /// "Non-2xx or 3xx responses:".
    static func parse(_ text: String) throws -> Outcome {
        func number(after label: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            let rest = line.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces)
            return duration(String(rest.split(separator: " ").first ?? ""))
        }
        guard let summary = text.split(separator: "\n").first(where: { $0.contains(" requests in ") }) else {
            throw ValidationError("wrk printed no summary:\n\(text)")
        }
        let words = summary.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard let requests = Int(words.first ?? ""), words.count > 3, let seconds = duration(words[3].replacingOccurrences(of: ",", with: "")),
              let rate = number(after: "Requests/sec:"), let p50 = number(after: "50%"), let p99 = number(after: "99%") else {
            throw ValidationError("could not read wrk's summary:\n\(text)")
        }
        return Outcome(requests: requests, seconds: seconds / 1000, perSecond: rate, p50: p50, p99: p99,
                       failed: Int(number(after: "Non-2xx or 3xx responses:") ?? 0))
    }

    /// wrk's durations ("812.00us", "3.21ms", "1.02s", "9.87m") in milliseconds; plain numbers as they are.
    static func duration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("us", 0.001), ("ms", 1), ("s", 1000), ("m", 60_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }

    private static func locate() -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/wrk" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Each thread loads its own file and sends its requests in order, then stops (or, with
    /// `cycle`, starts over).
    private static func luaScript(folder: String, cycle: Bool) -> String {
        """
        local counter = 0
        function setup(thread)
            counter = counter + 1
            thread:set("file", "\(folder)/requests-" .. counter .. ".bin")
            thread:set("marker", "\(folder)/sent-" .. counter)
        end
        local requests, next = {}, 1
        function init(args)
            local handle = assert(io.open(file, "rb"))
            local data = handle:read("*a")
            handle:close()
            local start = 1
            while true do
                local stop = string.find(data, "\\0", start, true)
                if not stop then break end
                requests[#requests + 1] = string.sub(data, start, stop - 1)
                start = stop + 1
            end
        end
        local cycle = \(cycle)
        function request()
            if cycle and next > #requests then next = 1 end
            if next > #requests then
                -- Its share is sent: say so and stop. A connection may ask once more before the
                -- stop takes hold; it gets a harmless request, never a replay of a used nonce.
                if next == #requests + 1 then
                    next = next + 1
                    local handle = assert(io.open(marker, "w"))
                    handle:close()
                end
                wrk.thread:stop()
                return wrk.format("GET", "/health")
            end
            next = next + 1
            return requests[next - 1]
        end
        """
    }
}
