import Foundation

/// Organisation tree storage.
public protocol OrganizationRepository: Sendable {
    func insert(_ org: Organization) async throws
    func find(_ id: OrgID) async throws -> Organization?
    /// Organisations inside a subtree (by path prefix), optionally of one kind, newest first.
    func list(under path: String, kind: OrgKind?, page: PageRequest) async throws -> Page<Organization>
    func count(under path: String) async throws -> Int
    /// Saves changed fields if `org.version - 1` is still the stored version; else `conflict`.
    func update(_ org: Organization) async throws
}

/// User storage.
public protocol UserRepository: Sendable {
    /// Inserts; a taken username is a `conflict`.
    func insert(_ user: User) async throws
    func find(_ id: UserID) async throws -> User?
    func find(username: String) async throws -> User?
    /// Users whose organisation lies in the subtree, newest first.
    func list(under path: String, page: PageRequest) async throws -> Page<User>
    func count(under path: String) async throws -> Int
    /// Optimistic update: `user.version` must be the stored version + 1; else `conflict`.
    func update(_ user: User) async throws
    /// Records a login attempt's effect on the lock-out counters without a version bump.
    func recordLoginAttempt(_ id: UserID, failedLogins: Int, lockedUntil: Date?) async throws
    /// Counts one failed login atomically; at `threshold` failures locks the account until
    /// `lockUntil` and restarts the count. Returns whether this failure locked it.
    func recordFailedLogin(_ id: UserID, threshold: Int, lockUntil: Date) async throws -> Bool
}

/// Console session storage.
public protocol SessionRepository: Sendable {
    func insert(_ session: Session) async throws
    func find(idHash: String) async throws -> Session?
    func delete(idHash: String) async throws
    /// Ends all sessions of a user (password reset, disabling).
    func deleteAll(of user: UserID) async throws
}

/// API token storage.
public protocol APITokenRepository: Sendable {
    func insert(_ token: APIToken) async throws
    func find(_ id: TokenID) async throws -> APIToken?
    func find(prefix: String) async throws -> APIToken?
    /// Tokens of users in a subtree, or of one user; newest first.
    func list(under path: String, user: UserID?, page: PageRequest) async throws -> Page<APIToken>
    func revoke(_ id: TokenID, at: Date) async throws
    func touch(_ id: TokenID, at: Date) async throws
}

/// The audit chain's storage. `append` must serialise appenders so the chain never forks.
public protocol AuditRepository: Sendable {
    /// Links the draft after the current last event and stores it, in the caller's transaction.
    func append(_ draft: AuditDraft, orgPath: String, at: Date) async throws -> AuditEvent
    /// Events in a subtree matching the filter, newest first.
    func list(under path: String, filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEvent>
    /// Events with `seq > after`, in sequence order, at most `limit` (for verification).
    func scan(after seq: Int64, limit: Int) async throws -> [AuditEvent]
    /// Events in a subtree.
    func count(under path: String) async throws -> Int
}

/// A stored answer to an idempotent request.
public struct IdempotencyRecord: Sendable, Equatable {
    /// Who may replay it: the caller's credential (user or token), so keys never collide across callers.
    public var scope: String
    /// Organisation of the caller.
    public var orgId: OrgID
    public var key: String
    public var requestHash: String
    /// nil while the first request is still being processed.
    public var status: Int?
    public var body: Data?
    public var createdAt: Date

    public init(scope: String, orgId: OrgID, key: String, requestHash: String, status: Int?, body: Data?, createdAt: Date) {
        self.scope = scope
        self.orgId = orgId
        self.key = key
        self.requestHash = requestHash
        self.status = status
        self.body = body
        self.createdAt = createdAt
    }
}

/// Storage for `Idempotency-Key` replays.
public protocol IdempotencyRepository: Sendable {
    /// Inserts a pending claim; returns the existing record instead when the key is already taken.
    func claim(_ record: IdempotencyRecord) async throws -> IdempotencyRecord?
    /// Stores the response of a claimed key.
    func complete(scope: String, key: String, status: Int, body: Data) async throws
    /// Drops a claim whose request failed without a storable response.
    func release(scope: String, key: String) async throws
    /// Deletes records older than the given date.
    func purge(before: Date) async throws
}

/// The repositories, all bound to one database session (and transaction, when writing).
public protocol Repositories: Sendable {
    var orgs: any OrganizationRepository { get }
    var users: any UserRepository { get }
    var sessions: any SessionRepository { get }
    var tokens: any APITokenRepository { get }
    var audit: any AuditRepository { get }
    var idempotency: any IdempotencyRepository { get }
    var models: any TerminalModelRepository { get }
    var terminals: any TerminalRepository { get }
    var bindings: any BindingRepository { get }
    var usage: any UsageLogRepository { get }
    var purchases: any PurchaseRepository { get }
    var merchants: any MerchantRepository { get }
    var products: any ProductRepository { get }
    var sales: any SaleRepository { get }
    var shifts: any ShiftRepository { get }
    var stock: any StockRepository { get }
    var registerSettings: any RegisterSettingsRepository { get }
    var payments: any PaymentRepository { get }
    var promotions: any PromotionRepository { get }
    var fleet: any FleetRepository { get }
    var fleetOps: any FleetOperationsRepository { get }
    var packages: any PackageRepository { get }
    var campaigns: any CampaignRepository { get }
    var compliance: any ComplianceRepository { get }
    var service: any ServiceRepository { get }
    var members: any MemberRepository { get }
    var risk: any RiskRepository { get }
    // Reports (issue 9)
    var reports: any ReportsRepository { get }
    /// The console inbox (messages to one person).
    var notifications: any NotificationRepository { get }
}

/// Entry point to storage for services: units of work over the repositories.
///
/// Services never see a database handle; they ask for a read or a write and receive
/// repositories. A write is one transaction: all of it is stored, or none.
public protocol Persistence: Sendable {
    /// Runs read-only work.
    func read<T: Sendable>(_ work: @escaping @Sendable (any Repositories) async throws -> T) async throws -> T
    /// Runs work in one transaction, committed when it returns and rolled back when it throws.
    func write<T: Sendable>(_ work: @escaping @Sendable (any Repositories) async throws -> T) async throws -> T
}
