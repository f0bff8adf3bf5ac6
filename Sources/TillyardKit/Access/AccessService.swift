import Foundation

/// Input for a new organisation.
public struct NewOrganization: Sendable {
    public var parentId: OrgID?
    public var kind: OrgKind
    public var name: String
    public var code: String

    public init(parentId: OrgID?, kind: OrgKind, name: String, code: String) {
        self.parentId = parentId
        self.kind = kind
        self.name = name
        self.code = code
    }
}

/// Input for a new user.
public struct NewUser: Sendable {
    public var orgId: OrgID
    public var username: String
    public var displayName: String
    public var email: String?
    public var role: Role
    public var password: String
    public var locale: String?

    public init(orgId: OrgID, username: String, displayName: String, email: String? = nil, role: Role, password: String, locale: String? = nil) {
        self.orgId = orgId
        self.username = username
        self.displayName = displayName
        self.email = email
        self.role = role
        self.password = password
        self.locale = locale
    }
}

/// Changes to a user; nil fields stay as they are.
public struct UserChanges: Sendable {
    public var displayName: String?
    public var email: String?
    public var role: Role?
    public var status: UserStatus?
    public var locale: String?
    /// The version the caller last saw (optimistic concurrency).
    public var expectedVersion: Int

    public init(displayName: String? = nil, email: String? = nil, role: Role? = nil, status: UserStatus? = nil,
                locale: String? = nil, expectedVersion: Int) {
        self.displayName = displayName
        self.email = email
        self.role = role
        self.status = status
        self.locale = locale
        self.expectedVersion = expectedVersion
    }
}

/// A successful console login: the cookie secret (shown to the browser only) and its session.
public struct LoginResult: Sendable {
    public var cookieSecret: String
    public var session: Session
    public var user: User
}

/// A new API token: the full secret is in `plaintext`, available this once.
public struct IssuedToken: Sendable {
    public var token: APIToken
    public var plaintext: String
}

/// Counts shown on the dashboard, within the caller's subtree.
public struct DashboardCounts: Sendable, Equatable, Codable {
    public var organizations: Int
    public var users: Int
    public var auditEvents: Int
}

/// Result of verifying the audit chain.
public struct AuditVerification: Sendable, Equatable {
    /// Events that checked out before the first break (all of them when intact).
    public var checked: Int64
    /// The first break, nil when the chain is intact.
    public var firstBreak: AuditChain.Break?
    /// The hash of the last event that checked out (`AuditChain.genesis` for an empty chain): with
    /// `checked`, what a backup's manifest records and a restore compares.
    public var headHash: String = AuditChain.genesis
}

/// Organisations, users, logins, tokens and the audit trail: every rule of the Access area.
///
/// Every change appends an audit event in the same transaction as the change itself, so the
/// trail can never miss a change that was stored.
public struct AccessService: Sendable {
    public let store: any Persistence
    public let hasher: any PasswordHasher
    public let clock: Clock
    /// Console session lifetime.
    public var sessionLifetime: TimeInterval = 12 * 3600

    /// A hash made with the configured hasher (so with its cost), checked against for unknown
    /// usernames so that the answer takes as long as for a real one.
    private let timingDummyHash: String
    /// API tokens recently resolved (a register sends many requests a minute with the same one).
    private let tokenCache = TokenCache()
    /// What register uploads are priced and checked with, kept briefly (`SaleContextCache`): shared
    /// with the sales, catalog and promotion services, which empty it when they change such things.
    public let saleContext = SaleContextCache()

    /// Forgets the principals and sale contexts read recently, after a change to tokens, users or organisations.
    private func forgetReadings() {
        tokenCache.removeAll()
        saleContext.removeAll()
    }

    public init(store: any Persistence, hasher: any PasswordHasher, clock: Clock = .system) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.timingDummyHash = hasher.hash(Secrets.randomHex(bytes: 16))
    }

    // MARK: - Bootstrap

    /// Whether the installation has no users yet.
    public func isEmpty() async throws -> Bool {
        try await store.read { try await $0.users.count(under: "/") == 0 }
    }

    /// Creates the root organisation and its first administrator on an empty database.
    /// Returns the generated password, which is printed once and never stored in clear.
    public func bootstrap(rootName: String, rootCode: String, adminUsername: String = "admin") async throws -> (User, String) {
        let password = Secrets.generatedPassword()
        let now = clock.now()
        let hash = hasher.hash(password)
        let user = try await store.write { repos -> User in
            guard try await repos.users.count(under: "/") == 0 else {
                throw DomainError.conflict("the installation already has users")
            }
            let orgId = OrgID.generate(now: now)
            let org = Organization(id: orgId, parentId: nil, kind: .acquirer, name: rootName, code: rootCode,
                                   path: Organization.path(for: orgId, under: nil), createdAt: now, updatedAt: now)
            try await repos.orgs.insert(org)
            let admin = User(id: .generate(now: now), orgId: orgId, username: adminUsername, displayName: "Administrator",
                             email: nil, role: .administrator, passwordHash: hash, createdAt: now, updatedAt: now)
            try await repos.users.insert(admin)
            _ = try await repos.audit.append(
                AuditDraft(orgId: orgId, actor: .system, action: "installation.bootstrap", resourceType: "user",
                           resourceId: admin.id.rawValue, origin: "server", summary: ["username": adminUsername, "org": rootName]),
                orgPath: org.path, at: now)
            return admin
        }
        return (user, password)
    }

    // MARK: - Authentication

    /// A manager's credentials typed at a till (supervisor override): checked like a login, with the
    /// same lock-out, and the manager must hold `permission` and stand at or above `path`.
    public func verifyApprover(username: String, password: String, permission: Permission, path: String, origin: String) async throws -> User {
        let (user, org) = try await checkPassword(username: username, password: password, origin: origin, action: "approval.verify")
        guard user.role.permissions.contains(permission), path.hasPrefix(org.path) else {
            throw DomainError.forbidden("\(user.username) may not approve this here")
        }
        if user.failedLogins > 0 {
            try await store.write { try await $0.users.recordLoginAttempt(user.id, failedLogins: 0, lockedUntil: nil) }
        }
        return user
    }

    /// Checks a username and password with the lock-out rules, auditing refusals under `action`.
    private func checkPassword(username rawUsername: String, password: String, origin: String, action: String) async throws -> (User, Organization) {
        let username = rawUsername.trimmingCharacters(in: .whitespaces).lowercased()
        let now = clock.now()
        let wrong = DomainError.unauthenticated("wrong username or password")
        guard let (user, org) = try await store.read({ repos -> (User, Organization)? in
            guard let user = try await repos.users.find(username: username),
                  let org = try await repos.orgs.find(user.orgId) else { return nil }
            return (user, org)
        }) else {
            // Still spend the time of a bcrypt check so that timing does not reveal which usernames exist.
            _ = hasher.verify(password, hash: timingDummyHash)
            throw wrong
        }
        let actor = AuditActor(kind: .user, id: user.id.rawValue, name: user.username)
        func record(_ outcome: AuditOutcome, _ reason: String, failedLogins: Int, lockedUntil: Date?) async throws {
            try await store.write { repos in
                try await repos.users.recordLoginAttempt(user.id, failedLogins: failedLogins, lockedUntil: lockedUntil)
                _ = try await repos.audit.append(
                    AuditDraft(orgId: user.orgId, actor: actor, action: action, resourceType: "user",
                               resourceId: user.id.rawValue, outcome: outcome, origin: origin, summary: ["reason": reason]),
                    orgPath: org.path, at: now)
            }
        }
        if let lockedUntil = user.lockedUntil, lockedUntil > now {
            try await record(.denied, "locked", failedLogins: user.failedLogins, lockedUntil: lockedUntil)
            throw DomainError.tooManyRequests("account locked after too many failed logins; try again later")
        }
        guard user.status == .active else {
            try await record(.denied, "disabled", failedLogins: user.failedLogins, lockedUntil: user.lockedUntil)
            throw wrong
        }
        guard hasher.verify(password, hash: user.passwordHash) else {
            // Counted in the database, not from what was read above: parallel wrong guesses must
            // each count, or an attacker could guess concurrently without ever being locked out.
            let locked = try await store.write { repos -> Bool in
                let locked = try await repos.users.recordFailedLogin(user.id, threshold: AccessRules.maxFailedLogins,
                                                                     lockUntil: now.addingTimeInterval(AccessRules.lockout))
                _ = try await repos.audit.append(
                    AuditDraft(orgId: user.orgId, actor: actor, action: action, resourceType: "user",
                               resourceId: user.id.rawValue, outcome: .failure, origin: origin,
                               summary: ["reason": locked ? "wrong password; locked" : "wrong password"]),
                    orgPath: org.path, at: now)
                return locked
            }
            if locked {
                throw DomainError.tooManyRequests("account locked after too many failed logins; try again later")
            }
            throw wrong
        }
        return (user, org)
    }

    /// Checks a username and password and opens a console session.
    ///
    /// After `AccessRules.maxFailedLogins` consecutive failures the account is locked for
    /// `AccessRules.lockout`; attempts while locked are refused without checking the password.
    /// The same message is given for unknown users and wrong passwords.
    public func login(username rawUsername: String, password: String, origin: String) async throws -> LoginResult {
        let (user, org) = try await checkPassword(username: rawUsername, password: password, origin: origin, action: "session.login")
        let now = clock.now()
        let actor = AuditActor(kind: .user, id: user.id.rawValue, name: user.username)
        let secret = Secrets.randomHex(bytes: 32)
        let session = Session(idHash: Secrets.sha256(secret), userId: user.id, orgId: user.orgId,
                              csrfToken: Secrets.randomHex(bytes: 24), createdAt: now,
                              expiresAt: now.addingTimeInterval(sessionLifetime), origin: origin)
        try await store.write { repos in
            try await repos.users.recordLoginAttempt(user.id, failedLogins: 0, lockedUntil: nil)
            try await repos.sessions.insert(session)
            _ = try await repos.audit.append(
                AuditDraft(orgId: user.orgId, actor: actor, action: "session.login", resourceType: "user",
                           resourceId: user.id.rawValue, origin: origin),
                orgPath: org.path, at: now)
        }
        return LoginResult(cookieSecret: secret, session: session, user: user)
    }

    /// The principal behind a session cookie, or nil when the session is unknown or expired.
    public func principal(sessionSecret: String, origin: String) async throws -> Principal? {
        let now = clock.now()
        return try await store.read { repos -> Principal? in
            guard let session = try await repos.sessions.find(idHash: Secrets.sha256(sessionSecret)),
                  session.expiresAt > now,
                  let user = try await repos.users.find(session.userId), user.status == .active,
                  let org = try await repos.orgs.find(user.orgId) else { return nil }
            return Principal(user: user, orgPath: org.path, orgKind: org.kind, permissions: user.role.permissions,
                             credential: .session(idHash: session.idHash, csrfToken: session.csrfToken), origin: origin)
        }
    }

    /// The principal behind an API token (`tyd_<prefix>_<secret>`), or nil when it is not valid.
    public func principal(bearer: String, origin: String) async throws -> Principal? {
        let parts = bearer.split(separator: "_", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "tyd" else { return nil }
        let now = clock.now()
        let secretHash = Secrets.sha256(parts[2])
        let found: (APIToken, User, Organization)?
        if let cached = tokenCache.entry(prefix: parts[1]) {
            // The same checks as on a fresh reading, against the reading kept (at most `TokenCache.lifetime` old).
            guard Secrets.constantTimeEquals(cached.token.secretHash, secretHash), cached.token.isUsable(at: now) else { return nil }
            found = (cached.token, cached.user, cached.org)
        } else {
            let generation = tokenCache.begin()
            found = try await store.read { repos -> (APIToken, User, Organization)? in
                guard let token = try await repos.tokens.find(prefix: parts[1]),
                      Secrets.constantTimeEquals(token.secretHash, secretHash),
                      token.isUsable(at: now),
                      let user = try await repos.users.find(token.userId), user.status == .active,
                      let org = try await repos.orgs.find(user.orgId) else { return nil }
                return (token, user, org)
            }
            if let (token, user, org) = found { tokenCache.store(token, user: user, org: org, generation: generation) }
        }
        guard let (token, user, org) = found else { return nil }
        // Last-used time is advisory: refresh it at most once a minute to keep reads cheap.
        if token.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try await store.write { try await $0.tokens.touch(token.id, at: now) }
            tokenCache.touched(prefix: token.prefix, at: now)
        }
        return Principal(user: user, orgPath: org.path, orgKind: org.kind,
                         permissions: user.role.permissions.intersection(token.scopes),
                         credential: .token(token.id), origin: origin)
    }

    /// The principal for an operator using the CLI on the server as a given user.
    public func principal(commandLineUser username: String) async throws -> Principal {
        try await store.read { repos in
            guard let user = try await repos.users.find(username: username.lowercased()),
                  let org = try await repos.orgs.find(user.orgId) else {
                throw DomainError.notFound(resource: "user", id: username)
            }
            return Principal(user: user, orgPath: org.path, orgKind: org.kind, permissions: user.role.permissions,
                             credential: .commandLine, origin: "cli")
        }
    }

    /// Ends a console session.
    public func logout(_ principal: Principal) async throws {
        guard case .session(let idHash, _) = principal.credential else { return }
        let now = clock.now()
        try await store.write { repos in
            try await repos.sessions.delete(idHash: idHash)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: "session.logout",
                           resourceType: "user", resourceId: principal.user.id.rawValue, origin: principal.origin),
                orgPath: principal.orgPath, at: now)
        }
    }

    /// Records a refused attempt (permission or tenant rule) in the audit trail.
    public func recordDenied(_ principal: Principal, action: String, resourceType: String, resourceId: String, reason: String) async {
        let now = clock.now()
        _ = try? await store.write { repos in
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.user.orgId, actor: principal.actor, action: action, resourceType: resourceType,
                           resourceId: resourceId, outcome: .denied, origin: principal.origin, summary: ["reason": reason]),
                orgPath: principal.orgPath, at: now)
        }
    }

    // MARK: - Organisations

    /// Creates an organisation below a node the caller can see.
    public func createOrganization(_ input: NewOrganization, by principal: Principal) async throws -> Organization {
        try principal.require(.orgsManage)
        let name = try AccessRules.text(input.name, field: "name")
        let code = try AccessRules.text(input.code, field: "code", max: 32)
        guard let parentId = input.parentId else {
            throw DomainError.invalid("parentId", "is required: new organisations go below an existing one")
        }
        let now = clock.now()
        return try await store.write { repos in
            try await Self.insertOrganization(kind: input.kind, name: name, code: code, under: parentId,
                                              by: principal, repos: repos, at: now)
        }
    }

    /// Creates an organisation below a visible parent inside the caller's transaction, audited.
    /// `name` and `code` must already be validated. Shared with onboarding, which creates a
    /// merchant and its file in one transaction.
    static func insertOrganization(kind: OrgKind, name: String, code: String, under parentId: OrgID, by principal: Principal,
                                   repos: any Repositories, at now: Date) async throws -> Organization {
        guard let parent = try await repos.orgs.find(parentId), principal.sees(path: parent.path) else {
            throw DomainError.invalid("parentId", "no such organisation in your part of the tree")
        }
        guard parent.kind.allowedChildren.contains(kind) else {
            throw DomainError.invalid("kind", "a \(kind.rawValue) cannot be placed under a \(parent.kind.rawValue)")
        }
        let id = OrgID.generate(now: now)
        let org = Organization(id: id, parentId: parent.id, kind: kind, name: name, code: code,
                               path: Organization.path(for: id, under: parent), createdAt: now, updatedAt: now)
        try await repos.orgs.insert(org)
        _ = try await repos.audit.append(
            AuditDraft(orgId: org.id, actor: principal.actor, action: "org.create", resourceType: "organization",
                       resourceId: id.rawValue, origin: principal.origin,
                       summary: ["name": name, "kind": kind.rawValue, "code": code, "parent": parent.id.rawValue]),
            orgPath: org.path, at: now)
        return org
    }

    /// One organisation the caller can see.
    public func organization(_ id: OrgID, by principal: Principal) async throws -> Organization {
        try principal.require(.orgsRead)
        guard let org = try await store.read({ try await $0.orgs.find(id) }), principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "organization", id: id.rawValue)
        }
        return org
    }

    /// Organisations in the caller's subtree.
    public func organizations(kind: OrgKind?, page: PageRequest, by principal: Principal) async throws -> Page<Organization> {
        try principal.require(.orgsRead)
        return try await store.read { try await $0.orgs.list(under: principal.orgPath, kind: kind, page: page) }
    }

    /// Renames an organisation (name and code), with optimistic concurrency.
    public func renameOrganization(_ id: OrgID, name rawName: String?, code rawCode: String?, expectedVersion: Int,
                                   by principal: Principal) async throws -> Organization {
        try principal.require(.orgsManage)
        let name = try rawName.map { try AccessRules.text($0, field: "name") }
        let code = try rawCode.map { try AccessRules.text($0, field: "code", max: 32) }
        let now = clock.now()
        // Principals read from tokens, users and organisations are kept briefly: forget them once this commits.
        defer { forgetReadings() }
        return try await store.write { repos in
            guard var org = try await repos.orgs.find(id), principal.sees(path: org.path) else {
                throw DomainError.notFound(resource: "organization", id: id.rawValue)
            }
            guard org.version == expectedVersion else {
                throw DomainError.conflict("organization was changed by someone else (version \(org.version), you sent \(expectedVersion))")
            }
            var summary: [String: String] = [:]
            if let name, name != org.name { summary["name"] = "\(org.name) → \(name)"; org.name = name }
            if let code, code != org.code { summary["code"] = "\(org.code) → \(code)"; org.code = code }
            guard !summary.isEmpty else { return org }
            org.updatedAt = now
            org.version += 1
            try await repos.orgs.update(org)
            _ = try await repos.audit.append(
                AuditDraft(orgId: org.id, actor: principal.actor, action: "org.update", resourceType: "organization",
                           resourceId: id.rawValue, origin: principal.origin, summary: summary),
                orgPath: org.path, at: now)
            return org
        }
    }

    // MARK: - Users

    /// Creates a user in the caller's subtree. Nobody can create a user with rights they lack.
    public func createUser(_ input: NewUser, by principal: Principal) async throws -> User {
        try principal.require(.usersManage)
        let username = try AccessRules.username(input.username)
        let displayName = try AccessRules.text(input.displayName, field: "displayName")
        try AccessRules.password(input.password)
        let email = try Self.email(input.email)
        let locale = try Self.locale(input.locale)
        guard input.role.permissions.isSubset(of: principal.permissions) else {
            throw DomainError.forbidden("you cannot grant the role \(input.role.rawValue): it has rights you do not have")
        }
        let now = clock.now()
        let hash = hasher.hash(input.password)
        return try await store.write { repos in
            guard let org = try await repos.orgs.find(input.orgId), principal.sees(path: org.path) else {
                throw DomainError.invalid("orgId", "no such organisation in your part of the tree")
            }
            guard input.role.fits(org.kind) else {
                throw DomainError.invalid("role", "a \(input.role.rawValue) cannot belong to a \(org.kind.rawValue)")
            }
            let user = User(id: .generate(now: now), orgId: org.id, username: username, displayName: displayName,
                            email: email, role: input.role, locale: locale, passwordHash: hash, createdAt: now, updatedAt: now)
            try await repos.users.insert(user)
            _ = try await repos.audit.append(
                AuditDraft(orgId: org.id, actor: principal.actor, action: "user.create", resourceType: "user",
                           resourceId: user.id.rawValue, origin: principal.origin,
                           summary: ["username": username, "role": input.role.rawValue, "org": org.name]),
                orgPath: org.path, at: now)
            return user
        }
    }

    /// One user the caller can see.
    public func user(_ id: UserID, by principal: Principal) async throws -> User {
        try principal.require(.usersRead)
        return try await store.read { repos in try await Self.visibleUser(id, repos: repos, principal: principal).0 }
    }

    /// Users in the caller's subtree.
    public func users(page: PageRequest, by principal: Principal) async throws -> Page<User> {
        try principal.require(.usersRead)
        return try await store.read { try await $0.users.list(under: principal.orgPath, page: page) }
    }

    /// Changes a user's profile, role or status.
    public func updateUser(_ id: UserID, _ changes: UserChanges, by principal: Principal) async throws -> User {
        try principal.require(.usersManage)
        let displayName = try changes.displayName.map { try AccessRules.text($0, field: "displayName") }
        let email = try Self.email(changes.email)
        let locale = try Self.locale(changes.locale)
        if let role = changes.role, !role.permissions.isSubset(of: principal.permissions) {
            throw DomainError.forbidden("you cannot grant the role \(role.rawValue): it has rights you do not have")
        }
        if id == principal.user.id, changes.status == .disabled || (changes.role.map { $0 != principal.user.role } ?? false) {
            throw DomainError.conflict("you cannot disable yourself or change your own role")
        }
        let now = clock.now()
        // Principals read from tokens, users and organisations are kept briefly: forget them once this commits.
        defer { forgetReadings() }
        return try await store.write { repos in
            var (user, org) = try await Self.visibleUser(id, repos: repos, principal: principal)
            guard user.role.permissions.isSubset(of: principal.permissions) else {
                throw DomainError.forbidden("you cannot change a user who has rights you do not have")
            }
            guard user.version == changes.expectedVersion else {
                throw DomainError.conflict("user was changed by someone else (version \(user.version), you sent \(changes.expectedVersion))")
            }
            var summary: [String: String] = [:]
            if let displayName, displayName != user.displayName { summary["displayName"] = "\(user.displayName) → \(displayName)"; user.displayName = displayName }
            if let email, email != user.email { summary["email"] = "\(user.email ?? "") → \(email)"; user.email = email }
            if let locale, locale != user.locale { summary["locale"] = "\(user.locale ?? "") → \(locale)"; user.locale = locale }
            if let role = changes.role, role != user.role {
                guard role.fits(org.kind) else {
                    throw DomainError.invalid("role", "a \(role.rawValue) cannot belong to a \(org.kind.rawValue)")
                }
                summary["role"] = "\(user.role.rawValue) → \(role.rawValue)"
                user.role = role
            }
            if let status = changes.status, status != user.status {
                summary["status"] = "\(user.status.rawValue) → \(status.rawValue)"
                user.status = status
                if status == .disabled { try await repos.sessions.deleteAll(of: user.id) }
            }
            guard !summary.isEmpty else { return user }
            user.updatedAt = now
            user.version += 1
            try await repos.users.update(user)
            _ = try await repos.audit.append(
                AuditDraft(orgId: user.orgId, actor: principal.actor, action: "user.update", resourceType: "user",
                           resourceId: user.id.rawValue, origin: principal.origin, summary: summary),
                orgPath: org.path, at: now)
            _ = org
            return user
        }
    }

    /// Sets a new password (an administrator's reset, or the user's own change), ends the
    /// user's sessions and clears any lock-out.
    ///
    /// One's own change through a session or an API token must give `currentPassword`, checked like a
    /// login (a wrong one counts towards the lock-out): whoever holds a stolen session or token must
    /// not be able to take the account over. An operator on the server (the command line) needs none.
    public func resetPassword(_ id: UserID, newPassword: String, currentPassword: String? = nil, by principal: Principal) async throws {
        if id != principal.user.id { try principal.require(.usersManage) }
        try AccessRules.password(newPassword, field: "newPassword")
        if id == principal.user.id, principal.credential != .commandLine {
            guard let currentPassword, !currentPassword.isEmpty else {
                throw DomainError.invalid("currentPassword", "give your current password to change it")
            }
            do {
                _ = try await checkPassword(username: principal.user.username, password: currentPassword, origin: principal.origin,
                                            action: "user.change_password")
            } catch DomainError.unauthenticated {
                throw DomainError.invalid("currentPassword", "is not your current password")
            }
        }
        let now = clock.now()
        let hash = hasher.hash(newPassword)
        // Principals read from tokens, users and organisations are kept briefly: forget them once this commits.
        defer { forgetReadings() }
        try await store.write { repos in
            var (user, org) = try await Self.visibleUser(id, repos: repos, principal: principal)
            if id != principal.user.id, !user.role.permissions.isSubset(of: principal.permissions) {
                throw DomainError.forbidden("you cannot reset the password of a user who has rights you do not have")
            }
            user.passwordHash = hash
            user.failedLogins = 0
            user.lockedUntil = nil
            user.updatedAt = now
            user.version += 1
            try await repos.users.update(user)
            try await repos.sessions.deleteAll(of: user.id)
            _ = try await repos.audit.append(
                AuditDraft(orgId: user.orgId, actor: principal.actor, action: "user.reset_password", resourceType: "user",
                           resourceId: user.id.rawValue, origin: principal.origin, summary: ["username": user.username]),
                orgPath: org.path, at: now)
        }
    }

    private static func visibleUser(_ id: UserID, repos: any Repositories, principal: Principal) async throws -> (User, Organization) {
        guard let user = try await repos.users.find(id), let org = try await repos.orgs.find(user.orgId),
              principal.sees(path: org.path) else {
            throw DomainError.notFound(resource: "user", id: id.rawValue)
        }
        return (user, org)
    }

    private static func email(_ raw: String?) throws -> String? {
        guard let raw else { return nil }
        let value = raw.trimmingCharacters(in: .whitespaces)
        if value.isEmpty { return nil }
        let parts = value.split(separator: "@")
        guard parts.count == 2, parts[1].contains("."), value.count <= 254 else {
            throw DomainError.invalid("email", "is not an email address")
        }
        return value
    }

    private static func locale(_ raw: String?) throws -> String? {
        guard let raw else { return nil }
        guard AccessRules.locales.contains(raw) else {
            throw DomainError.invalid("locale", "must be one of \(AccessRules.locales.joined(separator: ", "))")
        }
        return raw
    }

    // MARK: - API tokens

    /// Issues an API token for the caller, limited to the given scopes (all of theirs when empty).
    public func createToken(name rawName: String, scopes: Set<Permission>, expiresInDays: Int?, by principal: Principal) async throws -> IssuedToken {
        try principal.require(.tokensManage)
        let name = try AccessRules.text(rawName, field: "name", max: 100)
        let effective = scopes.isEmpty ? principal.permissions : scopes
        guard effective.isSubset(of: principal.permissions) else {
            let extra = effective.subtracting(principal.permissions).map(\.rawValue).sorted().joined(separator: ", ")
            throw DomainError.invalid("scopes", "you do not hold: \(extra)")
        }
        if let days = expiresInDays, !(1...3650).contains(days) {
            throw DomainError.invalid("expiresInDays", "must be from 1 to 3650")
        }
        let now = clock.now()
        let prefix = Secrets.randomHex(bytes: 6)
        let secret = Secrets.randomHex(bytes: 24)
        let token = APIToken(id: .generate(now: now), orgId: principal.user.orgId, userId: principal.user.id, name: name,
                             prefix: prefix, secretHash: Secrets.sha256(secret), scopes: effective, createdAt: now,
                             expiresAt: expiresInDays.map { now.addingTimeInterval(Double($0) * 86400) })
        try await store.write { repos in
            try await repos.tokens.insert(token)
            _ = try await repos.audit.append(
                AuditDraft(orgId: token.orgId, actor: principal.actor, action: "token.create", resourceType: "api_token",
                           resourceId: token.id.rawValue, origin: principal.origin,
                           summary: ["name": name, "scopes": effective.map(\.rawValue).sorted().joined(separator: " ")]),
                orgPath: principal.orgPath, at: now)
        }
        return IssuedToken(token: token, plaintext: "tyd_\(prefix)_\(secret)")
    }

    /// Tokens the caller may see: their own, or every token in their subtree for user managers.
    public func tokens(page: PageRequest, by principal: Principal) async throws -> Page<APIToken> {
        try principal.require(.tokensManage)
        let owner: UserID? = principal.can(.usersManage) ? nil : principal.user.id
        return try await store.read { try await $0.tokens.list(under: principal.orgPath, user: owner, page: page) }
    }

    /// Revokes a token: the caller's own, or any in their subtree for user managers.
    public func revokeToken(_ id: TokenID, by principal: Principal) async throws -> APIToken {
        try principal.require(.tokensManage)
        let now = clock.now()
        // Principals read from tokens, users and organisations are kept briefly: forget them once this commits.
        defer { forgetReadings() }
        return try await store.write { repos in
            guard var token = try await repos.tokens.find(id),
                  let owner = try await repos.users.find(token.userId),
                  let org = try await repos.orgs.find(owner.orgId),
                  principal.sees(path: org.path),
                  token.userId == principal.user.id || principal.can(.usersManage) else {
                throw DomainError.notFound(resource: "api_token", id: id.rawValue)
            }
            guard token.revokedAt == nil else { return token }
            try await repos.tokens.revoke(id, at: now)
            token.revokedAt = now
            _ = try await repos.audit.append(
                AuditDraft(orgId: token.orgId, actor: principal.actor, action: "token.revoke", resourceType: "api_token",
                           resourceId: id.rawValue, origin: principal.origin, summary: ["name": token.name]),
                orgPath: org.path, at: now)
            return token
        }
    }

    // MARK: - Audit and dashboard

    /// Audit events in the caller's subtree.
    public func auditEvents(_ filter: AuditFilter, page: PageRequest, by principal: Principal) async throws -> Page<AuditEvent> {
        try principal.require(.auditRead)
        return try await store.read { try await $0.audit.list(under: principal.orgPath, filter: filter, page: page) }
    }

    /// Recomputes the whole audit chain in batches and reports the first break.
    public func verifyAuditChain(batchSize: Int = 2000) async throws -> AuditVerification {
        let store = self.store
        return try await AuditChain.verify(batchSize: batchSize) { cursor, limit in
            try await store.read { try await $0.audit.scan(after: cursor, limit: limit) }
        }
    }

    /// Real counts for the dashboard, within the caller's subtree.
    public func dashboardCounts(by principal: Principal) async throws -> DashboardCounts {
        try principal.require(.dashboardView)
        let canAudit = principal.can(.auditRead)
        return try await store.read { repos in
            DashboardCounts(organizations: try await repos.orgs.count(under: principal.orgPath),
                            users: try await repos.users.count(under: principal.orgPath),
                            auditEvents: canAudit ? try await repos.audit.count(under: principal.orgPath) : 0)
        }
    }
}
