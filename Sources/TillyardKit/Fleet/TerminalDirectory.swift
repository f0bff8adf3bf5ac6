import Foundation

/// What the terminal protocol needs of one terminal on every request: its dossier, owner, live
/// credential (with the secret opened once), lock, pending commands, effective parameters and the
/// relocation policy that applies to it. Read in one transaction and kept in `TerminalDirectory`,
/// so a heartbeat costs no database read.
public struct TerminalContext: Sendable, Equatable {
    public var terminal: Terminal
    public var ownerPath: String
    public var credential: TerminalCredential?
    /// The credential's secret, opened from its sealed form and ready to verify (memory only, never logged).
    var signer: TerminalSigner?
    public var lock: TerminalLock?
    public var commands: [PendingCommand]
    public var parameters: EffectiveParameters
    /// The merchant's kind of business (fixed premises when unknown: the tighter tolerance).
    public var business: BusinessType
    public var policy: RelocationPolicy
    /// True while the terminal has an open relocation alert (no second one is raised).
    public var alertOpen: Bool
}

/// Terminal contexts in memory. An entry lives `ttl` (longer than the heartbeat interval, so a
/// terminal beating every five minutes keeps hitting it) and is dropped at once when this node
/// changes what it holds (a lock, a command, a template, a new credential). Changes made on another
/// node reach this one within `ttl`; the nonce window already asks for sticky routing by terminal.
public final class TerminalDirectory: @unchecked Sendable {
    private struct Entry {
        var context: TerminalContext
        var loadedAt: Date
    }

    private let lock = NSLock()
    private var entries: [TerminalID: Entry] = [:]
    /// Ids found in no terminal, and when: a sender repeating a made-up id costs one read per
    /// `absentTTL`, not one per request.
    private var absent: [TerminalID: Date] = [:]
    public let absentTTL: TimeInterval = 60
    /// Bumped by every invalidation: a load that started before one does not store what it read.
    private var generation = 0
    public let ttl: TimeInterval
    /// Beyond this many entries the directory starts over (a bound on memory; a refill is one read
    /// per terminal, spread over a heartbeat interval).
    public let capacity: Int

    public init(ttl: TimeInterval = 900, capacity: Int = 2_000_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    /// The cached context, if fresh.
    public func context(of id: TerminalID, now: Date) -> TerminalContext? {
        lock.withLock {
            guard let entry = entries[id], now.timeIntervalSince(entry.loadedAt) < ttl else { return nil }
            return entry.context
        }
    }

    /// Whether `id` was looked up lately and is no terminal.
    public func isKnownAbsent(_ id: TerminalID, now: Date) -> Bool {
        lock.withLock { absent[id].map { now.timeIntervalSince($0) < absentTTL } ?? false }
    }

    /// Remembers that no terminal has `id` (unless something was invalidated since the read began).
    public func storeAbsent(_ id: TerminalID, loadedAt: Date, generation loadGeneration: Int) {
        lock.withLock {
            guard loadGeneration == generation else { return }
            if absent.count >= capacity / 20 { absent.removeAll(keepingCapacity: true) }
            absent[id] = loadedAt
        }
    }

    /// The generation to pass to `store` for a load starting now.
    public var currentGeneration: Int { lock.withLock { generation } }

    /// Keeps a context read from storage, unless something was invalidated since the read began.
    public func store(_ context: TerminalContext, loadedAt: Date, generation loadGeneration: Int) {
        lock.withLock {
            guard loadGeneration == generation else { return }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[context.terminal.id] = Entry(context: context, loadedAt: loadedAt)
        }
    }

    /// Forgets one terminal (after a change to it on this node).
    public func invalidate(_ id: TerminalID) {
        lock.withLock {
            generation += 1
            entries[id] = nil
            absent[id] = nil
        }
    }

    /// Forgets every terminal (after a change that reaches many: a template, a policy).
    public func invalidateAll() {
        lock.withLock {
            generation += 1
            entries.removeAll(keepingCapacity: true)
            absent.removeAll(keepingCapacity: true)
        }
    }
}

/// The last few positions each terminal reported, oldest first: what a relocation check compares
/// (one stray fix is not a move, so the policy asks for several in a row).
public final class LocationMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [TerminalID: [LocationReport]] = [:]
    /// The most any policy may ask for.
    public static let maxConfirmations = 10

    public init() {}

    /// Adds a report and returns the terminal's recent reports, oldest first.
    public func add(_ report: LocationReport, terminal: TerminalID, keep: Int) -> [LocationReport] {
        lock.withLock {
            let recent = Self.appending(report, to: reports[terminal], keep: keep)
            reports[terminal] = recent
            return recent
        }
    }

    /// What `add` would return, without keeping the report.
    public func peek(adding report: LocationReport, terminal: TerminalID, keep: Int) -> [LocationReport] {
        lock.withLock { Self.appending(report, to: reports[terminal], keep: keep) }
    }

    private static func appending(_ report: LocationReport, to reports: [LocationReport]?, keep: Int) -> [LocationReport] {
        var recent = reports ?? []
        recent.append(report)
        if recent.count > keep { recent.removeFirst(recent.count - keep) }
        return recent
    }

    /// Starts a terminal's count afresh (after an alert is raised or cleared).
    public func forget(_ terminal: TerminalID) {
        lock.withLock { reports[terminal] = nil }
    }
}

/// Where the heartbeat asks which software to offer a terminal. The update campaigns set the
/// provider at start; it answers from memory (the heartbeat path must stay free of reads).
public final class UpdateOfferSource: @unchecked Sendable {
    /// Answers with the offer for a terminal (its dossier, owner path, latest heartbeat, now).
    public typealias Provider = @Sendable (Terminal, String, Heartbeat, Date) -> UpdateOffer?
    private let lock = NSLock()
    private var provider: Provider?

    public init() {}

    /// Installs the provider (once at start; a later call replaces it).
    public func set(_ provider: @escaping Provider) {
        lock.withLock { self.provider = provider }
    }

    func offer(terminal: Terminal, ownerPath: String, heartbeat: Heartbeat, now: Date) -> UpdateOffer? {
        let provider = lock.withLock { self.provider }
        return provider?(terminal, ownerPath, heartbeat, now)
    }
}

/// A locked terminal tried to record transactions made after its lock: nothing of the batch is
/// stored; the terminal keeps them queued until it is unlocked.
public struct TerminalLockedError: Error, Sendable, Equatable {
    public var cause: LockCause
    public var since: Date
    public var reason: String?

    public init(cause: LockCause, since: Date, reason: String?) {
        self.cause = cause
        self.since = since
        self.reason = reason
    }
}
