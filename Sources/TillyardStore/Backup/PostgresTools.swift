import Foundation
import TillyardKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pg_dump` and `pg_restore`, found the way the test cluster finds its binaries: `TILLYARD_PG_BIN`,
/// else the highest `/usr/lib/postgresql/<version>/bin` (Debian keeps them off PATH, and a dump
/// needs a pg_dump at least as new as the server), else PATH.
enum PostgresTools {
    /// The full path of a PostgreSQL client program.
    static func find(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        var folders: [String] = []
        if let bin = environment["TILLYARD_PG_BIN"], !bin.isEmpty { folders.append(bin) }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        func key(_ version: String) -> [Int] { version.split(separator: ".").map { Int($0) ?? 0 } }
        folders += versions.sorted { key($0).lexicographicallyPrecedes(key($1)) }.reversed().map { "\(root)/\($0)/bin" }
        folders += (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        guard let found = folders.map({ $0 + "/" + name }).first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw BackupError(.failed, "\(name) not found (looked in TILLYARD_PG_BIN, /usr/lib/postgresql/*/bin and PATH); install the PostgreSQL client")
        }
        return found
    }

    /// A `postgres://` URL without its password, and the password (handed over in `PGPASSWORD`, so it
    /// shows neither in `ps` nor in error messages).
    static func connection(_ url: String) throws -> (url: String, password: String?) {
        guard var components = URLComponents(string: url) else { throw DomainError.invalid("database-url", "is not a valid postgres:// URL") }
        let password = components.password
        components.password = nil
        guard let bare = components.string else { throw DomainError.invalid("database-url", "is not a valid postgres:// URL") }
        return (bare, password)
    }

    /// Runs a client program against `url`; throws its output when it fails.
    static func run(_ program: String, _ arguments: [String], url: String) async throws {
        let path = try find(program)
        let (bare, password) = try connection(url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments + ["--dbname", bare]
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        // Output to a file, not a pipe: a full pipe would block the program.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-\(program)-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw BackupError(.failed, "cannot create \(log.path)")
        }
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        // terminationHandler keeps the cooperative pool free (waitUntilExit would block a thread).
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: BackupError(.failed, "cannot run \(path): \(error)"))
            }
        }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let text = String(decoding: FileManager.default.contents(atPath: log.path) ?? Data(), as: UTF8.self)
            throw BackupError(.failed, "\(program) failed (status \(process.terminationStatus)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

/// Small file-system steps of backup and restore.
enum BackupFiles {
    /// Flushes a folder's entries (a rename inside it) to disk.
    static func syncFolder(_ folder: URL) {
        let fd = open(folder.path, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Renames `source` to `target` (same file system) and flushes the folder.
    static func moveIntoPlace(_ source: URL, _ target: URL) throws {
        guard rename(source.path, target.path) == 0 else {
            throw BackupError(.failed, "cannot rename \(source.path) to \(target.path) (errno \(errno))")
        }
        syncFolder(target.deletingLastPathComponent())
    }
}
