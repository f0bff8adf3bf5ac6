import ArgumentParser
import Foundation
import TillyardAgent
import TillyardKit

/// `tillyard terminal …`: the reference terminal agent (activate, run, pay, status) and the fleet
/// simulator for load.
struct TerminalAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "terminal",
        abstract: "Run a terminal (the reference agent of the terminal protocol), or simulate a fleet.",
        subcommands: [Activate.self, Run.self, Pay.self, Status.self, Simulate.self])

    /// The agent's state folder.
    struct StateOption: ParsableArguments {
        @Option(name: .customLong("state"), help: "The terminal's state folder (credential, parameters, queue.sqlite).")
        var path: String

        func open() async throws -> TerminalAgent {
            try await agentErrors { try await TerminalAgent.open(directory: AgentDirectory(path)) }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activate with the one-time code an operator issued for this SN.")
        @Option(help: "The server, e.g. http://127.0.0.1:8080.") var server: String
        @Option(help: "The terminal's serial number.") var sn: String
        @Option(help: "The 12-digit activation code.") var code: String
        @OptionGroup var state: StateOption

        func run() async throws {
            let url = try serverURL(server)
            let agent = try await agentErrors {
                try await TerminalAgent.activate(server: url, sn: sn, code: code, directory: AgentDirectory(state.path))
            }
            let credential = agent.credential
            print("activated \(credential.sn) (TID \(credential.tid)) as terminal \(credential.terminalId), key \(credential.keyId)")
            print("credential kept in \(AgentDirectory(state.path).credentialURL.path) (mode 0600)")
            await agent.close()
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Heartbeat on an interval and do what the replies ask: parameters, commands, updates, and upload the queue.")
        @OptionGroup var state: StateOption
        @Option(help: "Seconds between heartbeats (default: what the server asks for).") var interval: Double?
        @Flag(help: "One heartbeat cycle, then exit (status 1 when it failed).") var once = false
        @Option(help: "Report this GPS latitude from now on (kept in the state folder; with --longitude).") var latitude: Double?
        @Option(help: "Report this GPS longitude from now on.") var longitude: Double?

        func run() async throws {
            if let interval, interval <= 0 { throw ValidationError("--interval must be more than 0 seconds") }
            if (latitude == nil) != (longitude == nil) { throw ValidationError("give --latitude and --longitude together") }
            if let latitude, let longitude, !(-90...90).contains(latitude) || !(-180...180).contains(longitude) {
                throw ValidationError("--latitude must be within ±90 and --longitude within ±180")
            }
            let agent = try await state.open()
            do {
                if let latitude, let longitude {
                    try await agent.update { $0.location = LocationReport(latitude: latitude, longitude: longitude, source: .gps, accuracy: 15, reportedAt: Date()) }
                }
                repeat {
                    var wait = interval ?? 60
                    do {
                        let report = try await agent.cycle()
                        print(describe(report))
                        wait = interval ?? Double(max(1, report.reply.nextHeartbeatSeconds))
                        if once && !report.problems.isEmpty { throw ExitCode(1) }
                    } catch let error as AgentError {
                        // A refused credential will not heal by waiting; anything else is retried.
                        if once { throw CLIError(message: error.description) }
                        if case .refused = error { throw CLIError(message: error.description) }
                        print("\(Self.stamp()) heartbeat failed: \(error); retrying in \(Int(wait)) s")
                    } catch let error as TransportFailure {
                        if once { throw CLIError(message: error.description) }
                        print("\(Self.stamp()) heartbeat failed: \(error); retrying in \(Int(wait)) s")
                    }
                    if once { break }
                    try await Task.sleep(for: .seconds(wait))
                } while true
            } catch {
                await agent.close()
                throw error
            }
            await agent.close()
        }

        static func stamp() -> String { Date().iso8601 }

        func describe(_ report: TerminalAgent.CycleReport) -> String {
            var parts = ["\(Self.stamp()) heartbeat ok", "parameters \(report.reply.parametersVersion)" + (report.parameters != nil ? " (fetched)" : "")]
            if report.reply.locked { parts.append("LOCKED") }
            parts += report.commands.map { "command \($0)" }
            if let update = report.update { parts.append("update: \(update)") }
            if let upload = report.upload {
                parts.append("uploaded \(upload.stored) (+\(upload.duplicates) already stored), \(upload.remaining) queued"
                             + (upload.lockedOut ? " (refused: locked)" : ""))
            }
            parts += report.problems.map { "FAILED \($0)" }
            return parts.joined(separator: "; ")
        }
    }

    struct Pay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a payment in the offline queue (uploaded by `run`). Refused while the terminal is locked.")
        @OptionGroup var state: StateOption
        @Option(help: "Amount in fen (minor units), e.g. 1250 for ¥12.50.") var amount: Int64
        @Flag(exclusivity: .exclusive, help: "Whether the host approved it (default approved).") var outcome: Outcome = .approved
        @Option(name: .customLong("masked-pan"), help: "The masked card number, e.g. 622202******1234 (never a full one).") var maskedPan: String?
        @Option(help: "card, wechat, alipay, unionpay_qr … (default card).") var tender: String = "card"

        enum Outcome: String, EnumerableFlag { case approved, declined }

        func run() async throws {
            guard let tenderKind = TenderKind(rawValue: tender) else {
                throw ValidationError("--tender must be one of: \(TenderKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let agent = try await state.open()
            do {
                let transaction = try await agentErrors {
                    try await agent.pay(amount: amount, approved: outcome == .approved, maskedPan: maskedPan, tender: tenderKind)
                }
                let queued = try await agent.queued()
                print("\(transaction.approved ? "approved" : "declined") \(transaction.id): \(amount) fen \(transaction.tender.rawValue)"
                      + "\(transaction.maskedPan.map { " \($0)" } ?? ""), queued (\(queued) waiting for upload)")
            } catch {
                await agent.close()
                throw error
            }
            await agent.close()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the terminal's identity, versions, parameters, lock and queue.")
        @OptionGroup var state: StateOption

        func run() async throws {
            let agent = try await state.open()
            let credential = agent.credential
            let device = await agent.device
            let queued = (try? await agent.queued()) ?? -1
            await agent.close()
            print("terminal   \(credential.terminalId)  SN \(credential.sn)  TID \(credential.tid)  key \(credential.keyId)")
            print("server     \(credential.server)")
            print("versions   app \(device.appVersion)  firmware \(device.firmwareVersion)")
            print("readings   battery \(device.battery)%  paper \(device.paper.rawValue)  signal \(device.signal) dBm")
            print("parameters \(device.parametersVersion ?? "none yet")" + (device.parameters.isEmpty ? "" : ": "
                  + device.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
            print("locked     \(device.locked ? "yes" + (device.lockReason.map { " (\($0))" } ?? "") : "no")")
            print("queue      \(queued) transaction(s) waiting for upload")
            if let last = device.lastUpdate { print("last update \(last)") }
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a fleet of terminals in this process and measure heartbeats/s (server on 127.0.0.1 over http).",
            discussion: """
            Input: --codes FILE with one terminal per line, `SN,CODE` (the activation code an operator issued for that \
            bound terminal; an optional `sn,code` header, blank lines and # comments are ignored). The credentials \
            received are written to --credentials FILE (`terminal_id,secret`, mode 0600); when that file exists it is \
            used instead and no codes are needed (codes are single-use).
            """)
        @Option(help: "The server, http://127.0.0.1:PORT.") var server: String
        @Option(help: "SN,CODE lines to activate.") var codes: String?
        @Option(help: "Where the fleet's credentials are kept (read if present, else written after activation).") var credentials: String?
        @Option(help: "How many terminals (default: all in the file).") var count: Int?
        @Option(help: "Heartbeats per second in all; 0 = as fast as the server answers.") var rate: Double = 0
        @Option(help: "Seconds of heartbeats.") var duration: Double = 10
        @Option(help: "Client connections (threads).") var connections: Int = 8

        func run() async throws {
            let url = try serverURL(server)
            guard url.scheme == "http", let host = url.host, ["127.0.0.1", "localhost"].contains(host), let port = url.port,
                  let loopbackPort = UInt16(exactly: port) else {
                throw ValidationError("simulate drives a server on this machine: --server must be http://127.0.0.1:PORT")
            }
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
            guard rate >= 0, duration > 0, (1...256).contains(connections) else {
                throw ValidationError("--rate must be 0 or more, --duration more than 0, --connections from 1 to 256")
            }
            var members: [FleetSimulator.Member]
            if let credentials, FileManager.default.fileExists(atPath: credentials) {
                members = try agentErrors { try FleetSimulator.readCredentials(credentials) }
                print("fleet: \(members.count) terminals from \(credentials)")
            } else {
                guard let codes else { throw ValidationError("give --codes FILE (SN,CODE lines) or an existing --credentials FILE") }
                var pairs = try agentErrors { try FleetSimulator.readCodes(codes) }
                if let count { pairs = Array(pairs.prefix(count)) }
                let started = Date()
                let transport = try agentErrors { try URLSessionTransport(server: url) }
                let (activated, failures) = await FleetSimulator.activate(pairs, transport: transport)
                for failure in failures.prefix(10) { print("activation refused: \(failure)") }
                if failures.count > 10 { print("… and \(failures.count - 10) more refusals") }
                print("fleet: \(activated.count) of \(pairs.count) terminals activated in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
                members = activated
                if let credentials, !activated.isEmpty {
                    try agentErrors { try FleetSimulator.writeCredentials(activated, to: credentials) }
                    print("credentials written to \(credentials) (reuse them with --credentials; the codes are used up)")
                }
            }
            if let count { members = Array(members.prefix(count)) }
            guard !members.isEmpty else { throw CLIError(message: "no terminal to simulate") }
            let outcome = await FleetSimulator.heartbeats(members, port: loopbackPort, connections: connections, rate: rate, duration: duration)
            let target = rate > 0 ? " (target \(Int(rate))/s)" : " (unpaced)"
            print("heartbeats: \(outcome.ok) answered 200 of \(outcome.sent) sent in \(String(format: "%.1f", outcome.seconds)) s = "
                  + "\(Int(outcome.rate.rounded())) heartbeats/s\(target), \(members.count) terminals, \(connections) connections")
            print(String(format: "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", outcome.percentile(50), outcome.percentile(90),
                         outcome.percentile(99), outcome.percentile(100)))
            for (reason, number) in outcome.refused.sorted(by: { $0.key < $1.key }) { print("refused (401 \(reason)): \(number)") }
            for (status, number) in outcome.otherStatus.sorted(by: { $0.key < $1.key }) { print("answered \(status): \(number)") }
            if outcome.failed > 0 { print("no answer: \(outcome.failed) (first: \(outcome.firstFailure ?? "?"))") }
            if outcome.ok == 0 { throw ExitCode(1) }
        }
    }
}

/// The server's base URL, checked.
private func serverURL(_ text: String) throws -> URL {
    guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
        throw ValidationError("--server must be an http:// or https:// URL, e.g. http://127.0.0.1:8080 (got '\(text)')")
    }
    return url
}

/// Runs agent work, turning its errors into plain CLI messages (no stack traces).
private func agentErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as AgentError {
        throw CLIError(message: error.description)
    } catch let error as TransportFailure {
        throw CLIError(message: error.description)
    }
}

private func agentErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AgentError {
        throw CLIError(message: error.description)
    } catch let error as TransportFailure {
        throw CLIError(message: error.description)
    }
}
