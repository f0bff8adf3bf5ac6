import Foundation
import TillyardKit

/// The installation's secret for settlement-account fingerprints (HMAC-SHA256).
///
/// Kept outside the database on purpose: a stolen database dump alone cannot be used to test
/// guesses of account numbers against the fingerprints. Every server of one installation must
/// use the same key (set `TILLYARD_ACCOUNT_KEY` on multi-node PostgreSQL deployments).
public enum AccountKey {
    /// 32 random bytes.
    public static func random() -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The key from `TILLYARD_ACCOUNT_KEY` (64 hex characters), else from `<data dir>/keys/account.key`,
    /// which is created (mode 0600) with a random key on first use.
    public static func load(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Data {
        if let hex = environment["TILLYARD_ACCOUNT_KEY"] {
            guard let key = Data(hex: hex), key.count == 32 else {
                throw DomainError.invalid("TILLYARD_ACCOUNT_KEY", "must be 64 hexadecimal characters (32 bytes)")
            }
            return key
        }
        let folder = URL(fileURLWithPath: dataDirectory).appendingPathComponent("keys")
        let file = folder.appendingPathComponent("account.key")
        if let existing = try? Data(contentsOf: file) {
            guard existing.count == 32 else { throw DomainError.conflict("\(file.path) is damaged: it must hold exactly 32 bytes") }
            return existing
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = random()
        guard FileManager.default.createFile(atPath: file.path, contents: key, attributes: [.posixPermissions: 0o600]) else {
            throw DomainError.conflict("cannot write \(file.path)")
        }
        return key
    }
}

extension AccountKey {
    /// The key if the installation has one (`TILLYARD_ACCOUNT_KEY` or the key file), never creating
    /// one: `tillyard backup` records a check of it and must not invent a key for a data folder.
    public static func existing(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Data? {
        if environment["TILLYARD_ACCOUNT_KEY"] != nil { return try? load(dataDirectory: dataDirectory, environment: environment) }
        let file = URL(fileURLWithPath: dataDirectory).appendingPathComponent("keys/account.key")
        guard let key = try? Data(contentsOf: file), key.count == 32 else { return nil }
        return key
    }
}

extension Data {
    /// Bytes from hexadecimal text; nil when it is not hex.
    init?(hex: String) {
        let characters = Array(hex)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: characters.count, by: 2) {
            guard let byte = UInt8(String(characters[index...index + 1]), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.init(bytes)
    }
}
