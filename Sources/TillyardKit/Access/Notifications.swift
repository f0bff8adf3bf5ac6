import Foundation

/// A message for one person in the console's inbox (e.g. "a ticket you answer for missed its SLA").
/// Stored as a kind plus facts, so the console words it in the reader's language.
public struct UserNotification: Codable, Sendable, Equatable {
    public var id: String
    public var userId: UserID
    /// The organisation the message is about (scopes it with the user).
    public var orgId: OrgID
    /// What happened, e.g. `ticket.escalated`; the console's catalog has `notification_<kind with _>`.
    public var kind: String
    /// The facts the message names (ticket, merchant, missed target…), shown beside the wording.
    public var subject: String
    /// Where the message leads in the console.
    public var link: String
    public var createdAt: Date
    public var readAt: Date?

    public init(id: String, userId: UserID, orgId: OrgID, kind: String, subject: String, link: String, createdAt: Date, readAt: Date? = nil) {
        self.id = id
        self.userId = userId
        self.orgId = orgId
        self.kind = kind
        self.subject = subject
        self.link = link
        self.createdAt = createdAt
        self.readAt = readAt
    }
}

/// Storage of the console inbox: each row belongs to one user and is read only by them.
public protocol NotificationRepository: Sendable {
    func insert(_ notification: UserNotification) async throws
    /// The user's messages, newest first, at most `limit`.
    func notifications(of user: UserID, limit: Int) async throws -> [UserNotification]
    func unreadCount(of user: UserID) async throws -> Int
    /// Marks one of the user's messages read; false when the user has no such message.
    func markRead(_ id: String, of user: UserID, at: Date) async throws -> Bool
    /// Marks all of the user's messages read; returns how many were unread.
    func markAllRead(of user: UserID, at: Date) async throws -> Int
}

/// The console inbox: a person reads and clears only their own messages. Services deliver messages
/// inside their own transactions (`deliver`), so a message exists exactly when its cause was stored.
public struct NotificationService: Sendable {
    public let store: any Persistence
    public let clock: Clock

    public init(store: any Persistence, clock: Clock = .system) {
        self.store = store
        self.clock = clock
    }

    /// Most messages a page shows.
    public static let pageLimit = 100

    /// The caller's messages, newest first.
    public func inbox(by principal: Principal) async throws -> [UserNotification] {
        try await store.read { try await $0.notifications.notifications(of: principal.user.id, limit: Self.pageLimit) }
    }

    /// How many of the caller's messages are unread (the console header's badge).
    public func unreadCount(by principal: Principal) async throws -> Int {
        try await store.read { try await $0.notifications.unreadCount(of: principal.user.id) }
    }

    /// Marks one of the caller's messages read (another person's message is not found).
    public func markRead(_ id: String, by principal: Principal) async throws {
        let now = clock.now()
        let found = try await store.write { try await $0.notifications.markRead(id, of: principal.user.id, at: now) }
        guard found else { throw DomainError.notFound(resource: "notification", id: id) }
    }

    /// Marks all of the caller's messages read; returns how many were unread.
    @discardableResult
    public func markAllRead(by principal: Principal) async throws -> Int {
        let now = clock.now()
        return try await store.write { try await $0.notifications.markAllRead(of: principal.user.id, at: now) }
    }

    /// Puts one message per recipient into their inboxes, inside the caller's transaction.
    public static func deliver(to users: [UserID], orgId: OrgID, kind: String, subject: String, link: String, at now: Date,
                               repos: any Repositories) async throws {
        for user in Set(users).sorted(by: { $0.rawValue < $1.rawValue }) {
            try await repos.notifications.insert(UserNotification(id: UUIDv7.make(now: now), userId: user, orgId: orgId, kind: kind,
                                                                  subject: subject, link: link, createdAt: now))
        }
    }
}
