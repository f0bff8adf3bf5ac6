import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the organisation tree.
struct SQLOrganizationRepository: OrganizationRepository {
    let db: any SQLDatabase

    func insert(_ org: Organization) async throws {
        do {
            try await db.raw("""
                INSERT INTO organizations (id, parent_id, kind, name, code, path, created_at, updated_at, version)
                VALUES (\(bind: org.id.rawValue), \(bind: org.parentId?.rawValue), \(bind: org.kind.rawValue), \(bind: org.name),
                        \(bind: org.code), \(bind: org.path), \(bind: org.createdAt.millis), \(bind: org.updatedAt.millis), \(bind: org.version))
                """).run()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("organization \(org.id) already exists")
        }
    }

    func find(_ id: OrgID) async throws -> Organization? {
        try await db.raw("SELECT * FROM organizations WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func list(under path: String, kind: OrgKind?, page: PageRequest) async throws -> Page<Organization> {
        let range = Subtree(path)
        let query = db.select().column("*").from("organizations")
            .where("path", .greaterThanOrEqual, range.lower).where("path", .lessThan, range.upper)
        if let kind { query.where("kind", .equal, kind.rawValue) }
        if let after = page.afterKey { query.where("id", .lessThan, after) }
        let rows = try await query.orderBy("id", .descending).limit(page.limit + 1).all().map(Self.decode)
        return Page.from(rows: rows, limit: page.limit) { $0.id.rawValue }
    }

    func count(under path: String) async throws -> Int {
        let range = Subtree(path)
        return try await db.raw("""
            SELECT COUNT(*) AS n FROM organizations WHERE path >= \(bind: range.lower) AND path < \(bind: range.upper)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func update(_ org: Organization) async throws {
        let changed = try await db.raw("""
            UPDATE organizations SET name = \(bind: org.name), code = \(bind: org.code), updated_at = \(bind: org.updatedAt.millis),
                   version = \(bind: org.version)
            WHERE id = \(bind: org.id.rawValue) AND version = \(bind: org.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("organization \(org.id) was changed by someone else") }
    }

    static func decode(_ row: any SQLRow) throws -> Organization {
        Organization(
            id: OrgID(rawValue: try row.decode(column: "id", as: String.self)),
            parentId: try row.decode(column: "parent_id", as: String?.self).map(OrgID.init(rawValue:)),
            kind: try row.enumValue("kind", as: OrgKind.self),
            name: try row.decode(column: "name", as: String.self),
            code: try row.decode(column: "code", as: String.self),
            path: try row.decode(column: "path", as: String.self),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}

/// SQL storage of users.
struct SQLUserRepository: UserRepository {
    let db: any SQLDatabase

    func insert(_ user: User) async throws {
        do {
            try await db.raw("""
                INSERT INTO users (id, org_id, username, display_name, email, role, status, locale, password_hash,
                                   failed_logins, locked_until, created_at, updated_at, version)
                VALUES (\(bind: user.id.rawValue), \(bind: user.orgId.rawValue), \(bind: user.username), \(bind: user.displayName),
                        \(bind: user.email), \(bind: user.role.rawValue), \(bind: user.status.rawValue), \(bind: user.locale),
                        \(bind: user.passwordHash), \(bind: user.failedLogins), \(bind: user.lockedUntil.millis),
                        \(bind: user.createdAt.millis), \(bind: user.updatedAt.millis), \(bind: user.version))
                """).run()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("username \(user.username) is taken")
        }
    }

    func find(_ id: UserID) async throws -> User? {
        try await db.raw("SELECT * FROM users WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(username: String) async throws -> User? {
        try await db.raw("SELECT * FROM users WHERE username = \(bind: username)").first().map(Self.decode)
    }

    func list(under path: String, page: PageRequest) async throws -> Page<User> {
        let range = Subtree(path)
        var query: SQLQueryString = """
            SELECT u.* FROM users u JOIN organizations o ON o.id = u.org_id
            WHERE o.path >= \(bind: range.lower) AND o.path < \(bind: range.upper)
            """
        if let after = page.afterKey { query += " AND u.id < \(bind: after)" }
        query += " ORDER BY u.id DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all().map(Self.decode)
        return Page.from(rows: rows, limit: page.limit) { $0.id.rawValue }
    }

    func count(under path: String) async throws -> Int {
        let range = Subtree(path)
        return try await db.raw("""
            SELECT COUNT(*) AS n FROM users u JOIN organizations o ON o.id = u.org_id
            WHERE o.path >= \(bind: range.lower) AND o.path < \(bind: range.upper)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func update(_ user: User) async throws {
        let changed = try await db.raw("""
            UPDATE users SET display_name = \(bind: user.displayName), email = \(bind: user.email), role = \(bind: user.role.rawValue),
                   status = \(bind: user.status.rawValue), locale = \(bind: user.locale), password_hash = \(bind: user.passwordHash),
                   failed_logins = \(bind: user.failedLogins), locked_until = \(bind: user.lockedUntil.millis),
                   updated_at = \(bind: user.updatedAt.millis), version = \(bind: user.version)
            WHERE id = \(bind: user.id.rawValue) AND version = \(bind: user.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("user \(user.id) was changed by someone else") }
    }

    func recordLoginAttempt(_ id: UserID, failedLogins: Int, lockedUntil: Date?) async throws {
        try await db.raw("""
            UPDATE users SET failed_logins = \(bind: failedLogins), locked_until = \(bind: lockedUntil.millis)
            WHERE id = \(bind: id.rawValue)
            """).run()
    }

    func recordFailedLogin(_ id: UserID, threshold: Int, lockUntil: Date) async throws -> Bool {
        // The row lock of the UPDATE (and SQLite's single writer) serialises concurrent failures.
        let failures = try await db.raw("""
            UPDATE users SET failed_logins = failed_logins + 1 WHERE id = \(bind: id.rawValue) RETURNING failed_logins
            """).first()?.decode(column: "failed_logins", as: Int.self) ?? 0
        guard failures >= threshold else { return false }
        try await recordLoginAttempt(id, failedLogins: 0, lockedUntil: lockUntil)
        return true
    }

    static func decode(_ row: any SQLRow) throws -> User {
        User(
            id: UserID(rawValue: try row.decode(column: "id", as: String.self)),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            username: try row.decode(column: "username", as: String.self),
            displayName: try row.decode(column: "display_name", as: String.self),
            email: try row.decode(column: "email", as: String?.self),
            role: try row.enumValue("role", as: Role.self),
            status: try row.enumValue("status", as: UserStatus.self),
            locale: try row.decode(column: "locale", as: String?.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            failedLogins: try row.decode(column: "failed_logins", as: Int.self),
            lockedUntil: try row.date("locked_until"),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}

/// SQL storage of console sessions.
struct SQLSessionRepository: SessionRepository {
    let db: any SQLDatabase

    func insert(_ session: Session) async throws {
        try await db.raw("""
            INSERT INTO sessions (id_hash, user_id, org_id, csrf_token, created_at, expires_at, origin)
            VALUES (\(bind: session.idHash), \(bind: session.userId.rawValue), \(bind: session.orgId.rawValue), \(bind: session.csrfToken),
                    \(bind: session.createdAt.millis), \(bind: session.expiresAt.millis), \(bind: session.origin))
            """).run()
    }

    func find(idHash: String) async throws -> Session? {
        try await db.raw("SELECT * FROM sessions WHERE id_hash = \(bind: idHash)").first().map { row in
            Session(idHash: try row.decode(column: "id_hash", as: String.self),
                    userId: UserID(rawValue: try row.decode(column: "user_id", as: String.self)),
                    orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                    csrfToken: try row.decode(column: "csrf_token", as: String.self),
                    createdAt: try row.requiredDate("created_at"), expiresAt: try row.requiredDate("expires_at"),
                    origin: try row.decode(column: "origin", as: String.self))
        }
    }

    func delete(idHash: String) async throws {
        try await db.raw("DELETE FROM sessions WHERE id_hash = \(bind: idHash)").run()
    }

    func deleteAll(of user: UserID) async throws {
        try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: user.rawValue)").run()
    }
}

/// SQL storage of API tokens.
struct SQLAPITokenRepository: APITokenRepository {
    let db: any SQLDatabase

    func insert(_ token: APIToken) async throws {
        try await db.raw("""
            INSERT INTO api_tokens (id, org_id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at)
            VALUES (\(bind: token.id.rawValue), \(bind: token.orgId.rawValue), \(bind: token.userId.rawValue), \(bind: token.name),
                    \(bind: token.prefix), \(bind: token.secretHash), \(bind: token.scopes.map(\.rawValue).sorted().joined(separator: " ")),
                    \(bind: token.createdAt.millis), \(bind: token.expiresAt.millis), \(bind: token.lastUsedAt.millis), \(bind: token.revokedAt.millis))
            """).run()
    }

    func find(_ id: TokenID) async throws -> APIToken? {
        try await db.raw("SELECT * FROM api_tokens WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(prefix: String) async throws -> APIToken? {
        try await db.raw("SELECT * FROM api_tokens WHERE prefix = \(bind: prefix)").first().map(Self.decode)
    }

    func list(under path: String, user: UserID?, page: PageRequest) async throws -> Page<APIToken> {
        let range = Subtree(path)
        var query: SQLQueryString = """
            SELECT t.* FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN organizations o ON o.id = u.org_id
            WHERE o.path >= \(bind: range.lower) AND o.path < \(bind: range.upper)
            """
        if let user { query += " AND t.user_id = \(bind: user.rawValue)" }
        if let after = page.afterKey { query += " AND t.id < \(bind: after)" }
        query += " ORDER BY t.id DESC LIMIT \(bind: page.limit + 1)"
        let rows = try await db.raw(query).all()
        return Page.from(rows: try rows.map(Self.decode), limit: page.limit) { $0.id.rawValue }
    }

    func revoke(_ id: TokenID, at: Date) async throws {
        try await db.raw("UPDATE api_tokens SET revoked_at = \(bind: at.millis) WHERE id = \(bind: id.rawValue) AND revoked_at IS NULL").run()
    }

    func touch(_ id: TokenID, at: Date) async throws {
        try await db.raw("UPDATE api_tokens SET last_used_at = \(bind: at.millis) WHERE id = \(bind: id.rawValue)").run()
    }

    static func decode(_ row: any SQLRow) throws -> APIToken {
        let scopes = try row.decode(column: "scopes", as: String.self).split(separator: " ").compactMap { Permission(rawValue: String($0)) }
        return APIToken(
            id: TokenID(rawValue: try row.decode(column: "id", as: String.self)),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            userId: UserID(rawValue: try row.decode(column: "user_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            prefix: try row.decode(column: "prefix", as: String.self),
            secretHash: try row.decode(column: "secret_hash", as: String.self),
            scopes: Set(scopes),
            createdAt: try row.requiredDate("created_at"),
            expiresAt: try row.date("expires_at"),
            lastUsedAt: try row.date("last_used_at"),
            revokedAt: try row.date("revoked_at"))
    }
}
