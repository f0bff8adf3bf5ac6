import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TillyardKit

/// What activation gave the terminal: who it is and its secret (一机一密). Kept in
/// `credential.json` with mode 0600, since the secret signs every request.
public struct AgentCredential: Codable, Sendable, Equatable {
    /// The server's base URL the terminal was activated against.
    public var server: String
    public var terminalId: String
    public var sn: String
    public var tid: String
    public var keyId: String
    /// 32 bytes, lowercase hex (the HMAC key is the decoded bytes).
    public var secret: String
    public var activatedAt: Date

    public init(server: String, terminalId: String, sn: String, tid: String, keyId: String, secret: String, activatedAt: Date) {
        self.server = server
        self.terminalId = terminalId
        self.sn = sn
        self.tid = tid
        self.keyId = keyId
        self.secret = secret
        self.activatedAt = activatedAt
    }

    /// The secret's bytes, or nil when it is not even-length hex.
    public var secretBytes: Data? { Hex.decode(secret) }
}

/// The terminal's own state besides its credential (`device.json`): installed versions, the
/// readings it reports, the parameters it holds, and whether it is locked.
public struct DeviceState: Codable, Sendable, Equatable {
    public var appVersion: String = "1.0.0"
    public var firmwareVersion: String = "1.0.0"
    public var battery: Int = 100
    public var paper: PaperStatus = .ok
    public var signal: Int = -70
    /// Reported in heartbeats when set (a fixed GPS fix for the reference agent).
    public var location: LocationReport?
    public var parametersVersion: String?
    public var parameters: [String: String] = [:]
    /// Set by a lock command or a heartbeat reply; payments are refused while true.
    public var locked: Bool = false
    public var lockReason: String?
    public var lastTransactionAt: Date?
    /// Server time minus local time, seconds, learned from replies, so signatures keep inside the
    /// server's clock window even when the terminal's clock drifts.
    public var clockOffset: TimeInterval = 0
    /// The last update installed or refused: package id, outcome and detail.
    public var lastUpdate: String?

    /// A fresh terminal: version 1.0.0, full battery, paper, no parameters, unlocked.
    public init() {}
}

/// The folder an agent keeps its state in.
public struct AgentDirectory: Sendable {
    /// The folder itself.
    public let url: URL

    /// The folder at `path` (created by `create()`, not here).
    public init(_ path: String) {
        url = URL(fileURLWithPath: path, isDirectory: true)
    }

    /// `credential.json`: identity and secret, 0600.
    public var credentialURL: URL { url.appendingPathComponent("credential.json") }
    /// `device.json`: versions, readings, parameters, lock.
    public var deviceURL: URL { url.appendingPathComponent("device.json") }
    /// `queue.sqlite`: the offline transaction queue.
    public var queuePath: String { url.appendingPathComponent("queue.sqlite").path }
    /// `packages/`: installed update files.
    public var packagesURL: URL { url.appendingPathComponent("packages", isDirectory: true) }

    /// Creates the folder (0700: it holds the terminal's secret).
    public func create() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// The credential; `AgentError.notActivated` when the folder has none.
    public func readCredential() throws -> AgentCredential {
        guard let credential = try Self.read(AgentCredential.self, from: credentialURL) else { throw AgentError.notActivated(url.path) }
        return credential
    }

    /// Writes the credential with mode 0600 from the start (never readable by others, not even briefly).
    public func writeCredential(_ credential: AgentCredential) throws {
        try Self.writeAtomically(try WireJSON.encoder().encode(credential), to: credentialURL, mode: 0o600)
    }

    /// The device state; a fresh terminal's defaults when there is none yet.
    public func readDevice() throws -> DeviceState {
        try Self.read(DeviceState.self, from: deviceURL) ?? DeviceState()
    }

    /// A state file's contents; nil when it does not exist, an error naming the file when it is damaged.
    private static func read<T: Decodable>(_ type: T.Type, from file: URL) throws -> T? {
        guard let data = try? Data(contentsOf: file) else { return nil }
        do {
            return try WireJSON.decoder().decode(type, from: data)
        } catch {
            throw AgentError.badState("\(file.path) is damaged: \(error)")
        }
    }

    /// Replaces the device state on disk (atomically).
    public func writeDevice(_ device: DeviceState) throws {
        try Self.writeAtomically(try WireJSON.encoder().encode(device), to: deviceURL, mode: 0o600)
    }

    /// Temp file created with `mode`, written, fsynced, renamed over the target: a crash leaves the
    /// old file or the new one, never half of one.
    static func writeAtomically(_ data: Data, to url: URL, mode: mode_t) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw AgentError.badState("cannot write \(temp.path): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { buffer -> Int in
            var done = 0
            while done < buffer.count {
                let count = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if count <= 0 { if errno == EINTR { continue }; return -1 }
                done += count
            }
            return done
        }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temp.path, url.path) == 0 else {
            unlink(temp.path)
            throw AgentError.badState("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}

