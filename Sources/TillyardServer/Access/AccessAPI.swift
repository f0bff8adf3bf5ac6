import Foundation
import Hummingbird
import TillyardKit

// MARK: - Response bodies (never the password hash or token secret)

/// An organisation as the API shows it.
struct OrgBody: Codable, Sendable {
    var id: String
    var parentId: String?
    var kind: OrgKind
    var name: String
    var code: String
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ org: Organization) {
        id = org.id.rawValue; parentId = org.parentId?.rawValue; kind = org.kind; name = org.name; code = org.code
        createdAt = org.createdAt; updatedAt = org.updatedAt; version = org.version
    }
}

/// A user as the API shows it.
struct UserBody: Codable, Sendable {
    var id: String
    var orgId: String
    var username: String
    var displayName: String
    var email: String?
    var role: Role
    var status: UserStatus
    var locale: String?
    var locked: Bool
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ user: User, now: Date = Date()) {
        id = user.id.rawValue; orgId = user.orgId.rawValue; username = user.username; displayName = user.displayName
        email = user.email; role = user.role; status = user.status; locale = user.locale
        locked = (user.lockedUntil ?? .distantPast) > now
        createdAt = user.createdAt; updatedAt = user.updatedAt; version = user.version
    }
}

/// An API token as the API shows it; `token` (the secret) only in the creation response.
struct TokenBody: Codable, Sendable {
    var id: String
    var name: String
    var userId: String
    var prefix: String
    var scopes: [Permission]
    var createdAt: Date
    var expiresAt: Date?
    var lastUsedAt: Date?
    var revokedAt: Date?
    var token: String?

    init(_ token: APIToken, plaintext: String? = nil) {
        id = token.id.rawValue; name = token.name; userId = token.userId.rawValue; prefix = token.prefix
        scopes = token.scopes.sorted(); createdAt = token.createdAt; expiresAt = token.expiresAt
        lastUsedAt = token.lastUsedAt; revokedAt = token.revokedAt; self.token = plaintext
    }
}

/// An audit event as the API shows it.
struct AuditEventBody: Codable, Sendable {
    var seq: Int64
    var at: Date
    var orgId: String
    var actor: AuditActor
    var action: String
    var resourceType: String
    var resourceId: String
    var outcome: AuditOutcome
    var origin: String
    var summary: [String: String]
    var hash: String
    var prevHash: String

    init(_ event: AuditEvent) {
        seq = event.seq; at = event.at; orgId = event.orgId.rawValue; actor = event.actor; action = event.action
        resourceType = event.resourceType; resourceId = event.resourceId; outcome = event.outcome; origin = event.origin
        summary = (try? JSONDecoder().decode([String: String].self, from: Data(event.summary.utf8))) ?? [:]
        hash = event.hash; prevHash = event.prevHash
    }
}

/// The caller and what they may do.
struct MeBody: Codable, Sendable {
    var user: UserBody
    var orgKind: OrgKind
    var permissions: [Permission]
    var via: String
}

/// Result of `GET /api/v1/audit-events/verify`.
struct VerifyBody: Codable, Sendable {
    var intact: Bool
    var checked: Int64
    var firstBrokenSeq: Int64?
    var reason: String?
}

// MARK: - Inputs

struct CreateOrgInput: APIInput {
    var parentId: String
    var kind: OrgKind
    var name: String
    var code: String
    enum CodingKeys: String, CodingKey, CaseIterable { case parentId, kind, name, code }
    typealias Field = CodingKeys
}

struct UpdateOrgInput: APIInput {
    var name: String?
    var code: String?
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case name, code, version }
    typealias Field = CodingKeys
}

struct CreateUserInput: APIInput {
    var orgId: String
    var username: String
    var displayName: String
    var email: String?
    var role: Role
    var password: String
    var locale: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case orgId, username, displayName, email, role, password, locale }
    typealias Field = CodingKeys
}

struct UpdateUserInput: APIInput {
    var displayName: String?
    var email: String?
    var role: Role?
    var status: UserStatus?
    var locale: String?
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case displayName, email, role, status, locale, version }
    typealias Field = CodingKeys
}

struct PasswordInput: APIInput {
    var newPassword: String
    /// Required for one's own change (see `AccessService.resetPassword`).
    var currentPassword: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case newPassword, currentPassword }
    typealias Field = CodingKeys
}

struct CreateTokenInput: APIInput {
    var name: String
    var scopes: [Permission]?
    var expiresInDays: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case name, scopes, expiresInDays }
    typealias Field = CodingKeys
}

// MARK: - Routes

/// `/api/v1` routes of the Access area: me, organisations, users, tokens, audit trail.
struct AccessAPI {
    let access: AccessService
    let routes: APIRoutes

    func register(on api: RouterGroup<AppRequestContext>) {
        let access = self.access
        let routes = self.routes

        api.get("me") { _, context in
            let principal = try context.requirePrincipal()
            let via: String
            switch principal.credential {
            case .token: via = "token"
            case .session: via = "session"
            case .commandLine: via = "cli"
            }
            return try JSONResponse.make(MeBody(user: UserBody(principal.user), orgKind: principal.orgKind,
                                                permissions: principal.permissions.sorted(), via: via))
        }

        api.get("dashboard") { _, context in
            try JSONResponse.make(try await access.dashboardCounts(by: try context.requirePrincipal()))
        }

        // Organisations
        api.get("orgs") { request, context in
            let principal = try context.requirePrincipal()
            let kind = try request.query("kind", as: OrgKind.self)
            let page = try await access.organizations(kind: kind, page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page, OrgBody.init))
        }
        api.post("orgs") { request, context in
            try await routes.create(request, context) { (input: CreateOrgInput, principal) in
                return OrgBody(try await access.createOrganization(
                    NewOrganization(parentId: try OrgID.parse(input.parentId, field: "parentId"), kind: input.kind, name: input.name, code: input.code), by: principal))
            }
        }
        api.get("orgs/:id") { _, context in
            let id: OrgID = try context.id("id", resource: "organization")
            return try JSONResponse.make(OrgBody(try await access.organization(id, by: try context.requirePrincipal())))
        }
        api.patch("orgs/:id") { request, context in
            let id: OrgID = try context.id("id", resource: "organization")
            return try await routes.update(request, context) { (input: UpdateOrgInput, principal) in
                OrgBody(try await access.renameOrganization(id, name: input.name, code: input.code,
                                                            expectedVersion: input.version, by: principal))
            }
        }

        // Users
        api.get("users") { request, context in
            let page = try await access.users(page: try request.pageRequest(), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(page) { UserBody($0) })
        }
        api.post("users") { request, context in
            try await routes.create(request, context) { (input: CreateUserInput, principal) in
                return UserBody(try await access.createUser(
                    NewUser(orgId: try OrgID.parse(input.orgId, field: "orgId"), username: input.username, displayName: input.displayName, email: input.email,
                            role: input.role, password: input.password, locale: input.locale), by: principal))
            }
        }
        api.get("users/:id") { _, context in
            let id: UserID = try context.id("id", resource: "user")
            return try JSONResponse.make(UserBody(try await access.user(id, by: try context.requirePrincipal())))
        }
        api.patch("users/:id") { request, context in
            let id: UserID = try context.id("id", resource: "user")
            return try await routes.update(request, context) { (input: UpdateUserInput, principal) in
                UserBody(try await access.updateUser(id, UserChanges(displayName: input.displayName, email: input.email, role: input.role,
                                                                     status: input.status, locale: input.locale,
                                                                     expectedVersion: input.version), by: principal))
            }
        }
        api.post("users/:id/password") { request, context in
            let id: UserID = try context.id("id", resource: "user")
            let principal = try context.requirePrincipal()
            let input = try await JSONIO.decode(PasswordInput.self, from: request, context: context)
            try await access.resetPassword(id, newPassword: input.newPassword, currentPassword: input.currentPassword, by: principal)
            return Response(status: .noContent)
        }

        // API tokens
        api.get("tokens") { request, context in
            let page = try await access.tokens(page: try request.pageRequest(), by: try context.requirePrincipal())
            return try JSONResponse.make(PageBody(page) { TokenBody($0) })
        }
        api.post("tokens") { request, context in
            // The secret is shown once: a replay of this create returns the token without it.
            try await routes.create(request, context, storedForReplay: Self.withoutSecret) { (input: CreateTokenInput, principal) in
                let issued = try await access.createToken(name: input.name, scopes: Set(input.scopes ?? []),
                                                          expiresInDays: input.expiresInDays, by: principal)
                return TokenBody(issued.token, plaintext: issued.plaintext)
            }
        }
        api.delete("tokens/:id") { _, context in
            let id: TokenID = try context.id("id", resource: "api_token")
            return try JSONResponse.make(TokenBody(try await access.revokeToken(id, by: try context.requirePrincipal())))
        }

        // Audit trail
        api.get("audit-events") { request, context in
            let principal = try context.requirePrincipal()
            let filter = try Self.auditFilter(request)
            let page = try await access.auditEvents(filter, page: try request.pageRequest(), by: principal)
            return try JSONResponse.make(PageBody(page, AuditEventBody.init))
        }
        api.get("audit-events/verify") { _, context in
            let principal = try context.requirePrincipal()
            try principal.require(.auditRead)
            // The chain spans every tenant: only the acquirer level may learn its length and breaks.
            guard principal.orgKind == .acquirer else {
                throw DomainError.forbidden("verifying the whole audit chain is for the acquirer's security staff")
            }
            let result = try await access.verifyAuditChain()
            return try JSONResponse.make(VerifyBody(intact: result.firstBreak == nil, checked: result.checked,
                                                    firstBrokenSeq: result.firstBreak?.seq, reason: result.firstBreak?.description))
        }
    }

    /// A token creation answer with the plaintext secret removed, for idempotent replays.
    @Sendable static func withoutSecret(_ buffer: ByteBuffer) -> ByteBuffer {
        guard var body = try? JSONIO.decoder().decode(TokenBody.self, from: Data(buffer: buffer)) else { return buffer }
        body.token = nil
        return (try? JSONIO.encode(body)) ?? buffer
    }

    /// The audit filter from query parameters (shared by the API and the console page).
    static func auditFilter(_ request: Request) throws -> AuditFilter {
        func date(_ name: String) throws -> Date? {
            guard let raw = request.query(name) else { return nil }
            if let date = try? Date(raw, strategy: .iso8601) { return date }
            if let day = try? Date(raw + "T00:00:00Z", strategy: .iso8601) { return day }
            throw DomainError.invalid(name, "must be a date (YYYY-MM-DD) or an ISO 8601 time")
        }
        let outcome = try request.query("outcome", as: AuditOutcome.self)
        return AuditFilter(action: request.query("action"), actorName: request.query("actor"),
                           resourceType: request.query("resourceType"), resourceId: request.query("resourceId"),
                           outcome: outcome, from: try date("from"), to: try date("to"))
    }
}
