/// A security event row stands for a burst: the first refusal of its kind in a window is written
/// at once, the identical ones after it only add to `repeats` (`RefusalThrottle`), so a flood of
/// bad terminal requests costs one row per window instead of one write per request.
/// Versions 17–19 belong to other changes.
enum Migration0020SecurityEventRepeats {
    static let migration = Migration(version: 20, name: "security_event_repeats", statements: [
        "ALTER TABLE security_events ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0",
    ])
}
