/// How a request proved who it is.
public enum Credential: Sendable, Equatable {
    /// A console session (the stored hash of the cookie secret).
    case session(idHash: String, csrfToken: String)
    /// An API token.
    case token(TokenID)
    /// The command-line tool run by an operator on the server itself.
    case commandLine
}

/// The authenticated caller of one request: the user, where in the tree they stand, and
/// what they may do. Every permission and tenant check goes through here.
public struct Principal: Sendable {
    public var user: User
    /// Materialised path of the user's organisation: they see this subtree only.
    public var orgPath: String
    public var orgKind: OrgKind
    /// Effective permissions: the role's, narrowed by a token's scopes.
    public var permissions: Set<Permission>
    public var credential: Credential
    /// Client IP (or "cli"): recorded in audit events.
    public var origin: String

    public init(user: User, orgPath: String, orgKind: OrgKind, permissions: Set<Permission>, credential: Credential, origin: String) {
        self.user = user
        self.orgPath = orgPath
        self.orgKind = orgKind
        self.permissions = permissions
        self.credential = credential
        self.origin = origin
    }

    /// Whether the caller holds a permission.
    public func can(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// Throws `forbidden` unless the caller holds the permission.
    public func require(_ permission: Permission) throws {
        guard can(permission) else {
            throw DomainError.forbidden("your role does not allow \(permission.rawValue)")
        }
    }

    /// The top of the caller's tree (their acquirer or service provider).
    public var rootId: OrgID { OrgID(rawValue: orgPath.split(separator: "/").first.map(String.init) ?? "") }

    /// Whether an organisation path lies inside the caller's subtree.
    public func sees(path: String) -> Bool { path.hasPrefix(orgPath) }

    /// Whether the caller sees an organisation or works inside it: a store's cashier uses its
    /// merchant's catalog without seeing the merchant node itself.
    public func worksWith(path: String) -> Bool { sees(path: path) || orgPath.hasPrefix(path) }

    /// Throws `notFound` for resources outside the caller's subtree, so other tenants'
    /// resources are indistinguishable from missing ones.
    public func requireVisible(_ org: Organization, resource: String, id: String) throws {
        guard sees(path: org.path) else { throw DomainError.notFound(resource: resource, id: id) }
    }

    /// The audit actor for this caller.
    public var actor: AuditActor {
        switch credential {
        case .token(let id): return AuditActor(kind: .token, id: id.rawValue, name: "\(user.username) (token)")
        case .session: return AuditActor(kind: .user, id: user.id.rawValue, name: user.username)
        case .commandLine: return AuditActor(kind: .user, id: user.id.rawValue, name: "\(user.username) (cli)")
        }
    }
}
