import Foundation

/// Turns a flood of identical refused terminal requests into one security event per window: the
/// first refusal of a key (terminal, reason, origin) in a window is written as a row, the ones
/// after it in the same window are counted in memory and added to that row's `repeats` when the
/// window closes. The security team still sees every burst, its size and its source; an attacker
/// no longer gets one database write per request. A crash loses at most the open windows' counts
/// (never a burst's first row).
public final class RefusalThrottle: @unchecked Sendable {
    /// What makes two refusals "the same": a refusal naming no known terminal uses "" as the
    /// terminal, since its id is whatever the sender made up.
    public struct Key: Hashable, Sendable {
        public var terminal: String
        public var reason: String
        public var origin: String

        public init(terminal: String, reason: String, origin: String) {
            self.terminal = terminal
            self.reason = reason
            self.origin = origin
        }
    }

    private struct Window {
        var eventId: String
        var opened: Date
        var repeats: Int
    }

    private let lock = NSLock()
    private var windows: [Key: Window] = [:]
    private var lastSweep = Date.distantPast
    /// How long a window stays open, seconds.
    public let window: TimeInterval
    /// Open windows kept at most (beyond it the oldest are closed early: a bound on memory).
    public let capacity: Int

    public init(window: TimeInterval = 60, capacity: Int = 50_000) {
        self.window = window
        self.capacity = capacity
    }

    /// Takes one refusal. `write` says whether it opens a window (record it as a row with
    /// `eventId`); `closed` holds the repeat counts of windows that closed by now, by event id,
    /// to add to their rows.
    public func admit(_ key: Key, eventId: String, at now: Date) -> (write: Bool, closed: [String: Int]) {
        lock.withLock {
            var closed = closeExpired(at: now)
            if var open = windows[key], now.timeIntervalSince(open.opened) < window {
                open.repeats += 1
                windows[key] = open
                return (false, closed)
            }
            if windows.count >= capacity {
                for (key, open) in windows.sorted(by: { $0.value.opened < $1.value.opened }).prefix(capacity / 10) {
                    if open.repeats > 0 { closed[open.eventId] = open.repeats }
                    windows[key] = nil
                }
            }
            windows[key] = Window(eventId: eventId, opened: now, repeats: 0)
            return (true, closed)
        }
    }

    /// Closes the windows that have run their time; their repeat counts by event id.
    public func closed(at now: Date) -> [String: Int] {
        lock.withLock { closeExpired(at: now) }
    }

    /// Called with the lock held. Sweeps at most once a second (a sweep walks every open window).
    private func closeExpired(at now: Date) -> [String: Int] {
        guard now.timeIntervalSince(lastSweep) >= 1 else { return [:] }
        lastSweep = now
        var closed: [String: Int] = [:]
        for (key, open) in windows where now.timeIntervalSince(open.opened) >= window {
            if open.repeats > 0 { closed[open.eventId] = open.repeats }
            windows[key] = nil
        }
        return closed
    }
}
