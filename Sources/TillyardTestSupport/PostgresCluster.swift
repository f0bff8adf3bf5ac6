import Foundation

// A throwaway PostgreSQL server for tests.
//
// Design notes:
// - One server per test process, started lazily on first use; every test gets its own
//   database on it (CREATE DATABASE is far cheaper than initdb + start).
// - Only Foundation and the C library it re-exports are used, so this file has no
//   package dependencies and can be compiled standalone with `swiftc`.
// - The server is stopped and its directory deleted from an `atexit` handler. A process
//   that dies without running `atexit` (crash, SIGKILL) leaves its cluster behind, so
//   every start first sweeps clusters whose owning process is gone.

/// A throwaway PostgreSQL server for the test process, shared by all tests.
///
/// By default the server is a private cluster created with the binaries under
/// `/usr/lib/postgresql/*/bin` (the highest version wins), listening on a free port on
/// 127.0.0.1 with `trust` authentication for the user `tillyard`. It is started on first
/// use and removed when the process exits.
///
/// Environment:
/// - `TILLYARD_TEST_POSTGRES_URL`: use this existing server instead
///   (e.g. `postgres://user:pw@host:5432/postgres`); fresh databases are created on it
///   with `psql` and are not dropped afterwards.
/// - `TILLYARD_TEST_POSTGRES_BIN`: look for `initdb` and `postgres` only in
///   this directory.
public enum PostgresCluster {
    /// URL of a fresh, empty database on the shared server
    /// (e.g. `postgres://tillyard@127.0.0.1:PORT/t_<random hex>`), or nil when no
    /// PostgreSQL is available (see ``unavailableReason``).
    ///
    /// Each call creates a new database, so tests are isolated from each other.
    /// The first call starts the server; concurrent callers wait for the same start.
    /// - Throws: ``PostgresClusterError`` when the server cannot be started or the
    ///   database cannot be created, or when `TILLYARD_TEST_POSTGRES_URL` is unusable.
    public static func freshDatabaseURL() async throws -> String? {
        guard let server = try await ClusterCoordinator.shared.server() else { return nil }
        return try await server.createFreshDatabase()
    }

    /// Why PostgreSQL is unavailable to tests, or nil when it is available,
    /// e.g. `"no PostgreSQL binaries under /usr/lib/postgresql/*/bin"`.
    ///
    /// This only checks for binaries (or the `TILLYARD_TEST_POSTGRES_URL` setting); it
    /// does not start the server, so a broken installation shows up as an error from
    /// ``freshDatabaseURL()`` rather than as a silent skip.
    public static var unavailableReason: String? {
        get async { await ClusterCoordinator.shared.unavailableReason() }
    }
}

/// A failure to start the test server or to create a database on it;
/// the description includes the failing command and its output.
public struct PostgresClusterError: Error, CustomStringConvertible {
    /// What went wrong, with the command's output when a command failed.
    public let description: String

    init(_ description: String) { self.description = description }
}

// MARK: - Coordination

/// Where the tests' PostgreSQL comes from, decided once per process.
private enum Setup: Sendable {
    /// An existing server given by `TILLYARD_TEST_POSTGRES_URL`.
    case external(url: URLComponents, psql: String)
    /// A private cluster made with these binaries.
    case local(LocalBinaries)
    /// No PostgreSQL: tests skip.
    case unavailable(reason: String)
    /// Explicitly configured but unusable: tests fail rather than skip.
    case misconfigured(String)
}

private struct LocalBinaries: Sendable {
    let initdb: String
    let postgres: String
    let psql: String
}

/// Serializes discovery and start-up, so concurrent tests share one server.
private actor ClusterCoordinator {
    static let shared = ClusterCoordinator()

    private var setup: Setup?
    /// Created once and never replaced: a failed start is reported to every caller
    /// instead of being retried by each test (which would only repeat the failure).
    private var startTask: Task<Server, any Error>?

    func unavailableReason() -> String? {
        if case .unavailable(let reason) = discover() { return reason }
        return nil
    }

    func server() async throws -> Server? {
        switch discover() {
        case .unavailable:
            return nil
        case .misconfigured(let message):
            throw PostgresClusterError(message)
        case .external(let url, let psql):
            var admin = url
            // psql connects to the given database to run CREATE DATABASE; default to the
            // maintenance database that every server has.
            if admin.path.isEmpty || admin.path == "/" { admin.path = "/postgres" }
            return Server(psql: psql, adminURL: admin)
        case .local(let binaries):
            // The task is stored before the first suspension point, so callers that arrive
            // while the server is starting await the same task (actor reentrancy is safe here).
            let task = startTask ?? Task { try await LocalCluster.start(binaries) }
            startTask = task
            return try await task.value
        }
    }

    private func discover() -> Setup {
        if let setup { return setup }
        let found = Setup.discover()
        if case .unavailable(let reason) = found {
            // Loud, once per process: a silently skipped suite looks exactly like a passing one.
            let banner = "\n*** POSTGRES SUITE SKIPPED: \(reason) ***\n\n"
            FileHandle.standardError.write(Data(banner.utf8))
        }
        setup = found
        return found
    }
}

extension Setup {
    static func discover() -> Setup {
        let env = ProcessInfo.processInfo.environment
        if let raw = env["TILLYARD_TEST_POSTGRES_URL"], !raw.isEmpty {
            guard let url = URLComponents(string: raw), let scheme = url.scheme,
                  ["postgres", "postgresql"].contains(scheme), url.host != nil
            else {
                return .misconfigured("TILLYARD_TEST_POSTGRES_URL is not a postgres:// URL: \(raw)")
            }
            guard let psql = findPsql(versionDirs: postgresVersionBinDirs()) else {
                return .misconfigured(
                    "TILLYARD_TEST_POSTGRES_URL is set but no psql was found on PATH or under /usr/lib/postgresql/*/bin")
            }
            return .external(url: url, psql: psql)
        }

        // Candidate bin directories, best first.
        let candidates: [String]
        let searched: String
        if let dir = env["TILLYARD_TEST_POSTGRES_BIN"], !dir.isEmpty {
            candidates = [dir]
            searched = "TILLYARD_TEST_POSTGRES_BIN=\(dir)"
        } else {
            // Debian/Ubuntu keep the server binaries off PATH, one directory per major version.
            // PATH is a fallback for other layouts (Homebrew, Fedora, a hand-built server).
            candidates = postgresVersionBinDirs() + pathDirectories()
            searched = "/usr/lib/postgresql/*/bin or on PATH"
        }
        for dir in candidates {
            let initdb = dir + "/initdb", postgres = dir + "/postgres"
            guard [initdb, postgres].allSatisfy(FileManager.default.isExecutableFile(atPath:))
            else { continue }
            let psql = FileManager.default.isExecutableFile(atPath: dir + "/psql")
                ? dir + "/psql" : findPsql(versionDirs: [])
            guard let psql else {
                return .unavailable(reason: "PostgreSQL server binaries found in \(dir) but no psql client")
            }
            return .local(LocalBinaries(initdb: initdb, postgres: postgres, psql: psql))
        }
        return .unavailable(reason: "no PostgreSQL binaries (initdb, postgres) under \(searched)")
    }

    /// `/usr/lib/postgresql/<version>/bin`, highest version first (numeric: 16 > 9.6).
    private static func postgresVersionBinDirs() -> [String] {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        func key(_ v: String) -> [Int] { v.split(separator: ".").map { Int($0) ?? 0 } }
        return versions
            .sorted { key($0).lexicographicallyPrecedes(key($1)) }
            .reversed()
            .map { "\(root)/\($0)/bin" }
    }

    private static func findPsql(versionDirs: [String]) -> String? {
        (pathDirectories() + versionDirs)
            .map { $0 + "/psql" }
            .first(where: FileManager.default.isExecutableFile(atPath:))
    }
}

private func pathDirectories() -> [String] {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        .split(separator: ":").map(String.init)
}

/// Finds an executable on PATH or in the sbin directories, which root's PATH may lack.
private func findExecutable(_ name: String) -> String? {
    (pathDirectories() + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map { $0 + "/" + name }
        .first(where: FileManager.default.isExecutableFile(atPath:))
}

// MARK: - Server

/// A running server on which databases can be created.
private struct Server: Sendable {
    let psql: String
    /// Where psql connects to run CREATE DATABASE; fresh URLs are derived from it.
    let adminURL: URLComponents
    /// The running postgres of a local cluster, kept referenced for the life of the process.
    var process: Process? = nil

    func createFreshDatabase() async throws -> String {
        // Random rather than sequential names, so several test processes (or stale databases
        // on an external server) never collide. Lowercase, so no quoting is needed.
        let name = "t_" + randomHex(bytes: 8)
        // The password goes through the environment, so it shows neither in `ps` nor in
        // error messages (which end up in CI logs).
        var connect = adminURL
        let password = connect.password
        connect.password = nil
        guard let admin = connect.string else { throw PostgresClusterError("invalid server URL") }
        // -X: ignore ~/.psqlrc; -w: never prompt for a password (there is no terminal).
        try await runCommand([psql, "-X", "-w", "-q", "-v", "ON_ERROR_STOP=1",
                              "-d", admin, "-c", "CREATE DATABASE \(name)"],
                             environment: password.map { ["PGPASSWORD": $0] } ?? [:])
        var fresh = adminURL
        fresh.path = "/" + name
        guard let url = fresh.string else { throw PostgresClusterError("invalid server URL") }
        return url
    }
}

// MARK: - Local cluster

private enum LocalCluster {
    static let superuser = "tillyard"

    static func start(_ bin: LocalBinaries) async throws -> Server {
        let tempRoot = FileManager.default.temporaryDirectory.standardizedFileURL.path
        sweepStaleClusters(in: tempRoot)

        // initdb and postgres refuse to run as root, so as root we run them as a dedicated user.
        let runAs = getuid() == 0 ? try await UnprivilegedUser.prepare() : nil

        // Short names: the socket path must stay under the ~100-byte limit for Unix sockets.
        let base = tempRoot + "/tillyard-pg-" + randomHex(bytes: 4)
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        // Recorded so a later process can tell whether this cluster's owner is still alive.
        try Data("\(getpid())\n".utf8).write(to: URL(fileURLWithPath: base + "/owner.pid"))
        cleanupRegistry.add(base)

        do {
            let data = base + "/data", socketDir = base + "/s", log = base + "/postgres.log"
            try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: false)
            if let runAs {
                for path in [base, socketDir] where chown(path, runAs.uid, runAs.gid) != 0 {
                    throw PostgresClusterError("chown \(path) to \(runAs.name) failed: errno \(errno)")
                }
                // A private TMPDIR (e.g. under /root) may not be traversable by that user.
                do {
                    try await runCommand(["test", "-w", base, "-a", "-x", base], as: runAs)
                } catch {
                    throw PostgresClusterError(
                        "user \(runAs.name) cannot write \(base); set TMPDIR to a directory whose parents it can traverse")
                }
            }

            // --no-sync, fsync=off etc.: durability is pointless for a throwaway cluster and
            // costs seconds. --locale=C: the same collation everywhere, no locale packages needed.
            try await runCommand([bin.initdb, "-D", data, "-A", "trust", "-U", superuser,
                                  "-E", "UTF8", "--locale=C", "--no-sync"],
                                 as: runAs, in: base)

            // postgres runs in the foreground as our child instead of via `pg_ctl start`: on
            // Linux, Foundation's Process learns that a child exited when a socket the child
            // inherited is closed, and the daemon that `pg_ctl start` leaves behind inherits
            // that socket too, so Process would never report that pg_ctl had exited.
            //
            // The free port is found by binding port 0 and closing, so another process can take
            // it before postgres binds; retry with a new port in that (rare) case.
            var attempt = 0
            while true {
                attempt += 1
                let port = try freeLoopbackPort()
                let process = try launchServer(
                    [bin.postgres, "-D", data, "-F", "-p", "\(port)", "-k", socketDir,
                     "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                     // Durability is pointless for a throwaway cluster and costs time.
                     "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                    as: runAs, in: base, log: log)
                if try await waitUntilReady(process, dataDir: data) {
                    return Server(psql: bin.psql, adminURL: adminURL(port: port), process: process)
                }
                let serverLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if attempt < 3 && serverLog.contains("could not bind") {
                    try? FileManager.default.removeItem(atPath: log)
                    continue
                }
                throw PostgresClusterError("postgres exited during start-up\n--- \(log) ---\n\(serverLog)")
            }
        } catch {
            // Don't leave a half-started cluster behind until exit.
            cleanupRegistry.remove(base)
            stopAndRemoveCluster(base: base)
            throw error
        }
    }

    /// Starts postgres with stdout and stderr going to `log`; does not wait for it.
    private static func launchServer(
        _ command: [String], as user: UnprivilegedUser?, in directory: String, log: String
    ) throws -> Process {
        let argv = (user?.wrapper ?? []) + command
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw PostgresClusterError("cannot create \(log)")
        }
        // Our handle is closed once postgres has its own copy.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits until the postmaster reports "ready" in postmaster.pid (what `pg_ctl -w` checks).
    /// Returns false if postgres exits first; throws after 60 seconds.
    private static func waitUntilReady(_ process: Process, dataDir: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if !process.isRunning { return false }
            // Line 8 holds the status since PostgreSQL 10 (padded with spaces).
            if let text = try? String(contentsOfFile: dataDir + "/postmaster.pid", encoding: .utf8) {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.count > 7 && lines[7].trimmingCharacters(in: .whitespaces) == "ready" { return true }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresClusterError("postgres did not become ready within 60 seconds (see \(dataDir)/../postgres.log)")
    }

    private static func adminURL(port: Int) -> URLComponents {
        var url = URLComponents()
        url.scheme = "postgres"
        url.user = superuser
        url.host = "127.0.0.1"
        url.port = port
        url.path = "/postgres"
        return url
    }

    /// Removes clusters left by test processes that died without running `atexit`.
    /// Linux only: it relies on /proc to make sure it signals the right process.
    private static func sweepStaleClusters(in tempRoot: String) {
        guard FileManager.default.fileExists(atPath: "/proc/self") else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tempRoot)) ?? []
        for name in names where name.hasPrefix("tillyard-pg-") {
            let base = tempRoot + "/" + name
            guard let owner = readPid(base + "/owner.pid"), owner != getpid(),
                  !processIsAlive(owner)
            else { continue }
            stopAndRemoveCluster(base: base)
        }
        // Output files of commands interrupted by the owner's death: tillyard-cmd-<pid>-<random>.
        for name in names where name.hasPrefix("tillyard-cmd-") {
            let parts = name.split(separator: "-")
            guard parts.count == 4, let owner = pid_t(parts[2]), owner != getpid(), !processIsAlive(owner)
            else { continue }
            try? FileManager.default.removeItem(atPath: tempRoot + "/" + name)
        }
    }
}

/// Binds a socket to port 0 on 127.0.0.1 to let the kernel pick a free port, then releases it.
private func freeLoopbackPort() throws -> Int {
    #if os(Linux)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw PostgresClusterError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw PostgresClusterError("could not bind a loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

// MARK: - Running as an unprivileged user

/// The user that runs initdb and postgres when the tests run as root.
private struct UnprivilegedUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t
    /// Prefix that runs a command as this user.
    let wrapper: [String]

    static let preferredName = "tillyard-test"

    static func prepare() async throws -> UnprivilegedUser {
        // A dedicated system user rather than `nobody`: files owned by `nobody` are
        // discouraged, and its account may be shared with other daemons.
        var name = preferredName
        if lookUpUser(name) == nil, let useradd = findExecutable("useradd") {
            // Fails harmlessly if another test process created the user concurrently.
            _ = try? await runCommand([useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                       "--shell", "/usr/sbin/nologin", "--user-group", name])
        }
        if lookUpUser(name) == nil { name = "nobody" }
        guard let (uid, gid) = lookUpUser(name) else {
            throw PostgresClusterError(
                "running as root and could neither create user \(preferredName) nor find user nobody")
        }
        // runuser (util-linux) is made for root dropping privileges; setpriv is the fallback.
        // Both exec the command directly, so the user's nologin shell does not matter.
        let wrapper: [String]
        if let runuser = findExecutable("runuser") {
            wrapper = [runuser, "-u", name, "--"]
        } else if let setpriv = findExecutable("setpriv") {
            wrapper = [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--"]
        } else {
            throw PostgresClusterError("running as root but neither runuser nor setpriv is available")
        }
        return UnprivilegedUser(name: name, uid: uid, gid: gid, wrapper: wrapper)
    }

    private static func lookUpUser(_ name: String) -> (uid_t, gid_t)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return (entry.pw_uid, entry.pw_gid)
    }
}

// MARK: - Subprocesses

/// Runs a command (as `user` if given) and returns its combined stdout and stderr.
/// Throws ``PostgresClusterError`` with that output if it fails or exceeds `timeout`.
@discardableResult
private func runCommand(
    _ command: [String], as user: UnprivilegedUser? = nil, in directory: String? = nil,
    environment: [String: String] = [:], timeout: Duration = .seconds(120)
) async throws -> String {
    let argv = (user?.wrapper ?? []) + command
    let process = Process()
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    // A bare name (e.g. "test") is resolved through PATH by /usr/bin/env.
    if argv[0].hasPrefix("/") {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
    }
    // The unprivileged user may not be able to enter our working directory, and initdb
    // fails when it cannot resolve its current directory.
    process.currentDirectoryURL = URL(fileURLWithPath: directory ?? "/")
    process.standardInput = FileHandle.nullDevice

    // Output goes to a file rather than a pipe: reading a file cannot block, whatever the
    // command leaves behind.
    let outputPath = FileManager.default.temporaryDirectory.path + "/tillyard-cmd-\(getpid())-" + randomHex(bytes: 8)
    guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
        throw PostgresClusterError("cannot create \(outputPath)")
    }
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    process.standardOutput = output
    process.standardError = output

    // Waiting through terminationHandler keeps the cooperative thread pool free
    // (waitUntilExit would block one of its few threads).
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        process.terminate()
    }
    defer { watchdog.cancel() }
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: PostgresClusterError("cannot run \(argv.joined(separator: " ")): \(error)"))
        }
    }

    let text = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
    guard process.terminationReason == .exit, process.terminationStatus == 0 else {
        let how = process.terminationReason == .exit
            ? "exit status \(process.terminationStatus)" : "signal \(process.terminationStatus)"
        throw PostgresClusterError("command failed (\(how)): \(argv.joined(separator: " "))\n\(text)")
    }
    return text
}

private func randomHex(bytes: Int) -> String {
    (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

// MARK: - Cleanup

/// Cluster directories to remove at exit. A lock-protected global rather than actor state,
/// because the `atexit` handler is a synchronous C function that can capture nothing.
private final class CleanupRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var bases: [String] = []
    private var handlerInstalled = false

    func add(_ base: String) {
        lock.withLock {
            bases.append(base)
            if !handlerInstalled {
                handlerInstalled = true
                atexit { cleanupRegistry.removeAll() }
            }
        }
    }

    func remove(_ base: String) {
        lock.withLock { bases.removeAll { $0 == base } }
    }

    func removeAll() {
        let all = lock.withLock { () -> [String] in
            defer { bases = [] }
            return bases
        }
        all.forEach(stopAndRemoveCluster(base:))
    }
}

private let cleanupRegistry = CleanupRegistry()

/// Stops the cluster in `base` (if running) and deletes `base`.
///
/// This does what `pg_ctl stop -m immediate` does — SIGQUIT to the postmaster, then wait
/// for it to remove postmaster.pid — without starting a subprocess, because it runs from
/// `atexit`, when the rest of the process (Foundation's Process machinery included) may
/// already be shutting down. Immediate mode: the data is thrown away anyway.
private func stopAndRemoveCluster(base: String) {
    let pidFile = base + "/data/postmaster.pid"
    if let pid = readPid(pidFile), isPostmaster(pid, dataDir: base + "/data"), kill(pid, SIGQUIT) == 0 {
        // postmaster.pid goes away once the postmaster and all its children have exited.
        let deadline = Date().addingTimeInterval(10)
        while FileManager.default.fileExists(atPath: pidFile), processIsAlive(pid), Date() < deadline {
            usleep(20_000)
        }
    }
    try? FileManager.default.removeItem(atPath: base)
}

/// Guards against signalling an unrelated process that reused a stale PID: the postmaster's
/// working directory is its data directory. Where /proc is missing (macOS), trust the PID file.
private func isPostmaster(_ pid: pid_t, dataDir: String) -> Bool {
    guard FileManager.default.fileExists(atPath: "/proc/self") else { return true }
    guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd") else {
        return false
    }
    func canonical(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
    return canonical(cwd) == canonical(dataDir)
}

/// The PID on the first line of a file (postmaster.pid, owner.pid).
private func readPid(_ path: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let line = text.split(separator: "\n").first, let pid = pid_t(line.trimmingCharacters(in: .whitespaces)),
          pid > 0
    else { return nil }
    return pid
}

private func processIsAlive(_ pid: pid_t) -> Bool {
    // A zombie (exited but not yet reaped, e.g. reparented to an init that reaps lazily)
    // still answers kill(pid, 0); /proc/PID/stat shows its state after the ")" of the name.
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
       let nameEnd = stat.lastIndex(of: ")") {
        let state = stat[stat.index(after: nameEnd)...].first(where: { $0 != " " })
        return state != "Z" && state != "X"
    }
    return kill(pid, 0) == 0 || errno == EPERM
}
