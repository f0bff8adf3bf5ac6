import Foundation
import Logging

/// Writes one backup archive (implemented in TillyardStore: the database snapshot, the data
/// folder's files and the manifest, streamed into one tar file).
public protocol BackupMaking: Sendable {
    /// Writes a complete archive at `archive` (never a partial file under that name) and returns its manifest.
    func write(to archive: URL, now: Date) async throws -> BackupManifest
}

/// When the server backs up by itself and how many archives it keeps.
public struct BackupSchedule: Sendable, Equatable {
    /// Time between scheduled backups; nil when scheduled backups are off.
    public var every: Duration?
    /// Archives kept in the folder; older ones are deleted after each successful backup.
    public var keep: Int

    public init(every: Duration? = .seconds(86_400), keep: Int = 7) {
        self.every = every
        self.keep = keep
    }

    /// The schedule from `TILLYARD_BACKUP_EVERY` (`24h`, `90m`, `3600s`, `7d`, `off`; default 24h) and
    /// `TILLYARD_BACKUP_KEEP` (default 7).
    public static func parse(every: String?, keep: String?) throws -> BackupSchedule {
        var schedule = BackupSchedule()
        if let every = every?.trimmingCharacters(in: .whitespaces).lowercased(), !every.isEmpty {
            if ["off", "never", "0"].contains(every) {
                schedule.every = nil
            } else {
                guard let unit = every.last, let count = Int64(every.dropLast()), count > 0,
                      let seconds = ["s": Int64(1), "m": 60, "h": 3600, "d": 86_400][String(unit)] else {
                    throw DomainError.invalid("TILLYARD_BACKUP_EVERY", "must be a number with s, m, h or d (e.g. 24h), or off")
                }
                guard count * seconds >= 60 else { throw DomainError.invalid("TILLYARD_BACKUP_EVERY", "must be at least one minute") }
                schedule.every = .seconds(count * seconds)
            }
        }
        if let keep = keep?.trimmingCharacters(in: .whitespaces), !keep.isEmpty {
            guard let count = Int(keep), count >= 1 else { throw DomainError.invalid("TILLYARD_BACKUP_KEEP", "must be a whole number of at least 1") }
            schedule.keep = count
        }
        return schedule
    }
}

/// One archive in the backup folder.
public struct BackupArchive: Sendable, Equatable {
    public var name: String
    public var size: Int64
    /// When the backup was made (from the name, which the service gives it).
    public var createdAt: Date
}

/// How one backup run ended.
public struct BackupRun: Sendable, Equatable {
    public var startedAt: Date
    public var finishedAt: Date
    /// The archive written (nil when the run failed).
    public var archive: BackupArchive?
    public var files: Int
    public var auditLength: Int64
    /// The first break of the audit chain when it was already broken (the archive is written, but
    /// a restore will refuse it until the cause is found).
    public var auditBroken: String?
    /// Why it failed (nil when it succeeded).
    public var error: String?
    /// Archives deleted by retention after this run.
    public var deleted: [String]
}

/// What the console's backup page shows.
public struct BackupOverview: Sendable {
    public var folder: String
    public var schedule: BackupSchedule
    public var archives: [BackupArchive]
    /// The last run of this server (scheduled or asked for), nil before the first.
    public var lastRun: BackupRun?
    public var running: Bool
}

/// Backups of the whole installation into one folder: on demand (console, `backups.manage`) and on
/// a schedule (`AppServices.startTimers`), with retention. Every run, refused or failed ones too,
/// is logged and audited. Archives hold every tenant's data, so only administrators of a top
/// organisation see them, and the console never serves them for download: they are taken off the
/// server by whoever runs it.
public final class BackupService: Sendable {
    public let store: any Persistence
    let maker: any BackupMaking
    /// Where archives go (created when missing).
    public let folder: URL
    public let schedule: BackupSchedule
    let clock: Clock
    let logger: Logger
    private let state = BackupState()

    public init(store: any Persistence, maker: any BackupMaking, folder: URL, schedule: BackupSchedule = BackupSchedule(),
                clock: Clock = .system, logger: Logger = Logger(label: "tillyard.backup")) {
        self.store = store
        self.maker = maker
        self.folder = folder
        self.schedule = schedule
        self.clock = clock
        self.logger = logger
    }

    /// The archives in the folder (newest first), the schedule and the last run.
    public func overview(by principal: Principal) throws -> BackupOverview {
        try Self.requireManager(principal)
        let (lastRun, running) = state.snapshot()
        return BackupOverview(folder: folder.path, schedule: schedule, archives: try archives(), lastRun: lastRun, running: running)
    }

    /// Makes a backup now for a person (console), audited under their name; retention applies.
    public func backUpNow(by principal: Principal) async throws -> BackupRun {
        try Self.requireManager(principal)
        let run = try await run(actor: principal.actor, origin: principal.origin, org: (principal.user.orgId, principal.orgPath))
        if let error = run.error { throw DomainError.conflict("the backup failed: \(error)") }
        return run
    }

    /// The scheduled backups of `serve`: checks every `check` (the first a minute after start, not at
    /// once, so restarts add no load) whether a backup is due. Returns at once when they are off.
    public func runOnSchedule(check: Duration = .seconds(60)) async {
        guard schedule.every != nil else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: check)
            if Task.isCancelled { return }
            await runIfDue()
        }
    }

    /// The timer's step: a backup when the newest archive is older than the schedule's interval (or
    /// there is none). Never throws: a failure is logged, audited and shown on the console page.
    @discardableResult
    public func runIfDue() async -> BackupRun? {
        guard let every = schedule.every else { return nil }
        let now = clock.now()
        let newest = (try? archives().first?.createdAt) ?? nil
        if let newest, now.timeIntervalSince(newest) < Double(every.components.seconds) { return nil }
        return try? await run(actor: .system, origin: "timer", org: nil)
    }

    /// Archive names this service writes and retention may delete: `tillyard-backup-YYYYMMDD-HHMMSS.tar`.
    public static func archiveName(at date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "tillyard-backup-\(formatter.string(from: date)).tar"
    }

    /// The time in an archive name, nil for any other file (which is never listed or deleted).
    public static func archiveDate(_ name: String) -> Date? {
        guard name.hasPrefix("tillyard-backup-"), name.hasSuffix(".tar"), name.count == "tillyard-backup-YYYYMMDD-HHMMSS.tar".count else { return nil }
        let stamp = name.dropFirst("tillyard-backup-".count).dropLast(4)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.date(from: String(stamp))
    }

    /// The archives in the folder, newest first.
    public func archives() throws -> [BackupArchive] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).compactMap { name -> BackupArchive? in
            guard let date = Self.archiveDate(name) else { return nil }
            let size = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size] as? NSNumber)??.int64Value ?? 0
            return BackupArchive(name: name, size: size, createdAt: date)
        }.sorted { $0.name > $1.name }
    }

    /// Deletes the oldest archives beyond `keep`; returns their names.
    public func prune() throws -> [String] {
        let doomed = try archives().dropFirst(schedule.keep)
        for archive in doomed { try FileManager.default.removeItem(at: folder.appendingPathComponent(archive.name)) }
        return doomed.map(\.name)
    }

    /// One run: the archive, retention, a log line and an audit event (`backup.create`, failure included).
    /// `file` is the archive to write (nil: a new name in the folder, then retention); `org` is where
    /// the event is filed (nil: under the installation's first organisation). Throws only when a run
    /// is already going; a failed run comes back with its `error`.
    public func run(into file: URL? = nil, actor: AuditActor, origin: String, org: (OrgID, String)?) async throws -> BackupRun {
        guard state.begin() else { throw DomainError.conflict("a backup is already running; wait for it to finish") }
        let startedAt = clock.now()
        var run = BackupRun(startedAt: startedAt, finishedAt: startedAt, archive: nil, files: 0, auditLength: 0, auditBroken: nil,
                            error: nil, deleted: [])
        do {
            let target: URL
            if let file {
                guard !FileManager.default.fileExists(atPath: file.path) else {
                    throw DomainError.conflict("\(file.path) exists already; an archive is never overwritten")
                }
                target = file
            } else {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                var name = Self.archiveName(at: startedAt)
                // Two runs within one second: wait for the next name rather than overwrite an archive.
                var attempts = 0
                while FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
                    attempts += 1
                    guard attempts <= 15 else { throw DomainError.conflict("an archive named \(name) exists already; try again in a moment") }
                    try await Task.sleep(for: .milliseconds(200))
                    name = Self.archiveName(at: clock.now())
                }
                target = folder.appendingPathComponent(name)
            }
            let manifest = try await maker.write(to: target, now: startedAt)
            let size = (try FileManager.default.attributesOfItem(atPath: target.path)[.size] as? NSNumber)?.int64Value ?? 0
            run.archive = BackupArchive(name: target.lastPathComponent, size: size, createdAt: Self.archiveDate(target.lastPathComponent) ?? startedAt)
            run.files = manifest.files.count
            run.auditLength = manifest.audit.length
            run.auditBroken = manifest.audit.brokenAt
            if file == nil { run.deleted = try prune() }
            run.finishedAt = clock.now()
            logger.info("backup written", metadata: ["archive": "\(target.path)", "bytes": "\(size)", "files": "\(run.files)",
                                                     "deleted": "\(run.deleted.joined(separator: ","))"])
        } catch {
            run.error = (error as? DomainError)?.message ?? String(describing: error)
            run.finishedAt = clock.now()
            logger.error("backup failed", metadata: ["folder": "\(folder.path)", "error": "\(run.error ?? "")"])
        }
        state.end(run)
        await audit(run, actor: actor, origin: origin, org: org)
        return run
    }

    private func audit(_ run: BackupRun, actor: AuditActor, origin: String, org: (OrgID, String)?) async {
        var summary = ["folder": folder.path]
        if let broken = run.auditBroken { summary["auditBroken"] = broken }
        if let archive = run.archive {
            summary["archive"] = archive.name
            summary["size"] = String(archive.size)
            summary["files"] = String(run.files)
            summary["auditLength"] = String(run.auditLength)
        }
        if !run.deleted.isEmpty { summary["deleted"] = run.deleted.joined(separator: ", ") }
        if let error = run.error { summary["error"] = String(error.prefix(500)) }
        let now = run.finishedAt
        let details = summary
        do {
            try await store.write { repos in
                // A scheduled run belongs to the installation: filed under its first organisation.
                let place: (OrgID, String)?
                if let org { place = org } else { place = try await repos.audit.scan(after: 0, limit: 1).first.map { ($0.orgId, $0.orgPath) } }
                guard let (orgId, path) = place else { return }
                _ = try await repos.audit.append(
                    AuditDraft(orgId: orgId, actor: actor, action: "backup.create", resourceType: "backup",
                               resourceId: run.archive?.name ?? "-", outcome: run.error == nil ? .success : .failure,
                               origin: origin, summary: details),
                    orgPath: path, at: now)
            }
        } catch {
            logger.error("backup audit event not written", metadata: ["error": "\(error)"])
        }
    }

    /// Only an administrator of a top organisation: an archive holds every tenant's data.
    static func requireManager(_ principal: Principal) throws {
        try principal.require(.backupsManage)
        guard principal.orgPath.split(separator: "/").count == 1 else {
            throw DomainError.forbidden("backups cover the whole installation: only administrators of a top organisation manage them")
        }
    }
}

/// Whether a run is going and how the last one ended, shared by the console and the timer.
final class BackupState: @unchecked Sendable {
    // `@unchecked Sendable`: both fields are touched only under `lock`.
    private let lock = NSLock()
    private var running = false
    private var last: BackupRun?

    func begin() -> Bool {
        lock.withLock {
            if running { return false }
            running = true
            return true
        }
    }

    func end(_ run: BackupRun) {
        lock.withLock {
            running = false
            last = run
        }
    }

    func snapshot() -> (BackupRun?, Bool) { lock.withLock { (last, running) } }
}
