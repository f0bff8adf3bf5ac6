import Crypto
import Foundation

/// Tag for session ids.
public enum SessionTag {}
/// Tag for API token ids.
public enum TokenTag {}
/// Id of an API token.
public typealias TokenID = Identifier<TokenTag>

/// A console login session. The cookie carries a random secret; only its SHA-256 is stored,
/// so a copy of the database cannot be used to hijack sessions.
public struct Session: Codable, Sendable, Equatable {
    /// SHA-256 (hex) of the cookie secret.
    public var idHash: String
    public var userId: UserID
    public var orgId: OrgID
    /// Per-session anti-CSRF token embedded in every console form.
    public var csrfToken: String
    public var createdAt: Date
    public var expiresAt: Date
    public var origin: String

    public init(idHash: String, userId: UserID, orgId: OrgID, csrfToken: String, createdAt: Date, expiresAt: Date, origin: String) {
        self.idHash = idHash
        self.userId = userId
        self.orgId = orgId
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.origin = origin
    }
}

/// A token for automation (scripts, integrations). Shown once at creation; stored as a hash.
///
/// Wire form: `tyd_<prefix>_<secret>`; the prefix is stored in clear to find the row in one
/// indexed lookup, the secret only as SHA-256.
public struct APIToken: Codable, Sendable, Equatable {
    public var id: TokenID
    public var orgId: OrgID
    /// The user the token acts for; it never has more rights than they do.
    public var userId: UserID
    public var name: String
    public var prefix: String
    public var secretHash: String
    /// What the token may do (a subset of the owner's permissions).
    public var scopes: Set<Permission>
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: TokenID, orgId: OrgID, userId: UserID, name: String, prefix: String, secretHash: String,
                scopes: Set<Permission>, createdAt: Date, expiresAt: Date?, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.orgId = orgId
        self.userId = userId
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the token can be used at `date`.
    public func isUsable(at date: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > date } ?? true)
    }
}

/// Random secrets and their hashes.
public enum Secrets {
    /// `count` random bytes as lowercase hex.
    public static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A password a person can type: 16 characters from an alphabet without look-alikes, with a digit.
    public static func generatedPassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ")
        let digits = Array("23456789")
        var generator = SystemRandomNumberGenerator()
        var characters = (0..<13).map { _ in alphabet.randomElement(using: &generator)! }
        characters += (0..<3).map { _ in digits.randomElement(using: &generator)! }
        return String(characters.shuffled(using: &generator))
    }

    /// SHA-256 of text, lowercase hex.
    public static func sha256(_ text: String) -> String {
        Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// Compares two strings in time independent of where they differ.
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8), right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
