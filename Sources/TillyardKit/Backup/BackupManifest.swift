import Crypto
import Foundation

/// This build of Tillyard, as backups record it.
public enum TillyardRelease {
    /// The release version written into backup manifests.
    public static let version = "0.9.0"
}

/// `manifest.json`, the last member of every backup archive: what the archive holds and how to
/// check it. A restore refuses an archive whose files do not match it.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// The archive layout this Tillyard writes and reads. A restore refuses a higher number.
    public static let currentFormat = 1
    /// The archive member holding the manifest.
    public static let memberName = "manifest.json"
    /// The archive member of an SQLite database (the data folder's own file name).
    public static let sqliteMember = "tillyard.sqlite"
    /// The archive member of a PostgreSQL dump (`pg_dump --format=custom`).
    public static let postgresMember = "database.pgdump"

    /// One schema migration the database had when it was backed up.
    public struct MigrationEntry: Codable, Sendable, Equatable {
        public var version: Int
        public var name: String

        public init(version: Int, name: String) {
            self.version = version
            self.name = name
        }
    }

    /// One member of the archive: its path (relative to the data folder), size and SHA-256.
    public struct FileEntry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String

        public init(path: String, size: Int64, sha256: String) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    /// The audit chain inside the backed-up database: how many events and the last one's hash.
    public struct AuditHead: Codable, Sendable, Equatable {
        public var length: Int64
        public var headHash: String
        /// The first break when the chain was already broken at backup time (the archive is written
        /// anyway, and a restore refuses it naming this event).
        public var brokenAt: String?

        public init(length: Int64, headHash: String, brokenAt: String? = nil) {
            self.length = length
            self.headHash = headHash
            self.brokenAt = brokenAt
        }
    }

    public var format: String = "tillyard-backup"
    public var formatVersion: Int
    public var tillyardVersion: String
    /// ISO 8601 UTC time of the database snapshot.
    public var createdAt: String
    /// `sqlite` or `postgres`.
    public var backend: String
    /// The archive member holding the database (also listed in `files`).
    public var database: String
    public var migrations: [MigrationEntry]
    /// Every member except the manifest, the database first.
    public var files: [FileEntry]
    public var audit: AuditHead
    /// HMAC-SHA256 of a fixed text under the installation key, when the key was at hand: a restore
    /// can tell whether a key file handed to it is the right one. It reveals nothing of the key.
    public var installationKeyCheck: String?
    /// What the archive deliberately does not hold and must be kept separately.
    public var notIncluded: [String]

    public init(formatVersion: Int = BackupManifest.currentFormat, tillyardVersion: String = TillyardRelease.version, createdAt: Date,
                backend: String, database: String, migrations: [MigrationEntry], files: [FileEntry], audit: AuditHead,
                installationKeyCheck: String?, notIncluded: [String] = BackupManifest.separately) {
        self.formatVersion = formatVersion
        self.tillyardVersion = tillyardVersion
        self.createdAt = createdAt.iso8601
        self.backend = backend
        self.database = database
        self.migrations = migrations
        self.files = files
        self.audit = audit
        self.installationKeyCheck = installationKeyCheck
        self.notIncluded = notIncluded
    }

    /// What must be backed up apart from the archives (printed by the CLI and written to the manifest).
    public static let separately = [
        "the installation key (<data dir>/keys/account.key or TILLYARD_ACCOUNT_KEY): it encrypts documents, member names and phones "
            + "and terminal secrets; kept out of archives so a copied archive alone reveals none of them",
        "TILLYARD_MEMBER_KEYS (further member data keys, if set)",
    ]

    /// The check value of an installation key (see `installationKeyCheck`).
    public static func keyCheck(_ key: Data) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data("tillyard backup key check v1".utf8), using: SymmetricKey(data: key)))
    }

    /// The manifest as stored: pretty, sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a manifest; a foreign or unreadable one is a corrupt archive.
    public static func decode(_ data: Data) throws -> BackupManifest {
        let manifest: BackupManifest
        do {
            manifest = try JSONDecoder().decode(BackupManifest.self, from: data)
        } catch {
            throw BackupError(.corrupt, "corrupt archive: manifest.json cannot be read (\(error))")
        }
        guard manifest.format == "tillyard-backup" else { throw BackupError(.corrupt, "not a Tillyard backup: manifest.json is of another format") }
        return manifest
    }

    /// Refuses an archive this Tillyard cannot read: a newer format or a database at a migration it does not know.
    public func checkReadable(knownMigration newest: Int) throws {
        if formatVersion > Self.currentFormat {
            throw BackupError(.newerVersion, "the archive was written by Tillyard \(tillyardVersion) in backup format \(formatVersion); "
                              + "this Tillyard (\(TillyardRelease.version)) reads format \(Self.currentFormat): restore it with Tillyard \(tillyardVersion) or later")
        }
        if let top = migrations.map(\.version).max(), top > newest {
            throw BackupError(.newerVersion, "the archive's database is at migration \(top), made by Tillyard \(tillyardVersion); "
                              + "this Tillyard (\(TillyardRelease.version)) knows migrations up to \(newest): restore it with Tillyard \(tillyardVersion) or later")
        }
    }
}
