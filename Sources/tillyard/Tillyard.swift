import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TillyardKit
import TillyardServer
import TillyardStore

/// The `tillyard` command: server, migrations, demo data, users, audit verification and receipts.
@main
struct Tillyard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tillyard",
        abstract: "Tillyard: POS terminal estate management and cloud register.",
        subcommands: [Serve.self, Migrate.self, Demo.self, Users.self, Audit.self, ReceiptCommand.self, TerminalAgentCommand.self,
                      ReportsCommand.self,
                      BackupCommand.self, RestoreCommand.self])
}

/// Where the data lives and how loud to log; flags win over `TILLYARD_*` variables, which win over defaults.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data folder for the embedded SQLite database (env TILLYARD_DATA_DIR).")
    var dataDirectory: String?

    @Option(name: .customLong("database-url"), help: "postgres://user:password@host:port/db to use PostgreSQL (env TILLYARD_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env TILLYARD_LOG_LEVEL).")
    var logLevel: String?

    /// The configuration these options (and the environment) describe.
    func configuration() throws -> AppConfiguration {
        let env = ProcessInfo.processInfo.environment
        var configuration = AppConfiguration()
        configuration.dataDirectory = dataDirectory ?? env["TILLYARD_DATA_DIR"] ?? configuration.dataDirectory
        configuration.databaseURL = databaseURL ?? env["TILLYARD_DATABASE_URL"]
        let level = logLevel ?? env["TILLYARD_LOG_LEVEL"] ?? "info"
        guard let parsed = Logger.Level(rawValue: level) else {
            throw ValidationError("--log-level must be one of: trace, debug, info, notice, warning, error, critical")
        }
        configuration.logLevel = parsed
        if let cost = env["TILLYARD_BCRYPT_COST"].flatMap(UInt8.init), (4...31).contains(cost) { configuration.bcryptCost = cost }
        // Backups: where archives go, how often `serve` makes one, how many it keeps.
        configuration.backupDirectory = env["TILLYARD_BACKUP_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            configuration.backupSchedule = try BackupSchedule.parse(every: env["TILLYARD_BACKUP_EVERY"], keep: env["TILLYARD_BACKUP_KEEP"])
        } catch let error as DomainError {
            throw ValidationError(error.message)
        }
        return configuration
    }
}

/// Runs a command body with an open, migrated database, closing it afterwards and turning
/// domain errors into readable messages.
func withServices<T>(_ configuration: AppConfiguration, migrate: Bool = true,
                     _ body: (AppServices) async throws -> T) async throws -> T {
    var logger = Logger(label: "tillyard")
    logger.logLevel = configuration.logLevel
    let database: Database
    do {
        database = migrate ? try await openDatabase(configuration: configuration, logger: logger)
            : try await Database.open(try configuration.databaseLocation(), logger: logger)
    } catch {
        let place = (try? configuration.databaseLocation()).map { " \($0)" } ?? ""
        throw CLIError(message: "cannot open the database\(place): \(describe(error))")
    }
    let services: AppServices
    do {
        services = AppServices(database: database, bcryptCost: configuration.bcryptCost,
                               accountKey: try AccountKey.load(dataDirectory: configuration.dataDirectory),
                               documents: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("documents"),
                               packages: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("packages"),
                               memberKeys: try ProcessInfo.processInfo.environment["TILLYARD_MEMBER_KEYS"].map(MemberKeyring.parse) ?? [],
                               // Enforced risk alerts are posted there as JSON.
                               riskWebhook: ProcessInfo.processInfo.environment["TILLYARD_RISK_WEBHOOK"].flatMap(URL.init(string:)),
                               // Service desk escalations are posted there as JSON.
                               serviceWebhook: ProcessInfo.processInfo.environment["TILLYARD_SERVICE_WEBHOOK"].flatMap(URL.init(string:)),
                               dataDirectory: URL(fileURLWithPath: configuration.dataDirectory),
                               backupFolder: configuration.backupFolder, backupSchedule: configuration.backupSchedule)
    } catch {
        await database.close()
        throw CLIError(message: "cannot load the account or member keys: \(describe(error))")
    }
    do {
        let result = try await body(services)
        await database.close()
        return result
    } catch {
        await database.close()
        if error is CLIError || error is ExitCode || error is ValidationError { throw error }
        throw CLIError(message: describe(error))
    }
}

/// A readable message for any error.
func describe(_ error: any Error) -> String {
    if let error = error as? DomainError { return error.message }
    return String(describing: error)
}

/// An error printed as plain text, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server (migrates the database first).")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Address to listen on (env TILLYARD_HOST).") var host: String?
    @Option(help: "Port to listen on (env TILLYARD_PORT).") var port: Int?
    @Flag(help: "Fill an empty database with the demo installation and print the demo logins.") var demo = false

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var configuration = try storage.configuration()
        configuration.host = host ?? env["TILLYARD_HOST"] ?? configuration.host
        configuration.port = port ?? env["TILLYARD_PORT"].flatMap(Int.init) ?? configuration.port
        guard (1...65535).contains(configuration.port) else { throw ValidationError("--port must be from 1 to 65535") }
        try await withServices(configuration) { services in
            let url = "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(configuration.port)/console"
            if demo {
                let logins = try await DemoData.seed(services)
                print("Tillyard demo on \(services.database.location)")
                print("Console: \(url)")
                print("Demo logins (password for all: \(DemoData.password)):")
                for login in logins { print("  \(login.username.padding(toLength: 16, withPad: " ", startingAt: 0)) \(login.role.rawValue)") }
            } else if try await services.access.isEmpty() {
                let (admin, password) = try await services.access.bootstrap(rootName: "Acquirer", rootCode: "ACQ")
                print("First start: created the administrator account. This password is shown only once:")
                print("  username: \(admin.username)")
                print("  password: \(password)")
                print("Console: \(url)")
            } else {
                print("Console: \(url)")
            }
            let app = try await buildApplication(configuration: configuration, services: services)
            let timers = services.startTimers()
            defer { timers.cancel() }
            try await app.runService()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @OptionGroup var storage: StorageOptions
    @Flag(help: "Only list pending migrations; exit 1 when there are any.") var dryRun = false

    func run() async throws {
        try await withServices(try storage.configuration(), migrate: false) { services in
            let migrator = Migrator(database: services.database)
            let pending = try await migrator.pending()
            if dryRun {
                if pending.isEmpty { print("No pending migrations."); return }
                print("Pending migrations:")
                for migration in pending { print("  \(migration.version) \(migration.name)") }
                throw ExitCode(1)
            }
            let report = try await migrator.migrate()
            print(report.applied.isEmpty ? "Database is up to date." : "Applied: \(report.applied.joined(separator: ", "))")
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fill an empty database with the demo installation.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        try await withServices(try storage.configuration()) { services in
            let logins = try await DemoData.seed(services)
            print("Demo ready. Logins (password for all: \(DemoData.password)):")
            for login in logins { print("  \(login.username) (\(login.role.rawValue))") }
        }
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage users from the server's shell.",
                                                    subcommands: [Create.self, ResetPassword.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (acts as the administrator 'admin' unless --as is given).")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Login name.") var username: String
        @Option(name: .customLong("display-name"), help: "Full name.") var displayName: String
        @Option(help: "Role: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).") var role: String
        @Option(help: "Organisation code or id (default: the acting user's organisation).") var org: String?
        @Option(help: "Email address.") var email: String?
        @Option(help: "Password; generated and printed when omitted.") var password: String?
        @Option(name: .customLong("as"), help: "Existing user to act as (recorded in the audit trail).") var actor = "admin"

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be one of: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await withServices(try storage.configuration()) { services in
                let principal = try await services.access.principal(commandLineUser: actor)
                let orgId = try await resolveOrg(org, services: services, principal: principal)
                let secret = password ?? Secrets.generatedPassword()
                let user = try await services.access.createUser(
                    NewUser(orgId: orgId, username: username, displayName: displayName, email: email, role: role, password: secret),
                    by: principal)
                print("Created \(user.username) (\(user.role.rawValue)), id \(user.id).")
                if password == nil { print("Generated password (shown once): \(secret)") }
            }
        }

        private func resolveOrg(_ raw: String?, services: AppServices, principal: Principal) async throws -> OrgID {
            guard let raw else { return principal.user.orgId }
            if let id = OrgID(validating: raw) { return id }
            var page = PageRequest(limit: PageRequest.maxLimit)
            while true {
                let result = try await services.access.organizations(kind: nil, page: page, by: principal)
                if let match = result.items.first(where: { $0.code == raw }) { return match.id }
                guard let next = result.nextCursor else { break }
                page.cursor = next
            }
            throw CLIError(message: "no organisation with code or id '\(raw)' visible to \(principal.user.username)")
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reset-password",
                                                        abstract: "Set a new password, end the user's sessions and clear a lock-out.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Login name.") var username: String
        @Option(help: "New password; generated and printed when omitted.") var password: String?

        func run() async throws {
            try await withServices(try storage.configuration()) { services in
                // An operator with shell access to the server acts as the user's own administrator.
                let target = try await services.access.principal(commandLineUser: username)
                var operatorPrincipal = target
                operatorPrincipal.permissions = Set(Permission.allCases)
                let secret = password ?? Secrets.generatedPassword()
                try await services.access.resetPassword(target.user.id, newPassword: secret, by: operatorPrincipal)
                print("Password of \(target.user.username) reset.")
                if password == nil { print("New password (shown once): \(secret)") }
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Audit trail tools.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute the audit hash chain; exit 1 and name the first broken event if any.")

        @OptionGroup var storage: StorageOptions

        func run() async throws {
            try await withServices(try storage.configuration(), migrate: false) { services in
                let result = try await services.access.verifyAuditChain()
                if let broken = result.firstBreak {
                    print("AUDIT CHAIN BROKEN at event \(broken.seq): \(broken)")
                    print("\(result.checked) events before it are intact.")
                    throw ExitCode(1)
                }
                print("Audit chain intact: \(result.checked) events verified.")
            }
        }
    }
}
