import Foundation

/// Paper in the terminal's printer.
public enum PaperStatus: String, Codable, Sendable, CaseIterable {
    case ok, low, out
    /// No printer, or it did not say.
    case unknown
}

/// What a terminal reports in a heartbeat.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var appVersion: String?
    public var firmwareVersion: String?
    /// Percent, 0–100.
    public var battery: Int?
    public var paper: PaperStatus?
    /// Signal strength in dBm (negative; −50 strong, −110 none).
    public var signal: Int?
    public var location: LocationReport?
    /// Seconds since the terminal's last transaction; nil if it never made one.
    public var secondsSinceTransaction: Int?
    /// The parameter version the terminal holds.
    public var parametersVersion: String?

    /// The field names on the wire (public so the API can decode strictly by them).
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case appVersion, firmwareVersion, battery, paper, signal, location, secondsSinceTransaction, parametersVersion
    }

    public init(appVersion: String? = nil, firmwareVersion: String? = nil, battery: Int? = nil, paper: PaperStatus? = nil, signal: Int? = nil,
                location: LocationReport? = nil, secondsSinceTransaction: Int? = nil, parametersVersion: String? = nil) {
        self.appVersion = appVersion
        self.firmwareVersion = firmwareVersion
        self.battery = battery
        self.paper = paper
        self.signal = signal
        self.location = location
        self.secondsSinceTransaction = secondsSinceTransaction
        self.parametersVersion = parametersVersion
    }

    /// Checks the numbers and text sizes (a heartbeat is small; anything else is refused).
    public func validate() throws {
        for (field, text) in [("appVersion", appVersion), ("firmwareVersion", firmwareVersion), ("parametersVersion", parametersVersion)] {
            if let text, text.count > 40 || text.contains(where: { $0.isNewline }) {
                throw DomainError.invalid(field, "at most 40 characters on one line")
            }
        }
        if let battery, !(0...100).contains(battery) { throw DomainError.invalid("battery", "must be a percentage from 0 to 100") }
        if let signal, !(-150...0).contains(signal) { throw DomainError.invalid("signal", "must be dBm from -150 to 0") }
        if let secondsSinceTransaction, secondsSinceTransaction < 0 { throw DomainError.invalid("secondsSinceTransaction", "must not be negative") }
        if let location {
            guard (-90...90).contains(location.latitude), (-180...180).contains(location.longitude) else {
                throw DomainError.invalid("location", "latitude must be within ±90 and longitude within ±180")
            }
            if let accuracy = location.accuracy, !(0...100_000).contains(accuracy) {
                throw DomainError.invalid("location.accuracy", "must be metres from 0 to 100000")
            }
        }
    }
}

/// A terminal's latest state as the fleet sees it.
public struct TerminalStatus: Codable, Sendable, Equatable {
    public var terminalId: TerminalID
    public var lastSeenAt: Date
    public var heartbeat: Heartbeat
    /// When the last transaction was, derived from the heartbeat's age of it.
    public var lastTransactionAt: Date?

    public init(terminalId: TerminalID, lastSeenAt: Date, heartbeat: Heartbeat) {
        self.terminalId = terminalId
        self.lastSeenAt = lastSeenAt
        self.heartbeat = heartbeat
        self.lastTransactionAt = heartbeat.secondsSinceTransaction.map { lastSeenAt.addingTimeInterval(-Double($0)) }
    }

    /// Online when heard from within the threshold.
    public func isOnline(at now: Date, threshold: TimeInterval) -> Bool {
        now.timeIntervalSince(lastSeenAt) <= threshold
    }
}

/// The heartbeat path kept off the database: the latest state of every terminal in memory, written
/// out in batches (`drain`), and a sampled history (one sample per terminal per `sampleEvery`, or
/// sooner when it moved or its versions changed). A heartbeat costs a dictionary write under a lock;
/// a crash loses at most the last flush interval of "last seen" times, which the next heartbeats
/// restore — nothing a person acknowledged lives here.
public final class HeartbeatHub: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: [TerminalID: TerminalStatus] = [:]
    /// The statuses changed since the last drain (taken whole by `drain`, so the lock is held
    /// for a swap, not for a pass over every terminal that beat meanwhile).
    private var dirty: [TerminalID: TerminalStatus] = [:]
    private var lastSample: [TerminalID: TerminalStatus] = [:]
    private var samples: [TerminalStatus] = []
    public let sampleEvery: TimeInterval
    /// Moving further than this since the last sample takes a sample at once, metres.
    public let sampleDistance: Double

    public init(sampleEvery: TimeInterval = 3600, sampleDistance: Double = 200) {
        self.sampleEvery = sampleEvery
        self.sampleDistance = sampleDistance
    }

    /// Takes a heartbeat; returns the terminal's previous status (nil for the first since start).
    @discardableResult
    public func record(_ status: TerminalStatus) -> TerminalStatus? {
        lock.lock(); defer { lock.unlock() }
        let previous = latest.updateValue(status, forKey: status.terminalId)
        dirty[status.terminalId] = status
        if shouldSample(status, after: lastSample[status.terminalId]) {
            lastSample[status.terminalId] = status
            samples.append(status)
        }
        return previous
    }

    /// The latest status held in memory.
    public func status(of terminal: TerminalID) -> TerminalStatus? {
        lock.withLock { latest[terminal] }
    }

    /// Seeds the memory from storage (at start), without marking anything to write back.
    public func load(_ statuses: [TerminalStatus]) {
        lock.withLock {
            for status in statuses where (latest[status.terminalId]?.lastSeenAt ?? .distantPast) < status.lastSeenAt {
                latest[status.terminalId] = status
                lastSample[status.terminalId] = status
            }
        }
    }

    /// Takes what changed since the last drain: the latest statuses to upsert and the samples to append.
    public func drain() -> (statuses: [TerminalStatus], samples: [TerminalStatus]) {
        let (changed, taken) = lock.withLock { () -> ([TerminalID: TerminalStatus], [TerminalStatus]) in
            let changed = dirty, taken = samples
            dirty = Dictionary(minimumCapacity: changed.count)
            samples = []
            samples.reserveCapacity(taken.count)
            return (changed, taken)
        }
        return (Array(changed.values), taken)
    }

    /// Puts back what a failed write took, so the next flush tries again (newer heartbeats win).
    public func restore(_ drained: (statuses: [TerminalStatus], samples: [TerminalStatus])) {
        lock.lock(); defer { lock.unlock() }
        for status in drained.statuses {
            if latest[status.terminalId] == nil { latest[status.terminalId] = status }
            if let newer = latest[status.terminalId], dirty[status.terminalId] == nil { dirty[status.terminalId] = newer }
        }
        samples.insert(contentsOf: drained.samples, at: 0)
    }

    /// How many terminals are held, and how many wait to be written.
    public var counts: (held: Int, dirty: Int) { lock.withLock { (latest.count, dirty.count) } }

    private func shouldSample(_ status: TerminalStatus, after last: TerminalStatus?) -> Bool {
        guard let last else { return true }
        if status.lastSeenAt.timeIntervalSince(last.lastSeenAt) >= sampleEvery { return true }
        if status.heartbeat.appVersion != last.heartbeat.appVersion || status.heartbeat.firmwareVersion != last.heartbeat.firmwareVersion {
            return true
        }
        if let now = status.heartbeat.location, let then = last.heartbeat.location,
           RelocationRules.distance(latitude: then.latitude, longitude: then.longitude, toLatitude: now.latitude, toLongitude: now.longitude) > sampleDistance {
            return true
        }
        return false
    }
}
