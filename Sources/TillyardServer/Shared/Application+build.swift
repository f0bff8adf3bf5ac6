import Foundation
import Hummingbird
import Logging
import TillyardKit
import TillyardStore

/// The services of a running Tillyard, built once by the composition root.
public struct AppServices: Sendable {
    public let database: Database
    public let store: any Persistence
    public let access: AccessService
    public let estate: EstateService
    public let merchants: MerchantService
    public let catalog: CatalogService
    public let sales: SalesService
    public let promotions: PromotionService
    public let fleet: FleetService
    /// Software packages, update campaigns and the heartbeat's update offers.
    public let campaigns: CampaignService
    public let compliance: ComplianceService
    /// Tickets, dispatch, repairs, inspections and the knowledge base.
    public let service: ServiceDeskService
    /// Members, their ledgers and the member program.
    public let members: MemberService
    /// Risk rules, alerts and cases, settlement reconciliation, monitoring.
    public let risk: RiskService
    // Reports (issue 9)
    /// Sales statistics, transaction figures and the fleet dashboard, from the rollups.
    public let reports: ReportsService
    /// The console inbox of each person (escalations, …).
    public let notifications: NotificationService
    /// Backup archives of the installation: on demand, on a schedule, with retention.
    public let backups: BackupService
    public let metrics: AppMetrics

    /// Wires the domain services over an open database.
    ///
    /// `accountKey` keys the fingerprints of settlement accounts and the encryption of merchant
    /// documents; `serve` passes the installation's key (see `AccountKey`). The default, a fresh
    /// random key, suits tests and one-off commands whose fingerprints need not match later ones.
    /// `documents` is the folder of uploaded documents (`<data dir>/documents` for `serve`;
    /// `defaultDocumentsFolder(for:)` when nil). `packages` is the folder of software package files
    /// (`<data dir>/packages` for `serve`; beside the documents folder when nil). `memberKeys` are
    /// further member data keys after `k1` (the installation key), the last one sealing (`TILLYARD_MEMBER_KEYS`).
    /// `riskWebhook` receives enforced risk alerts as JSON (none when nil); `serviceWebhook` the
    /// service desk's escalations. `dataDirectory` is the folder whose files backups copy (the SQLite
    /// database's folder when nil; none on PostgreSQL); `backupFolder` where archives go (`<data dir>/backups` when nil).
    public init(database: Database, bcryptCost: UInt8 = 12, clock: Clock = .system,
                accountKey: Data = AccountKey.random(), documents: URL? = nil, packages: URL? = nil,
                memberKeys: [(id: String, secret: Data)] = [], riskWebhook: URL? = nil, serviceWebhook: URL? = nil,
                dataDirectory: URL? = nil, backupFolder: URL? = nil, backupSchedule: BackupSchedule = BackupSchedule()) {
        self.database = database
        self.store = SQLPersistence(database: database)
        self.access = AccessService(store: store, hasher: BcryptHasher(cost: bcryptCost), clock: clock)
        // One memory of terminal contexts, shared so estate changes reach the terminal protocol at once.
        let terminalContexts = TerminalDirectory()
        self.estate = EstateService(store: store, clock: clock, terminalContexts: terminalContexts)
        let folder = documents ?? Self.defaultDocumentsFolder(for: database)
        let vault = FileDocumentVault(root: folder, cipher: DocumentCipher(secret: accountKey))
        self.merchants = MerchantService(store: store, vault: vault, protector: AccountProtector(key: accountKey), clock: clock)
        // Ticket attachments share the documents' encrypted vault.
        self.service = ServiceDeskService(store: store, estate: estate, vault: vault, clock: clock,
                                          notifier: serviceWebhook.map { WebhookNotifier(url: $0) })
        self.notifications = NotificationService(store: store, clock: clock)
        self.catalog = CatalogService(store: store, clock: clock, saleContext: access.saleContext)
        self.promotions = PromotionService(store: store, clock: clock, saleContext: access.saleContext)
        self.fleet = FleetService(store: store, secret: accountKey, clock: clock, directory: terminalContexts)
        self.campaigns = CampaignService(store: store, files: FilePackageFiles(root: packages ?? Self.packagesFolder(besides: folder)), clock: clock)
        self.compliance = ComplianceService(store: store, clock: clock)
        self.members = MemberService(store: store, keyring: .installation(accountKey, extra: memberKeys), clock: clock)
        self.risk = RiskService(store: store, clock: clock)
        // Reports (issue 9): online means heard from within the fleet's own threshold.
        self.reports = ReportsService(store: store, clock: clock, onlineThreshold: fleet.onlineThreshold)
        if let riskWebhook { fleet.riskNotifier.set(WebhookNotifier(url: riskWebhook)) }
        // The merchant-day rules also run on a schedule, started by uploads off their request path.
        let risk = self.risk
        fleet.riskSchedule.set { acquirer, now in try await risk.sweep(acquirer: acquirer, at: now) }
        // The heartbeat asks the campaigns what to offer, from their memory (no read on that path).
        let campaigns = self.campaigns
        fleet.updates.set { terminal, ownerPath, heartbeat, now in
            campaigns.offer(terminal: terminal, ownerPath: ownerPath, heartbeat: heartbeat, now: now)
        }
        // The built-in wallet provider is the simulator; a real gateway is plugged in here.
        self.sales = SalesService(store: store, access: access, payments: SimulatedPaymentProvider(), clock: clock, secret: accountKey)
        self.metrics = AppMetrics()
        let dataFolder = dataDirectory ?? Self.sqliteFolder(of: database)
        let archives = backupFolder ?? Self.defaultBackupFolder(dataDirectory: dataFolder, database: database)
        self.backups = BackupService(store: store, maker: ArchiveBackup(database: database, dataDirectory: dataFolder, installationKey: accountKey,
                                                                        excluded: [archives]),
                                     folder: archives, schedule: backupSchedule, clock: clock)
    }
}

extension AppServices {
    /// Starts the background clockwork of `serve`: the service desk's `tick` (SLA escalations,
    /// auto-close, inspection planning) and the counts of refused terminal requests whose window
    /// closed (`RefusalThrottle`) every `interval`. `tick` is idempotent, so several nodes may
    /// run it; a failed tick is logged and the next one tries again. Scheduled backups
    /// (`BackupService.runOnSchedule`) run beside it. Cancel the task to stop both.
    public func startTimers(every interval: Duration = .seconds(60), logger: Logger = Logger(label: "tillyard.timers")) -> Task<Void, Never> {
        let service = self.service
        let fleet = self.fleet
        return Task {
            // Backups run in a loop of their own: one may take minutes and must not hold up the tick.
            let backups = self.backups
            let backupLoop = Task { await backups.runOnSchedule() }
            defer { backupLoop.cancel() }
            while !Task.isCancelled {
                do {
                    try await service.tick()
                } catch {
                    logger.error("service desk tick failed: \(error)")
                }
                do {
                    try await fleet.flushRefusals(at: fleet.clock.now())
                } catch {
                    logger.error("writing the counts of refused terminal requests failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// The folder of an SQLite database (its data folder); nil on PostgreSQL.
    static func sqliteFolder(of database: Database) -> URL? {
        guard case .sqlite(let path) = database.location else { return nil }
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }

    /// `<data dir>/backups`, or without a data folder a temporary folder named after the PostgreSQL database.
    public static func defaultBackupFolder(dataDirectory: URL?, database: Database) -> URL {
        if let dataDirectory { return dataDirectory.appendingPathComponent("backups") }
        return defaultDocumentsFolder(for: database).appendingPathExtension("backups")
    }

    /// The package folder next to a documents folder (`<data dir>/documents` → `<data dir>/packages`).
    static func packagesFolder(besides documents: URL) -> URL {
        let name = documents.lastPathComponent == "documents" ? "packages" : documents.lastPathComponent + "-packages"
        return documents.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Where documents go when no folder is given: beside an SQLite database (its data folder), or
    /// a temporary folder named after a PostgreSQL database, so removing the database's folder or
    /// knowing its name is enough to clean up after tests.
    public static func defaultDocumentsFolder(for database: Database) -> URL {
        switch database.location {
        case .sqlite(let path):
            return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("documents")
        case .postgres(let url):
            let name = URLComponents(string: url)?.path.split(separator: "/").last.map(String.init) ?? "postgres"
            return FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-documents-\(name)")
        }
    }
}

/// Builds the router: every route of the API, the console and operations, behind the one
/// error middleware. Exposed separately so tests can list the registered routes.
public func buildRouter(services: AppServices, configuration: AppConfiguration, console: ConsoleRenderer) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    // Method and path only, at debug: bodies may carry personal data and are never logged.
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: MetricsMiddleware(metrics: services.metrics))
    router.add(middleware: ErrorMiddleware(console: console))
    router.add(middleware: AuthMiddleware(access: services.access, bodyLimit: configuration.maxBodyBytes))
    router.add(middleware: UnreadNotificationsMiddleware(notifications: services.notifications))

    let openAPI = try String(contentsOf: ConsoleRenderer.bundledResources.appendingPathComponent("openapi.yaml"), encoding: .utf8)
    OperationsRoutes(database: services.database, metrics: services.metrics, openAPI: openAPI).register(on: router)

    let routes = APIRoutes(idempotency: Idempotency(store: services.store, clock: services.access.clock))
    let api = router.group("api/v1")
    AccessAPI(access: services.access, routes: routes).register(on: api)
    EstateAPI(estate: services.estate, routes: routes).register(on: api)
    PurchaseAPI(estate: services.estate, routes: routes).register(on: api)
    MerchantAPI(merchants: services.merchants, routes: routes).register(on: api)
    CatalogAPI(catalog: services.catalog, routes: routes).register(on: api)
    SalesAPI(sales: services.sales, routes: routes).register(on: api)
    PromotionAPI(promotions: services.promotions, routes: routes).register(on: api)
    MemberAPI(members: services.members, routes: routes).register(on: api)
    TerminalProtocolAPI(fleet: services.fleet, routes: routes).register(api: api, router: router)
    FleetOperationsAPI(fleet: services.fleet, routes: routes).register(api: api, terminal: router.group("terminal/v1"))
    CampaignAPI(campaigns: services.campaigns, compliance: services.compliance, fleet: services.fleet, routes: routes).register(api: api, router: router)
    ServiceAPI(service: services.service, fleet: services.fleet, routes: routes).register(api: api, terminal: router.group("terminal/v1"))
    RiskAPI(risk: services.risk, fleet: services.fleet, routes: routes).register(api: api, terminal: router.group("terminal/v1"))
    Printouts.register(sales: services.sales, api: api, router: router)
    // Reports (issue 9)
    ReportsAPI(reports: services.reports).register(on: api)

    ConsoleController(access: services.access, renderer: console, secureCookies: configuration.secureCookies).register(on: router)
    EstateConsole(estate: services.estate, access: services.access, merchants: services.merchants, renderer: console,
                  forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    PurchaseConsole(estate: services.estate, renderer: console,
                    forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    MerchantConsole(merchants: services.merchants, access: services.access, renderer: console,
                    forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    CatalogConsole(catalog: services.catalog, sales: services.sales, renderer: console,
                   forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    PromotionConsole(promotions: services.promotions, access: services.access, renderer: console,
                     forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    RegisterConsole(sales: services.sales, renderer: console).register(on: router)
    MemberConsole(members: services.members, access: services.access, renderer: console,
                  forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    FleetConsole(fleet: services.fleet, renderer: console, forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    RiskConsole(risk: services.risk, renderer: console, forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    CampaignConsole(campaigns: services.campaigns, compliance: services.compliance, renderer: console,
                    forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    ServiceConsole(service: services.service, renderer: console, forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    // Reports (issue 9)
    ReportsConsole(reports: services.reports, renderer: console, forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    NotificationConsole(notifications: services.notifications, renderer: console,
                        forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    BackupConsole(backups: services.backups, renderer: console, forms: ConsoleForms(access: services.access, renderer: console)).register(on: router)
    return router
}

/// The composition root: an application over an already open database (tests, and `serve`
/// after it has migrated).
public func buildApplication(configuration: AppConfiguration, services: AppServices) async throws -> some ApplicationProtocol {
    var logger = Logger(label: "tillyard")
    logger.logLevel = configuration.logLevel
    let console = try await ConsoleRenderer.load(resources: ConsoleRenderer.bundledResources)
    let router = try buildRouter(services: services, configuration: configuration, console: console)
    let fleet = services.fleet, metrics = services.metrics
    // The heartbeat fast lane sits in each connection's pipeline, in front of the router.
    return Application(router: router,
                       server: .http1(configuration: .init(additionalChannelHandlers: [TerminalGateway(fleet: fleet, metrics: metrics)])),
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Tillyard"),
                       logger: logger)
}

/// Opens the database the configuration names and applies pending migrations (serve migrates on start).
public func openDatabase(configuration: AppConfiguration, logger: Logger) async throws -> Database {
    let database = try await Database.open(try configuration.databaseLocation(), logger: logger)
    do {
        try await Migrator(database: database).migrate()
    } catch {
        await database.close()
        throw error
    }
    return database
}
