import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// A thrown error that tests use to abort a transaction on purpose.
struct Boom: Error {}

extension DomainError {
    /// The field names of a validation error (empty for other cases).
    var fieldNames: [String] {
        if case .validation(let fields) = self { return fields.map(\.field) }
        return []
    }

    var isConflict: Bool {
        if case .conflict = self { return true }
        return false
    }

    var isForbidden: Bool {
        if case .forbidden = self { return true }
        return false
    }

    var isTooManyRequests: Bool {
        if case .tooManyRequests = self { return true }
        return false
    }
}

/// Builders for rows with millisecond-precise dates, so round trips can compare with `==`.
enum Rows {
    /// A fixed instant with a millisecond part, as stored.
    static let base = EpochMillis.date(1_790_000_000_123)

    static func at(_ seconds: Double) -> Date { EpochMillis.date(EpochMillis.from(base.addingTimeInterval(seconds))) }

    static func org(_ id: OrgID = .generate(now: base), under parent: Organization?, kind: OrgKind, name: String,
                    created: Date = base, version: Int = 1) -> Organization {
        Organization(id: id, parentId: parent?.id, kind: kind, name: name, code: name.uppercased(),
                     path: Organization.path(for: id, under: parent), createdAt: created,
                     updatedAt: EpochMillis.date(EpochMillis.from(created) + 1), version: version)
    }

    static func user(_ name: String, in org: Organization, role: Role = .administrator, created: Date = base) -> User {
        User(id: .generate(now: created), orgId: org.id, username: name, displayName: name.capitalized, email: nil,
             role: role, passwordHash: "hash-of-\(name)", createdAt: created, updatedAt: created)
    }
}

/// An access service over a fresh database with the standard fixtures and a movable clock.
struct AccessHarness {
    let backend: TestBackend
    let database: Database
    let clock: TestClock
    let services: AppServices
    let fixtures: Fixtures

    var access: AccessService { services.access }
    var store: any Persistence { services.store }

    static func with(_ backend: TestBackend, _ body: (AccessHarness) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let clock = TestClock()
            let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock)
            let fixtures = try await Fixtures.make(services.access)
            try await body(AccessHarness(backend: backend, database: database, clock: clock, services: services, fixtures: fixtures))
        }
    }

    /// A fixture user by its fixture name ("merchantA.owner", …).
    func user(_ name: String) throws -> User { try #require(fixtures.users[name]) }

    /// The operator principal of a fixture user (same permissions and subtree as a session).
    func principal(_ name: String) async throws -> Principal {
        try await access.principal(commandLineUser: try user(name).username)
    }

    /// A console-session principal of a fixture user, by logging in.
    func sessionPrincipal(_ name: String) async throws -> Principal {
        let login = try await access.login(username: try user(name).username, password: Fixtures.password, origin: "10.1.1.1")
        return try #require(try await access.principal(sessionSecret: login.cookieSecret, origin: "10.1.1.1"))
    }

    /// The stored state of an organisation.
    func org(_ id: OrgID) async throws -> Organization {
        let found = try await store.read { try await $0.orgs.find(id) }
        return try #require(found)
    }

    /// The stored state of a user.
    func stored(_ id: UserID) async throws -> User {
        let found = try await store.read { try await $0.users.find(id) }
        return try #require(found)
    }

    /// All audit events (newest first) matching a filter.
    func events(_ filter: AuditFilter = AuditFilter()) async throws -> [AuditEvent] {
        try await store.read { try await $0.audit.list(under: "/", filter: filter, page: PageRequest(limit: 200)) }.items
    }

    /// Audit events of one action about one resource, newest first.
    func events(_ action: String, resourceId: String, outcome: AuditOutcome? = nil) async throws -> [AuditEvent] {
        try await events(AuditFilter(action: action, resourceId: resourceId, outcome: outcome))
    }

    /// The whole audit chain still verifies and covers every stored event.
    func expectChainIntact(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await access.verifyAuditChain(batchSize: 7)
        #expect(result.firstBreak == nil, sourceLocation: sourceLocation)
        let total = try await database.session { db in
            try await db.raw("SELECT COUNT(*) AS n FROM audit_events").first()?.decode(column: "n", as: Int64.self) ?? -1
        }
        #expect(result.checked == total, sourceLocation: sourceLocation)
    }
}

/// Walks every page of a listing with a small limit; fails on an endless loop.
func allPages<T: Sendable>(limit: Int, _ fetch: (PageRequest) async throws -> Page<T>) async throws -> [[T]] {
    var pages: [[T]] = []
    var cursor: String?
    repeat {
        let page = try await fetch(PageRequest(limit: limit, cursor: cursor))
        pages.append(page.items)
        cursor = page.nextCursor
        if pages.count > 1000 { Issue.record("paging does not end"); break }
    } while cursor != nil
    return pages
}
