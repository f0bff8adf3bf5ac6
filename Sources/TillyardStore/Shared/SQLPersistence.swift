import SQLKit
import TillyardKit

/// The repositories of every area, bound to one database session.
struct SQLRepositories: Repositories {
    let db: any SQLDatabase
    let backend: SQLBackend

    var orgs: any OrganizationRepository { SQLOrganizationRepository(db: db) }
    var users: any UserRepository { SQLUserRepository(db: db) }
    var sessions: any SessionRepository { SQLSessionRepository(db: db) }
    var tokens: any APITokenRepository { SQLAPITokenRepository(db: db) }
    var audit: any AuditRepository { SQLAuditRepository(db: db, backend: backend) }
    var idempotency: any IdempotencyRepository { SQLIdempotencyRepository(db: db) }
    var models: any TerminalModelRepository { SQLTerminalModelRepository(db: db) }
    var terminals: any TerminalRepository { SQLTerminalRepository(db: db, backend: backend) }
    var bindings: any BindingRepository { SQLBindingRepository(db: db) }
    var usage: any UsageLogRepository { SQLUsageLogRepository(db: db) }
    var purchases: any PurchaseRepository { SQLPurchaseRepository(db: db) }
    var merchants: any MerchantRepository { SQLMerchantRepository(db: db) }
    var products: any ProductRepository { SQLProductRepository(db: db, backend: backend) }
    var sales: any SaleRepository { SQLSaleRepository(db: db, backend: backend) }
    var shifts: any ShiftRepository { SQLShiftRepository(db: db) }
    var stock: any StockRepository { SQLStockRepository(db: db) }
    var registerSettings: any RegisterSettingsRepository { SQLRegisterSettingsRepository(db: db) }
    var payments: any PaymentRepository { SQLPaymentRepository(db: db) }
    var promotions: any PromotionRepository { SQLPromotionRepository(db: db) }
    var fleet: any FleetRepository { SQLFleetRepository(db: db) }
    var fleetOps: any FleetOperationsRepository { SQLFleetOperationsRepository(db: db) }
    var packages: any PackageRepository { SQLPackageRepository(db: db) }
    var campaigns: any CampaignRepository { SQLCampaignRepository(db: db) }
    var compliance: any ComplianceRepository { SQLComplianceRepository(db: db) }
    var service: any ServiceRepository { SQLServiceRepository(db: db) }
    var members: any MemberRepository { SQLMemberRepository(db: db) }
    var risk: any RiskRepository { SQLRiskRepository(db: db) }
    // Reports (issue 9)
    var reports: any ReportsRepository { SQLReportsRepository(db: db) }
    var notifications: any NotificationRepository { SQLNotificationRepository(db: db) }
}

/// `Persistence` over a SQLite or PostgreSQL `Database`.
public struct SQLPersistence: Persistence {
    public let database: Database

    public init(database: Database) { self.database = database }

    public func read<T: Sendable>(_ work: @escaping @Sendable (any Repositories) async throws -> T) async throws -> T {
        let backend = database.backend
        return try await database.session { try await work(SQLRepositories(db: $0, backend: backend)) }
    }

    public func write<T: Sendable>(_ work: @escaping @Sendable (any Repositories) async throws -> T) async throws -> T {
        let backend = database.backend
        return try await database.transaction { try await work(SQLRepositories(db: $0, backend: backend)) }
    }
}
