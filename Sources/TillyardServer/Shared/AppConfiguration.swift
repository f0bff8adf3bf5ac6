import Foundation
import Logging
import TillyardKit
import TillyardStore

/// Everything the server needs to start. The CLI fills it from flags, then `TILLYARD_*`
/// environment variables, then defaults; tests build it directly.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Folder for the SQLite database and uploaded files.
    public var dataDirectory: String
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite file.
    public var databaseURL: String?
    public var logLevel: Logger.Level
    /// bcrypt cost: 12 in production; tests lower it to stay fast.
    public var bcryptCost: UInt8
    /// Marks session cookies `Secure` (serve behind TLS).
    public var secureCookies: Bool
    /// Largest accepted request body for JSON and forms, in bytes.
    public var maxBodyBytes: Int
    /// Folder of backup archives (`TILLYARD_BACKUP_DIR`; nil: `<data dir>/backups`).
    public var backupDirectory: String? = nil
    /// Scheduled backups and retention (`TILLYARD_BACKUP_EVERY`, `TILLYARD_BACKUP_KEEP`).
    public var backupSchedule = BackupSchedule()

    public init(host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = "./tillyard-data",
                databaseURL: String? = nil, logLevel: Logger.Level = .info, bcryptCost: UInt8 = 12,
                secureCookies: Bool = false, maxBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.logLevel = logLevel
        self.bcryptCost = bcryptCost
        self.secureCookies = secureCookies
        self.maxBodyBytes = maxBodyBytes
    }

    /// The folder backup archives go to.
    public var backupFolder: URL {
        backupDirectory.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("backups")
    }

    /// Where the data lives according to this configuration.
    public func databaseLocation() throws -> DatabaseLocation {
        try DatabaseLocation.resolve(dataDirectory: dataDirectory, databaseURL: databaseURL)
    }
}
