import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TillyardKit

/// Many terminals in one process, for load: activation of a list of SN/code pairs, then signed
/// heartbeats at a chosen rate from blocking keep-alive connections (`LoopbackHTTPConnection`) on
/// threads of their own, with latency percentiles.
public enum FleetSimulator {
    /// One terminal of the simulated fleet: its id and secret, and where its clock stands.
    public struct Member: Sendable {
        public let signer: RequestSigner
        public let secretHex: String

        /// A member from its id and its 64-hex-digit secret.
        public init(terminalId: String, secretHex: String) throws {
            guard let secret = Hex.decode(secretHex), secret.count == 32 else {
                throw AgentError.invalidInput("terminal \(terminalId): the secret must be 64 hex digits")
            }
            signer = RequestSigner(terminalId: terminalId, secret: secret)
            self.secretHex = secretHex
        }
    }

    /// Reads `sn,code` lines: one terminal per line, an optional `sn,code` header, blank lines and
    /// lines starting with `#` ignored. Errors name the line.
    public static func readCodes(_ path: String) throws -> [(sn: String, code: String)] {
        try lines(path).compactMap { number, line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if number == 1, cells.first?.lowercased() == "sn" { return nil }
            guard cells.count == 2, !cells[0].isEmpty, ActivationCodes.normalised(cells[1]).count == 12 else {
                throw AgentError.invalidInput("\(path) line \(number): expected SN,CODE (a 12-digit activation code), found '\(line)'")
            }
            return (cells[0], cells[1])
        }
    }

    /// Reads `terminal_id,secret` lines as `writeCredentials` wrote them.
    public static func readCredentials(_ path: String) throws -> [Member] {
        try lines(path).compactMap { number, line in
            let cells = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if number == 1, cells.first == "terminal_id" { return nil }
            guard cells.count == 2 else { throw AgentError.invalidInput("\(path) line \(number): expected TERMINAL_ID,SECRET") }
            return try Member(terminalId: cells[0], secretHex: cells[1])
        }
    }

    /// Writes the fleet's credentials (mode 0600: they are the terminals' secrets).
    public static func writeCredentials(_ members: [Member], to path: String) throws {
        let text = "terminal_id,secret\n" + members.map { "\($0.signer.terminalId),\($0.secretHex)\n" }.joined()
        try AgentDirectory.writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: path), mode: 0o600)
    }

    private static func lines(_ path: String) throws -> [(Int, String)] {
        guard let data = FileManager.default.contents(atPath: path) else { throw AgentError.invalidInput("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return line.isEmpty || line.hasPrefix("#") ? nil : (index + 1, line)
        }
    }

    /// Activates every pair, `parallel` at a time; returns the members and a message per refusal.
    public static func activate(_ pairs: [(sn: String, code: String)], transport: any AgentTransport,
                                parallel: Int = 8) async -> (members: [Member], failures: [String]) {
        var members: [Member] = []
        var failures: [String] = []
        await withTaskGroup(of: Result<Member, AgentFailure>.self) { group in
            var next = 0
            func launch() {
                guard next < pairs.count else { return }
                let (sn, code) = pairs[next]
                next += 1
                group.addTask {
                    do {
                        let body = try JSONSerialization.data(withJSONObject: ["sn": sn, "code": code])
                        let response = try await transport.send(AgentRequest(method: "POST", path: "/terminal/v1/activate",
                                                                             headers: ["Content-Type": "application/json"], body: body))
                        guard response.status == 200 else { return .failure(AgentFailure(message: "\(sn): \(AgentError.from(response))")) }
                        let result = try WireJSON.decoder().decode(ActivationResult.self, from: response.body)
                        return .success(try Member(terminalId: result.terminalId.rawValue, secretHex: result.secret))
                    } catch {
                        return .failure(AgentFailure(message: "\(sn): \(error)"))
                    }
                }
            }
            for _ in 0..<max(1, parallel) { launch() }
            while let outcome = await group.next() {
                switch outcome {
                case .success(let member): members.append(member)
                case .failure(let failure): failures.append(failure.message)
                }
                launch()
            }
        }
        return (members, failures)
    }

    struct AgentFailure: Error { let message: String }

    /// What a heartbeat run achieved.
    public struct Outcome: Sendable {
        public var sent = 0
        public var ok = 0
        /// 401 refusals by reason code.
        public var refused: [String: Int] = [:]
        /// Other statuses by code.
        public var otherStatus: [Int: Int] = [:]
        /// Requests that got no answer (connection errors).
        public var failed = 0
        public var firstFailure: String?
        public var seconds: Double = 0
        /// Latencies of answered requests, milliseconds, sorted.
        public var latencies: [Double] = []

        /// Answered (200) heartbeats per second.
        public var rate: Double { seconds > 0 ? Double(ok) / seconds : 0 }

        /// The p-th percentile latency (0–100), milliseconds.
        public func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count - 1) * p / 100 + 0.5))]
        }

        mutating func merge(_ other: Outcome) {
            sent += other.sent
            ok += other.ok
            failed += other.failed
            firstFailure = firstFailure ?? other.firstFailure
            refused.merge(other.refused, uniquingKeysWith: +)
            otherStatus.merge(other.otherStatus, uniquingKeysWith: +)
            latencies += other.latencies
        }
    }

    /// Sends heartbeats for `duration` seconds from `connections` threads to 127.0.0.1:`port`, the
    /// members taken round robin; `rate` heartbeats/s in all (0: as fast as the server answers).
    /// Each terminal's readings vary a little, like a real fleet's.
    public static func heartbeats(_ members: [Member], port: UInt16, connections: Int, rate: Double, duration: TimeInterval,
                                  clockOffset: TimeInterval = 0) async -> Outcome {
        let bodies = members.indices.map { index in
            (try? WireJSON.encoder().encode(Heartbeat(appVersion: "1.0.0", firmwareVersion: "1.0.0", battery: 20 + index % 80,
                                                        paper: index % 17 == 0 ? .low : .ok, signal: -60 - index % 40,
                                                        secondsSinceTransaction: index % 3600, parametersVersion: nil))) ?? Data()
        }
        let threads = max(1, min(connections, members.count))
        let collected = Collected()
        let start = Date()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let remaining = Countdown(threads) { done.resume() }
            for thread in 0..<threads {
                Thread {
                    collected.add(drive(members: members, bodies: bodies, thread: thread, threads: threads, port: port,
                                        perThreadRate: rate / Double(threads), until: start.addingTimeInterval(duration), clockOffset: clockOffset))
                    remaining.tick()
                }.start()
            }
        }
        var outcome = collected.total
        outcome.seconds = Date().timeIntervalSince(start)
        outcome.latencies.sort()
        return outcome
    }

    /// One client thread: its own connection, its share of the members, paced to its share of the rate.
    private static func drive(members: [Member], bodies: [Data], thread: Int, threads: Int, port: UInt16, perThreadRate: Double,
                              until end: Date, clockOffset: TimeInterval) -> Outcome {
        var outcome = Outcome()
        let mine = Array(stride(from: thread, to: members.count, by: threads))
        guard !mine.isEmpty else { return outcome }
        let transport = LoopbackTransport(port: port)
        let begin = Date()
        var index = 0
        while true {
            let now = Date()
            if now >= end { break }
            if perThreadRate > 0 {
                let due = begin.addingTimeInterval(Double(outcome.sent) / perThreadRate)
                if due > now {
                    usleep(useconds_t(min(due.timeIntervalSince(now), end.timeIntervalSince(now)) * 1_000_000))
                    continue
                }
            }
            let member = mine[index % mine.count]
            index += 1
            let request = members[member].signer.request("POST", "/terminal/v1/heartbeat", body: bodies[member],
                                                         timestamp: Int64(now.timeIntervalSince1970 + clockOffset))
            outcome.sent += 1
            let sentAt = DispatchTime.now().uptimeNanoseconds
            do {
                let response = try transport.sendBlocking(request)
                outcome.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - sentAt) / 1_000_000)
                switch response.status {
                case 200: outcome.ok += 1
                case 401:
                    if case .refused(let reason, _) = AgentError.from(response) { outcome.refused[reason ?? "none", default: 0] += 1 }
                    else { outcome.refused["terminal_locked", default: 0] += 1 }
                default: outcome.otherStatus[response.status, default: 0] += 1
                }
            } catch {
                outcome.failed += 1
                outcome.firstFailure = outcome.firstFailure ?? "\(error)"
                // The server is gone or refusing connections: do not spin.
                usleep(100_000)
            }
        }
        return outcome
    }

    /// Outcomes of the client threads, merged under a lock.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var merged = Outcome()
        func add(_ outcome: Outcome) { lock.withLock { merged.merge(outcome) } }
        var total: Outcome { lock.withLock { merged } }
    }

    /// Calls `done` once `tick` was called `count` times.
    private final class Countdown: @unchecked Sendable {
        private let lock = NSLock()
        private var left: Int
        private let done: @Sendable () -> Void
        init(_ count: Int, done: @escaping @Sendable () -> Void) {
            left = count
            self.done = done
        }
        func tick() {
            let finished = lock.withLock { left -= 1; return left == 0 }
            if finished { done() }
        }
    }
}
