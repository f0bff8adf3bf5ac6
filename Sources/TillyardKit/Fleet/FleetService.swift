import Foundation

/// Tag for activation code ids.
public enum ActivationCodeTag {}
/// Id of an activation code.
public typealias ActivationCodeID = Identifier<ActivationCodeTag>

/// A one-time code an operator issued for a terminal; only its hash is stored.
public struct ActivationCode: Codable, Sendable, Equatable {
    public var id: ActivationCodeID
    public var terminalId: TerminalID
    public var codeHash: String
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?

    public init(id: ActivationCodeID, terminalId: TerminalID, codeHash: String, createdBy: String, createdAt: Date, expiresAt: Date, usedAt: Date? = nil) {
        self.id = id
        self.terminalId = terminalId
        self.codeHash = codeHash
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// A terminal's credential: its secret sealed under the installation key (the server must read it
/// back to check signatures, so it is encrypted, not hashed), bound to the terminal id.
public struct TerminalCredential: Sendable, Equatable {
    public var terminalId: TerminalID
    /// Short public name of the secret, so logs and the terminal can tell generations apart.
    public var keyId: String
    public var sealedSecret: [UInt8]
    public var createdAt: Date
    public var revokedAt: Date?

    public init(terminalId: TerminalID, keyId: String, sealedSecret: [UInt8], createdAt: Date, revokedAt: Date? = nil) {
        self.terminalId = terminalId
        self.keyId = keyId
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A refused terminal request or activation, kept for the security team.
public struct SecurityEvent: Codable, Sendable, Equatable {
    public var id: String
    /// The terminal the request named (as sent; it may not exist).
    public var terminalRef: String
    public var reason: String
    /// Where the request came from (remote address).
    public var origin: String
    public var path: String
    public var at: Date
    /// Identical refusals after this one in its window (`RefusalThrottle`): the row stands for 1 + repeats.
    public var repeats: Int

    public init(id: String, terminalRef: String, reason: String, origin: String, path: String, at: Date, repeats: Int = 0) {
        self.id = id
        self.terminalRef = terminalRef
        self.reason = reason
        self.origin = origin
        self.path = path
        self.at = at
        self.repeats = repeats
    }
}

/// Storage of the terminal protocol's credentials.
public protocol FleetRepository: Sendable {
    func insert(_ code: ActivationCode) async throws
    func activationCode(hash: String) async throws -> ActivationCode?
    /// Marks a code used if nobody used it yet; false when it was (two terminals racing one code).
    func useActivationCode(_ id: ActivationCodeID, at: Date) async throws -> Bool
    /// The terminal's current (unrevoked) credential.
    func credential(of terminal: TerminalID) async throws -> TerminalCredential?
    /// Revokes the terminal's current credential (if any) and stores the new one.
    func replaceCredential(with credential: TerminalCredential) async throws
    /// Records a refusal under the terminal owner's path ("/" when no terminal was identified).
    func record(_ event: SecurityEvent, orgPath: String) async throws
    /// Adds to the `repeats` of recorded events (by id).
    func addRepeats(_ counts: [String: Int]) async throws
    /// Upserts the latest status of each terminal (one batch).
    func saveStatuses(_ statuses: [TerminalStatus]) async throws
    /// Appends history samples (a sample already stored is skipped).
    func appendSamples(_ samples: [TerminalStatus]) async throws
    func status(of terminal: TerminalID) async throws -> TerminalStatus?
    /// A terminal's sampled history, newest first.
    func samples(of terminal: TerminalID, limit: Int) async throws -> [TerminalStatus]
    /// Security events in a subtree, newest first, optionally of one terminal; with
    /// `unattributed`, also those no terminal could be named for.
    func securityEvents(under path: String, unattributed: Bool, terminalRef: String?, limit: Int) async throws -> [SecurityEvent]
}

/// What a terminal receives on activation: its identity and its secret (shown this once).
public struct ActivationResult: Codable, Sendable, Equatable {
    public var terminalId: TerminalID
    public var sn: String
    public var tid: String
    public var keyId: String
    /// 32 bytes, lowercase hex: the terminal keeps it in its secure storage.
    public var secret: String
    public var serverTime: Date
}

/// A terminal whose request passed every check, with what the server knows of it.
public struct AuthenticatedTerminal: Sendable, Equatable {
    public var context: TerminalContext
    public var terminal: Terminal { context.terminal }
    public var keyId: String { context.credential?.keyId ?? "" }

    /// For in-process callers only (demo data): what a request that passed `authenticate` carries.
    /// Over the wire there is no way to one but `FleetService.authenticate`.
    public init(context: TerminalContext) {
        self.context = context
    }
}

/// The terminal protocol: activation codes issued by operators, activation (一机一密), and the
/// check of every signed request. Refusals are recorded as security events.
public struct FleetService: Sendable {
    public let store: any Persistence
    public let clock: Clock
    let cipher: InstallationCipher
    public let nonces: NonceWindow
    public let window: TimeInterval
    /// Latest heartbeats in memory, written out in batches.
    public let hub: HeartbeatHub
    /// How often terminals are asked to send a heartbeat, seconds.
    public let heartbeatInterval: Int
    /// A terminal silent for longer than this is offline (three missed heartbeats by default).
    public let onlineThreshold: TimeInterval
    /// At most one periodic batch write at a time, and not more often than `flushEvery`.
    let flushes: FlushGate
    /// One batch write at a time, periodic or asked for: a caller waits for a write in flight, so the
    /// heartbeats recorded before its call are stored when it returns.
    let writing = AsyncGate()
    public let flushEvery: TimeInterval
    /// Each terminal's context in memory: the protocol's reads happen once per terminal per `ttl`.
    public let directory: TerminalDirectory
    /// Recent positions per terminal, for relocation checks.
    public let locations: LocationMemory
    /// What to offer a terminal to install (set by the update campaigns).
    public let updates: UpdateOfferSource
    /// The risk rules run on every upload, inside its transaction.
    public let risk: RiskScreen
    /// Where enforced risk alerts are announced (set by the composition root).
    public let riskNotifier: RiskNotifierSlot
    /// The scheduled risk sweep, started off the request path after uploads (set by the composition root).
    public let riskSchedule: RiskSchedule
    /// Identical refusals in a window become one security event with a count.
    public let refusals: RefusalThrottle

    /// `secret` is the installation key (terminal secrets are sealed under a key derived from it).
    public init(store: any Persistence, secret: Data, clock: Clock = .system, window: TimeInterval = TerminalSigning.defaultWindow,
                heartbeatInterval: Int = 300, flushEvery: TimeInterval = 2, directory: TerminalDirectory = TerminalDirectory()) {
        self.store = store
        self.hub = HeartbeatHub()
        self.heartbeatInterval = heartbeatInterval
        self.onlineThreshold = TimeInterval(heartbeatInterval * 3)
        self.flushes = FlushGate()
        self.flushEvery = flushEvery
        self.directory = directory
        self.locations = LocationMemory()
        self.updates = UpdateOfferSource()
        self.risk = RiskScreen(secret: secret)
        self.riskNotifier = RiskNotifierSlot()
        self.riskSchedule = RiskSchedule()
        self.refusals = RefusalThrottle()
        self.clock = clock
        self.cipher = InstallationCipher(secret: secret, purpose: "terminal secrets")
        self.nonces = NonceWindow(window: window)
        self.window = window
    }

    /// States in which a terminal is at a merchant and may be activated.
    public static let activatable: Set<TerminalState> = [.bound, .installed, .inService]

    /// Issues a one-time activation code for a bound terminal (shown once; only its hash is kept).
    public func issueActivationCode(for id: TerminalID, validFor lifetime: TimeInterval = 24 * 3600,
                                    by principal: Principal) async throws -> (code: String, record: ActivationCode) {
        try principal.require(.estateInstall)
        let now = clock.now()
        let code = ActivationCodes.generate()
        let record = try await store.write { repos in
            let (terminal, owner, _) = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            guard Self.activatable.contains(terminal.state) else {
                throw DomainError.conflict("terminal \(terminal.sn) is \(terminal.state.rawValue); only a terminal bound to a merchant is activated")
            }
            let record = ActivationCode(id: .generate(now: now), terminalId: id, codeHash: ActivationCodes.hash(code), createdBy: principal.user.username,
                                        createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
            try await repos.fleet.insert(record)
            _ = try await repos.audit.append(
                AuditDraft(orgId: owner.id, actor: principal.actor, action: "terminal.activation_code", resourceType: "terminal",
                           resourceId: id.rawValue, origin: principal.origin,
                           summary: ["sn": terminal.sn, "expires": ISO8601DateFormatter().string(from: record.expiresAt)]),
                orgPath: owner.path, at: now)
            return record
        }
        return (code, record)
    }

    /// A terminal presents its SN and an activation code and receives its credential. A wrong,
    /// expired or used code gets one answer (nothing tells a guesser which), and is recorded.
    /// Re-activation replaces (revokes) the terminal's previous credential.
    public func activate(sn: String, code: String, origin: String) async throws -> ActivationResult {
        let now = clock.now()
        let refused = DomainError.unauthenticated("the activation code is wrong, expired or already used; ask for a new one")
        var generator = SystemRandomNumberGenerator()
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = Hex.string(secretBytes)
        let keyId = Secrets.randomHex(bytes: 4)
        let cipher = self.cipher
        let result: (ActivationResult?, String?) = try await store.write { repos in
            let found = try await repos.terminals.find(sn: sn.trimmingCharacters(in: .whitespaces).uppercased())
            let ownerPath = try await found.asyncMap { try await repos.orgs.find($0.orgId)?.path } ?? nil
            guard let terminal = found,
                  let record = try await repos.fleet.activationCode(hash: ActivationCodes.hash(code)),
                  record.terminalId == terminal.id, record.usedAt == nil, record.expiresAt > now,
                  Self.activatable.contains(terminal.state),
                  try await repos.fleet.useActivationCode(record.id, at: now) else {
                return (nil, ownerPath)
            }
            let sealed = try cipher.seal(secretBytes, boundTo: terminal.id.rawValue)
            try await repos.fleet.replaceCredential(with: TerminalCredential(terminalId: terminal.id, keyId: keyId, sealedSecret: sealed, createdAt: now))
            if let owner = try await repos.orgs.find(terminal.orgId) {
                _ = try await repos.audit.append(
                    AuditDraft(orgId: owner.id, actor: AuditActor(kind: .terminal, id: terminal.id.rawValue, name: terminal.sn),
                               action: "terminal.activate", resourceType: "terminal", resourceId: terminal.id.rawValue, origin: origin,
                               summary: ["sn": terminal.sn, "keyId": keyId]),
                    orgPath: owner.path, at: now)
            }
            return (ActivationResult(terminalId: terminal.id, sn: terminal.sn, tid: terminal.tid, keyId: keyId, secret: secret, serverTime: now), ownerPath)
        }
        guard let activated = result.0 else {
            try await recordRefusal(terminalRef: sn, reason: "activation_refused", origin: origin, path: "/terminal/v1/activate", orgPath: result.1, at: now)
            throw refused
        }
        // The old credential is revoked: no request may pass with it from this node's memory.
        directory.invalidate(activated.terminalId)
        return activated
    }

    /// Checks a signed request: headers, time, nonce, the terminal's credential and state, the
    /// signature. Every refusal is recorded and thrown as a `SignatureFailure`.
    public func authenticate(_ headers: SignedRequestHeaders, method: String, path: String, body: Data, origin: String) async throws -> AuthenticatedTerminal {
        let now = clock.now()
        // The terminal the request names, looked up first so every refusal is filed under its owner.
        let named = headers.terminalId.flatMap { $0.isEmpty ? nil : TerminalID(rawValue: $0) }
        let context = try await named.asyncMap { try await self.context(of: $0, now: now) } ?? nil
        do {
            let (context, nonce) = try signed(headers, by: context, method: method, path: path, body: body, at: now)
            // After the signature, so a forger cannot burn a terminal's nonces.
            guard nonces.use(nonce, terminal: context.terminal.id.rawValue, at: now) else { throw SignatureFailure.replayedNonce }
            guard Self.activatable.contains(context.terminal.state) else { throw SignatureFailure.terminalRetired }
            return AuthenticatedTerminal(context: context)
        } catch let failure as SignatureFailure {
            try await recordRefusal(terminalRef: headers.terminalId ?? "", reason: failure.rawValue, origin: origin, path: path,
                                    orgPath: context?.ownerPath, at: now)
            throw failure
        }
    }

    /// The checks of a signed request that consume nothing: headers and time, a known terminal with a
    /// live credential, the signature. Returns the terminal's context and the request's nonce (still
    /// unused); throws the first `SignatureFailure`.
    private func signed(_ headers: SignedRequestHeaders, by context: TerminalContext?, method: String, path: String, body: Data,
                        at now: Date) throws -> (TerminalContext, nonce: String) {
        let (_, timestamp, nonce, signature) = try TerminalSigning.precheck(headers, now: now, window: window)
        guard let context else { throw SignatureFailure.unknownTerminal }
        guard context.credential != nil, let signer = context.signer else { throw SignatureFailure.credentialRevoked }
        guard signer.matches(signature, method: method, path: path, timestamp: timestamp, nonce: nonce, body: body) else {
            throw SignatureFailure.badSignature
        }
        return (context, nonce)
    }

    /// A terminal's context: from memory when fresh, else read in one transaction (nil when no such terminal).
    public func context(of id: TerminalID, now: Date) async throws -> TerminalContext? {
        if let cached = directory.context(of: id, now: now) { return cached }
        if directory.isKnownAbsent(id, now: now) { return nil }
        let generation = directory.currentGeneration
        let cipher = self.cipher
        let loaded = try await store.read { repos -> TerminalContext? in
            guard let terminal = try await repos.terminals.find(id), let owner = try await repos.orgs.find(terminal.orgId) else { return nil }
            let credential = try await repos.fleet.credential(of: id)
            let commands = try await repos.fleetOps.pendingCommands(of: id).map { PendingCommand(id: $0.id, kind: $0.kind, reason: $0.reason) }
            let business = try await terminal.merchantId.asyncMap { try await repos.merchants.find($0)?.businessType } ?? nil
            return TerminalContext(
                terminal: terminal, ownerPath: owner.path, credential: credential,
                signer: credential.flatMap { cipher.open($0.sealedSecret, boundTo: id.rawValue) }.map(TerminalSigner.init(secret:)),
                lock: try await repos.fleetOps.lock(of: id), commands: commands,
                parameters: ParameterRules.effective(try await Self.layers(of: terminal, owner: owner, repos: repos)),
                business: business ?? .fixed,
                policy: try await repos.fleetOps.relocationPolicy(of: owner.rootId) ?? RelocationPolicy(),
                alertOpen: try await repos.fleetOps.openAlert(of: id) != nil)
        }
        if let loaded {
            directory.store(loaded, loadedAt: now, generation: generation)
        } else {
            directory.storeAbsent(id, loadedAt: now, generation: generation)
        }
        return loaded
    }

    /// The templates that apply to a terminal, as layers: the acquirer's defaults, its model's, each
    /// organisation on its owner's path (top-down), its merchant's and its own.
    static func layers(of terminal: Terminal, owner: Organization, repos: any Repositories) async throws -> [ParameterLayer] {
        let path = owner.path.split(separator: "/").map(String.init)
        var targets: [(ParameterLevel, String)] = [(.defaults, owner.rootId.rawValue), (.model, terminal.modelId.rawValue), (.terminal, terminal.id.rawValue)]
        targets += path.map { (.region, $0) }
        if let merchant = terminal.merchantId { targets.append((.merchant, merchant.rawValue)) }
        return try await repos.fleetOps.templates(for: targets).map { template in
            template.layer(depth: template.level == .region ? path.firstIndex(of: template.target) ?? 0 : 0)
        }
    }

    /// Takes a terminal's heartbeat into memory (no database write on this path) and answers with
    /// the server's time and when to beat again. A batch write follows when one is due.
    public func heartbeat(_ heartbeat: Heartbeat, from caller: AuthenticatedTerminal) async throws -> HeartbeatReply {
        try heartbeat.validate()
        let now = clock.now()
        var context = caller.context
        record(heartbeat, of: context.terminal.id, at: now)
        if let recent = rememberLocation(heartbeat, context: context), let placement = context.terminal.placement,
           let finding = RelocationRules.check(recent, placement: placement, business: context.business, policy: context.policy) {
            // Rare: the one heartbeat that finds a move writes the alert (and the block) before it answers.
            try await raiseRelocationAlert(finding, context: context, at: now)
            context = try await self.context(of: context.terminal.id, now: now) ?? context
        }
        return reply(to: heartbeat, context: context, at: now)
    }

    /// A heartbeat decided from memory alone, without waiting on anything: for the terminal gateway,
    /// which answers on the connection's own thread. Nil when that is not possible (the terminal's
    /// context is not in memory, any check fails, or the position would raise a relocation alert);
    /// nothing is consumed then (not the nonce, not the position), so `authenticate` and
    /// `heartbeat` decide the same request in full, recording a refusal as they do.
    public func quickHeartbeat(_ heartbeat: Heartbeat, headers: SignedRequestHeaders, method: String, path: String, body: Data) -> HeartbeatReply? {
        let now = clock.now()
        guard let named = headers.terminalId, !named.isEmpty, let cached = directory.context(of: TerminalID(rawValue: named), now: now),
              let (context, nonce) = try? signed(headers, by: cached, method: method, path: path, body: body, at: now),
              Self.activatable.contains(context.terminal.state), (try? heartbeat.validate()) != nil
        else { return nil }
        if let location = heartbeat.location, let placement = context.terminal.placement, !context.alertOpen {
            let recent = locations.peek(adding: location, terminal: context.terminal.id, keep: Self.kept(context.policy))
            guard RelocationRules.check(recent, placement: placement, business: context.business, policy: context.policy) == nil else { return nil }
        }
        guard nonces.use(nonce, terminal: context.terminal.id.rawValue, at: now) else { return nil }
        record(heartbeat, of: context.terminal.id, at: now)
        _ = rememberLocation(heartbeat, context: context)
        return reply(to: heartbeat, context: context, at: now)
    }

    /// The heartbeat into the hub; a batch write when one is due, off the terminal's answer.
    private func record(_ heartbeat: Heartbeat, of terminal: TerminalID, at now: Date) {
        hub.record(TerminalStatus(terminalId: terminal, lastSeenAt: now, heartbeat: heartbeat))
        if flushes.claim(at: now, every: flushEvery) {
            let service = self
            Task {
                defer { service.flushes.release() }
                _ = try? await service.flushHeartbeats()
            }
        }
    }

    /// Positions kept per terminal for its relocation policy.
    private static func kept(_ policy: RelocationPolicy) -> Int { min(max(policy.confirmations, 1), LocationMemory.maxConfirmations) }

    /// Adds the heartbeat's position to the terminal's recent ones when a relocation check applies
    /// (a placement to compare with, no alert open); the recent positions, or nil.
    private func rememberLocation(_ heartbeat: Heartbeat, context: TerminalContext) -> [LocationReport]? {
        guard let location = heartbeat.location, context.terminal.placement != nil, !context.alertOpen else { return nil }
        return locations.add(location, terminal: context.terminal.id, keep: Self.kept(context.policy))
    }

    /// The answer to a heartbeat: time, interval, parameter version, lock, commands, an update offer.
    private func reply(to heartbeat: Heartbeat, context: TerminalContext, at now: Date) -> HeartbeatReply {
        HeartbeatReply(serverTime: now, nextHeartbeatSeconds: heartbeatInterval, parametersVersion: context.parameters.version,
                       locked: context.lock != nil, commands: context.commands,
                       update: context.lock == nil ? updates.offer(terminal: context.terminal, ownerPath: context.ownerPath, heartbeat: heartbeat, now: now) : nil)
    }

    /// Writes what the hub holds since the last write in one transaction; on failure it is put back
    /// for the next try. Returns how many terminals were written.
    @discardableResult
    public func flushHeartbeats() async throws -> Int {
        // Without the gate, a call made while the periodic flush was writing found the hub drained and
        // returned at once, before that write committed (a dashboard read then missed the heartbeat).
        try await writing.run {
            try await flushRefusals(at: clock.now())
            let drained = hub.drain()
            guard !drained.statuses.isEmpty || !drained.samples.isEmpty else { return 0 }
            do {
                try await store.write { repos in
                    try await repos.fleet.saveStatuses(drained.statuses)
                    try await repos.fleet.appendSamples(drained.samples)
                }
            } catch {
                hub.restore(drained)
                throw error
            }
            return drained.statuses.count
        }
    }

    /// A terminal's latest status (memory first, then storage) and whether it is online.
    public func status(of id: TerminalID, by principal: Principal) async throws -> (status: TerminalStatus?, online: Bool) {
        try principal.require(.estateRead)
        let stored: TerminalStatus? = try await store.read { repos in
            _ = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            return try await repos.fleet.status(of: id)
        }
        let latest = [hub.status(of: id), stored].compactMap { $0 }.max { $0.lastSeenAt < $1.lastSeenAt }
        return (latest, latest?.isOnline(at: clock.now(), threshold: onlineThreshold) ?? false)
    }

    /// Security events for the security team (permission `audit.read`), newest first: those of the
    /// terminals in the caller's subtree, and, for people at the top of a tree, those that named no
    /// known terminal (a forger's guesses belong to nobody's branch).
    public func securityEvents(terminalRef: String?, limit: Int = 100, by principal: Principal) async throws -> [SecurityEvent] {
        try principal.require(.auditRead)
        let topLevel = principal.orgPath.split(separator: "/").count == 1
        return try await store.read {
            try await $0.fleet.securityEvents(under: principal.orgPath, unattributed: topLevel, terminalRef: terminalRef, limit: min(max(limit, 1), 500))
        }
    }

    /// Records a refusal: the first of its kind in a window as a row, the identical ones after it
    /// as a count on that row (written when the window closes), so a flood of bad requests cannot
    /// turn into a flood of writes. A refusal naming no known terminal is grouped by origin alone:
    /// its terminal id is the sender's choice.
    private func recordRefusal(terminalRef: String, reason: String, origin: String, path: String, orgPath: String?, at now: Date) async throws {
        let event = SecurityEvent(id: UUIDv7.make(now: now), terminalRef: String(terminalRef.prefix(64)), reason: reason, origin: origin,
                                  path: String(path.prefix(200)), at: now)
        let key = RefusalThrottle.Key(terminal: orgPath == nil ? "" : event.terminalRef, reason: reason, origin: origin)
        let (write, closed) = refusals.admit(key, eventId: event.id, at: now)
        guard write || !closed.isEmpty else { return }
        try await store.write { repos in
            if write { try await repos.fleet.record(event, orgPath: orgPath ?? "/") }
            if !closed.isEmpty { try await repos.fleet.addRepeats(closed) }
        }
    }

    /// Writes the counts of refusal windows that have closed (also called by the heartbeat flush,
    /// so a burst's count lands even when no refusal follows it).
    public func flushRefusals(at now: Date) async throws {
        let closed = refusals.closed(at: now)
        guard !closed.isEmpty else { return }
        try await store.write { try await $0.fleet.addRepeats(closed) }
    }
}

/// Lets one caller at a time run a periodic job, not more often than asked.
final class FlushGate: @unchecked Sendable {
    private let lock = NSLock()
    private var running = false
    private var last = Date.distantPast

    /// True when the caller should run the job now (and must `release()` after).
    func claim(at now: Date, every interval: TimeInterval) -> Bool {
        lock.withLock {
            guard !running, now.timeIntervalSince(last) >= interval else { return false }
            running = true
            last = now
            return true
        }
    }

    func release() { lock.withLock { running = false } }
}
