import Crypto
import Foundation
import TillyardKit

/// The reference terminal: activation, signed requests, heartbeats and the work their replies
/// carry (parameters, commands, updates), payments recorded to the offline queue and uploaded
/// exactly once. Its state lives in one folder (`AgentDirectory`), so a process can stop at any
/// point and the next one carries on.
public actor TerminalAgent {
    /// Where the state lives.
    public nonisolated let directory: AgentDirectory
    /// Who the terminal is (from activation).
    public nonisolated let credential: AgentCredential
    /// Versions, readings, parameters and lock, as last kept on disk.
    public private(set) var device: DeviceState
    private let signer: RequestSigner
    private let transport: any AgentTransport
    private let queue: TransactionQueue
    private let clock: @Sendable () -> Date

    /// At most this many transactions per upload (the server's limit).
    public static let uploadBatch = 500

    private init(directory: AgentDirectory, credential: AgentCredential, device: DeviceState, transport: any AgentTransport,
                 queue: TransactionQueue, clock: @escaping @Sendable () -> Date) throws {
        self.directory = directory
        self.credential = credential
        self.device = device
        self.signer = try RequestSigner(credential)
        self.transport = transport
        self.queue = queue
        self.clock = clock
    }

    // MARK: - Activation and opening

    /// Activates the terminal `sn` with an operator's one-time `code` and keeps the credential in
    /// `directory` (0600). A folder that already belongs to another terminal is refused; the same
    /// terminal may activate again (a new secret replaces the old, its queue is kept).
    public static func activate(server: URL, sn: String, code: String, directory: AgentDirectory, transport: (any AgentTransport)? = nil,
                                clock: @escaping @Sendable () -> Date = { Date() }) async throws -> TerminalAgent {
        let sn = sn.trimmingCharacters(in: .whitespaces)
        guard !sn.isEmpty else { throw AgentError.invalidInput("--sn must not be empty") }
        guard ActivationCodes.normalised(code).count == 12 else {
            throw AgentError.invalidInput("the activation code has 12 digits (e.g. 1234-5678-9012); '\(code)' does not")
        }
        if let existing = try? directory.readCredential(), existing.sn.uppercased() != sn.uppercased() {
            throw AgentError.invalidInput("\(directory.url.path) already holds terminal \(existing.sn); use another --state folder")
        }
        try directory.create()
        let transport = try transport ?? URLSessionTransport(server: server)
        let body = try JSONSerialization.data(withJSONObject: ["sn": sn, "code": code])
        let response = try await transport.send(AgentRequest(method: "POST", path: "/terminal/v1/activate",
                                                             headers: ["Content-Type": "application/json"], body: body))
        guard response.status == 200 else { throw AgentError.from(response) }
        let result: ActivationResult
        do {
            result = try WireJSON.decoder().decode(ActivationResult.self, from: response.body)
        } catch {
            throw AgentError.server(status: response.status, detail: "not an activation result: \(response.text.prefix(200))")
        }
        let credential = AgentCredential(server: server.absoluteString, terminalId: result.terminalId.rawValue, sn: result.sn, tid: result.tid,
                                         keyId: result.keyId, secret: result.secret, activatedAt: result.serverTime)
        try directory.writeCredential(credential)
        var device = try directory.readDevice()
        device.clockOffset = result.serverTime.timeIntervalSince(clock())
        try directory.writeDevice(device)
        return try await open(directory: directory, transport: transport, clock: clock)
    }

    /// Opens an activated state folder. Without a transport, URLSession to the server it was activated against.
    public static func open(directory: AgentDirectory, transport: (any AgentTransport)? = nil,
                            clock: @escaping @Sendable () -> Date = { Date() }) async throws -> TerminalAgent {
        let credential = try directory.readCredential()
        let device = try directory.readDevice()
        let transport = try transport ?? URLSessionTransport(server: URL(string: credential.server) ?? directory.url)
        let queue: TransactionQueue
        do {
            queue = try await TransactionQueue.open(path: directory.queuePath)
        } catch {
            throw AgentError.badState("cannot open the transaction queue \(directory.queuePath): \(error)")
        }
        do {
            return try TerminalAgent(directory: directory, credential: credential, device: device, transport: transport, queue: queue, clock: clock)
        } catch {
            await queue.close()
            throw error
        }
    }

    /// Closes the queue file.
    public func close() async {
        await queue.close()
    }

    /// Changes the readings the terminal reports (battery, paper, signal, location) and keeps them.
    public func update(_ change: (inout DeviceState) -> Void) throws {
        change(&device)
        try directory.writeDevice(device)
    }

    // MARK: - Signed requests

    /// The server's clock as the terminal best knows it.
    private func serverNow() -> Date { clock().addingTimeInterval(device.clockOffset) }

    /// Sends a signed request. A `clock_skew` refusal resets the clock offset from the answer's
    /// `Date` header and tries once more, with a new nonce.
    private func signed(_ method: String, _ path: String, body: Data = Data()) async throws -> AgentResponse {
        let response = try await transport.send(signer.request(method, path, body: body, timestamp: Int64(serverNow().timeIntervalSince1970)))
        guard response.status == 401, case .refused(reason: SignatureFailure.clockSkew.rawValue?, _) = AgentError.from(response),
              let header = response.headers["date"], let serverDate = Self.httpDate(header) else {
            return response
        }
        device.clockOffset = serverDate.timeIntervalSince(clock())
        try? directory.writeDevice(device)
        return try await transport.send(signer.request(method, path, body: body, timestamp: Int64(serverNow().timeIntervalSince1970)))
    }

    /// A signed request that must succeed; returns its body.
    private func call(_ method: String, _ path: String, body: Data = Data()) async throws -> Data {
        let response = try await signed(method, path, body: body)
        guard (200..<300).contains(response.status) else { throw AgentError.from(response) }
        return response.body
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data, what: String) throws -> T {
        do {
            return try WireJSON.decoder().decode(type, from: data)
        } catch {
            throw AgentError.server(status: 200, detail: "not a \(what): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// Checks the credential with a signed `GET /terminal/v1/ping`.
    public func ping() async throws {
        _ = try await call("GET", "/terminal/v1/ping")
    }

    // MARK: - Heartbeat and its work

    /// What the terminal reports now.
    public func currentHeartbeat() -> Heartbeat {
        // A configured fix is reported as taken now (the reference agent stands still).
        var location = device.location
        location?.reportedAt = clock()
        return Heartbeat(appVersion: device.appVersion, firmwareVersion: device.firmwareVersion, battery: device.battery, paper: device.paper,
                  signal: device.signal, location: location,
                  secondsSinceTransaction: device.lastTransactionAt.map { max(0, Int(clock().timeIntervalSince($0))) },
                  parametersVersion: device.parametersVersion)
    }

    /// Sends one heartbeat and returns the reply (nothing of it acted on yet).
    public func heartbeat() async throws -> HeartbeatReply {
        let reply = try decode(HeartbeatReply.self, try await call("POST", "/terminal/v1/heartbeat", body: try WireJSON.encoder().encode(currentHeartbeat())),
                               what: "heartbeat reply")
        device.clockOffset = reply.serverTime.timeIntervalSince(clock())
        try directory.writeDevice(device)
        return reply
    }

    /// What one run of the terminal's loop did.
    public struct CycleReport: Sendable {
        public var reply: HeartbeatReply
        /// The parameter version fetched, when it changed.
        public var parameters: String?
        /// "kind id: outcome" per command handled.
        public var commands: [String] = []
        public var update: String?
        public var upload: UploadSummary?
        /// Steps that failed (each is tried again on the next cycle).
        public var problems: [String] = []
    }

    /// A heartbeat, then what its reply asks: parameters when their version differs, every command
    /// (acknowledged), an offered update, and an upload of the queue unless the terminal is locked.
    /// Only the heartbeat's failure throws; a later step's failure is reported and retried next cycle.
    public func cycle() async throws -> CycleReport {
        let reply = try await heartbeat()
        var report = CycleReport(reply: reply)
        if reply.parametersVersion != device.parametersVersion {
            do { report.parameters = try await fetchParameters() } catch { report.problems.append("parameters: \(error)") }
        }
        var lockedByCommand: Bool?
        for command in reply.commands {
            do {
                report.commands.append(try await handle(command))
                if command.kind == .lock { lockedByCommand = true } else if command.kind == .unlock { lockedByCommand = false }
            } catch {
                report.problems.append("command \(command.kind.rawValue) \(command.id): \(error)")
            }
        }
        // The reply's flag is the server's view (it covers a relocation block that has no command).
        device.locked = reply.locked || lockedByCommand == true
        if !device.locked { device.lockReason = nil }
        try directory.writeDevice(device)
        if let offer = reply.update {
            do { report.update = try await install(offer) } catch { report.problems.append("update \(offer.version): \(error)") }
        }
        if !device.locked {
            do { report.upload = try await upload() } catch { report.problems.append("upload: \(error) (\(try await queued()) kept queued)") }
        }
        return report
    }

    /// The effective parameters as `GET /terminal/v1/parameters` answers them.
    struct ParametersBody: Decodable {
        var version: String
        var values: [String: String]
    }

    /// Fetches and keeps the effective parameters; returns their version.
    public func fetchParameters() async throws -> String {
        let body = try decode(ParametersBody.self, try await call("GET", "/terminal/v1/parameters"), what: "parameter set")
        device.parameters = body.values
        device.parametersVersion = body.version
        try directory.writeDevice(device)
        return body.version
    }

    /// Carries out a command and acknowledges it. Applying one twice is harmless (a crash between
    /// doing it and the acknowledgement brings it back in the next reply).
    func handle(_ command: PendingCommand) async throws -> String {
        let detail: String
        switch command.kind {
        case .lock:
            device.locked = true
            device.lockReason = command.reason
            detail = "locked: payments refused"
        case .unlock:
            device.locked = false
            device.lockReason = nil
            detail = "unlocked"
        case .reboot:
            detail = "restarted (reference agent: nothing to restart)"
        case .uploadLogs:
            detail = "logs collected (reference agent: status only): \(device.appVersion)/\(device.firmwareVersion), queue \(try await queue.count())"
        }
        // Kept before the acknowledgement: once the server hears "done", the terminal is in that state.
        try directory.writeDevice(device)
        let id = command.id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? command.id
        let response = try await signed("POST", "/terminal/v1/commands/\(id)/ack", body: try WireJSON.encoder().encode(CommandAck(outcome: .done, detail: detail)))
        // 404: acknowledged already (an earlier answer was lost); the server holds the outcome.
        guard (200..<300).contains(response.status) || response.status == 404 else { throw AgentError.from(response) }
        return "\(command.kind.rawValue) \(command.id): done"
    }

    /// Downloads an offered package, checks its size and SHA-256, "installs" it (keeps the file,
    /// records the new version) and reports the outcome. A download that gets no good answer is
    /// not reported: the offer comes back with the next heartbeat.
    func install(_ offer: UpdateOffer) async throws -> String {
        let installed = offer.kind == "firmware" ? device.firmwareVersion : device.appVersion
        if installed == offer.version {
            // Installed before, but the report may not have arrived (a crash, a lost answer).
            try await report(offer, InstallReport(packageId: offer.packageId, outcome: .installed, detail: "version \(offer.version) is installed"))
            return "\(offer.kind) \(offer.version) already installed, reported"
        }
        let file = try await call("GET", offer.url)
        let digest = Hex.string(SHA256.hash(data: file))
        guard file.count == offer.size, digest == offer.sha256.lowercased() else {
            let detail = file.count != offer.size ? "size mismatch: expected \(offer.size) bytes, received \(file.count)"
                : "checksum mismatch: expected sha256 \(offer.sha256), received \(digest)"
            device.lastUpdate = "\(offer.packageId) failed: \(detail)"
            try directory.writeDevice(device)
            try await report(offer, InstallReport(packageId: offer.packageId, outcome: .failed, detail: detail))
            return "\(offer.kind) \(offer.version) refused: \(detail)"
        }
        try FileManager.default.createDirectory(at: directory.packagesURL, withIntermediateDirectories: true)
        try AgentDirectory.writeAtomically(file, to: directory.packagesURL.appendingPathComponent("\(offer.packageId).bin"), mode: 0o600)
        if offer.kind == "firmware" { device.firmwareVersion = offer.version } else { device.appVersion = offer.version }
        device.lastUpdate = "\(offer.packageId) installed: \(offer.kind) \(offer.version)"
        try directory.writeDevice(device)
        try await report(offer, InstallReport(packageId: offer.packageId, outcome: .installed, detail: "sha256 \(digest) verified"))
        return "\(offer.kind) \(offer.version) installed"
    }

    private func report(_ offer: UpdateOffer, _ report: InstallReport) async throws {
        _ = try await call("POST", "/terminal/v1/updates/\(offer.campaignId)/result", body: try WireJSON.encoder().encode(report))
    }

    // MARK: - Transactions

    /// Records a payment: checked, given its id, and written to the queue before this returns (the
    /// moment the terminal may print "approved"). Refused while the terminal is locked. Only a
    /// masked PAN is accepted; a full card number never reaches the file.
    public func pay(amount: Int64, approved: Bool = true, maskedPan: String? = nil, tender: TenderKind = .card,
                    kind: TerminalTransactionKind = .sale) async throws -> TerminalTransaction {
        guard !device.locked else { throw AgentError.locked(device.lockReason) }
        guard (1...99_999_999_99).contains(amount) else { throw AgentError.invalidInput("--amount is in fen (minor units) from 1 to 9999999999") }
        var pan: String?
        if let maskedPan {
            do {
                pan = try SaleRules.maskedPan(maskedPan, field: "masked PAN")
            } catch let error as DomainError {
                throw AgentError.invalidInput(error.message)
            }
        } else if tender == .card {
            pan = "622202******" + String(Int.random(in: 1000...9999))
        }
        var generator = SystemRandomNumberGenerator()
        let digits = { (count: Int) in String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) }) }
        let now = clock()
        let transaction = TerminalTransaction(id: UUIDv7.make(now: now), at: now, kind: kind, amount: amount, tender: tender, approved: approved,
                                              responseCode: approved ? "00" : "05", maskedPan: pan, authCode: approved ? digits(6) : nil,
                                              rrn: digits(12))
        try await queue.record(transaction)
        device.lastTransactionAt = now
        try? directory.writeDevice(device)
        return transaction
    }

    /// How many transactions wait in the queue.
    public func queued() async throws -> Int {
        try await queue.count()
    }

    /// What an upload did.
    public struct UploadSummary: Sendable, Equatable {
        public var stored = 0
        public var duplicates = 0
        public var remaining = 0
        /// The server refused the upload because the terminal is locked; the queue is kept.
        public var lockedOut = false

        public init(stored: Int = 0, duplicates: Int = 0, remaining: Int = 0, lockedOut: Bool = false) {
            self.stored = stored
            self.duplicates = duplicates
            self.remaining = remaining
            self.lockedOut = lockedOut
        }
    }

    /// Uploads the queue oldest first, in batches, deleting only what the server answered as
    /// stored or duplicate. No answer (thrown), a refusal or a lock keeps the rest queued.
    public func upload() async throws -> UploadSummary {
        var summary = UploadSummary()
        while true {
            let batch = try await queue.oldest(Self.uploadBatch)
            if batch.isEmpty { break }
            let response = try await signed("POST", "/terminal/v1/transactions", body: try WireJSON.encoder().encode(TransactionUpload(transactions: batch)))
            if case .locked = AgentError.from(response), response.status == 423 || response.status == 401 {
                device.locked = true
                try directory.writeDevice(device)
                summary.lockedOut = true
                break
            }
            guard (200..<300).contains(response.status) else { throw AgentError.from(response) }
            let result = try decode(TransactionUploadResult.self, response.body, what: "upload result")
            let sent = Set(batch.map(\.id))
            let stored = result.stored.filter(sent.contains)
            let duplicates = result.duplicates.filter(sent.contains)
            try await queue.remove(ids: stored + duplicates)
            summary.stored += stored.count
            summary.duplicates += duplicates.count
            guard Set(stored + duplicates) == sent else {
                throw AgentError.server(status: response.status, detail: "the server left \(sent.count - stored.count - duplicates.count) transactions unanswered; they stay queued")
            }
        }
        summary.remaining = try await queue.count()
        return summary
    }
}
