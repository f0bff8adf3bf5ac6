import Foundation

/// Tag for user ids.
public enum UserTag {}
/// Id of a user.
public typealias UserID = Identifier<UserTag>

/// Whether a user may log in.
public enum UserStatus: String, Codable, Sendable, CaseIterable {
    case active
    case disabled
}

/// A person who uses the console or owns API tokens.
public struct User: Codable, Sendable, Equatable {
    public var id: UserID
    public var orgId: OrgID
    /// Login name, unique across the installation, lower case.
    public var username: String
    public var displayName: String
    public var email: String?
    public var role: Role
    public var status: UserStatus
    /// Preferred console language ("en" or "zh-CN"), nil to follow the browser.
    public var locale: String?
    /// bcrypt hash; never leaves the server.
    public var passwordHash: String
    /// Consecutive failed logins since the last success.
    public var failedLogins: Int
    /// Logins are refused until this time after too many failures.
    public var lockedUntil: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: UserID, orgId: OrgID, username: String, displayName: String, email: String?, role: Role,
                status: UserStatus = .active, locale: String? = nil, passwordHash: String,
                failedLogins: Int = 0, lockedUntil: Date? = nil, createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.username = username
        self.displayName = displayName
        self.email = email
        self.role = role
        self.status = status
        self.locale = locale
        self.passwordHash = passwordHash
        self.failedLogins = failedLogins
        self.lockedUntil = lockedUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// Hashing of passwords; bcrypt in production, injected so the domain stays free of C libraries.
public protocol PasswordHasher: Sendable {
    /// A salted hash of the password.
    func hash(_ password: String) -> String
    /// Whether the password matches the stored hash.
    func verify(_ password: String, hash: String) -> Bool
}

/// Rules for user input shared by the API, console and CLI.
public enum AccessRules {
    /// Failed logins before an account is locked.
    public static let maxFailedLogins = 5
    /// How long a lock-out lasts.
    public static let lockout: TimeInterval = 15 * 60
    /// Minimum password length.
    public static let minPasswordLength = 10

    /// Normalised username, or a validation error.
    public static func username(_ raw: String) throws -> String {
        let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789._-")
        guard (3...64).contains(name.count), name.unicodeScalars.allSatisfy(allowed.contains) else {
            throw DomainError.invalid("username", "3 to 64 characters: letters, digits, '.', '_' or '-'")
        }
        return name
    }

    /// Checks a new password against the policy.
    public static func password(_ password: String, field: String = "password") throws {
        guard password.count >= minPasswordLength, password.count <= 128 else {
            throw DomainError.invalid(field, "must be \(minPasswordLength) to 128 characters")
        }
        let hasLetter = password.contains { $0.isLetter }
        let hasOther = password.contains { !$0.isLetter }
        guard hasLetter && hasOther else {
            throw DomainError.invalid(field, "must mix letters with digits or symbols")
        }
    }

    /// A required display text: trimmed, 1…`max` characters.
    public static func text(_ raw: String, field: String, max: Int = 200) throws -> String {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw DomainError.invalid(field, "is required") }
        guard value.count <= max else { throw DomainError.invalid(field, "must be at most \(max) characters") }
        return value
    }

    /// The console languages we ship catalogs for.
    public static let locales = ["en", "zh-CN"]
}
