import Foundation
import SQLKit
import TillyardKit

/// The console inbox (migration 0018): one row per message and person, the message as JSON beside
/// the columns the inbox and its unread count query.
struct SQLNotificationRepository: NotificationRepository {
    let db: any SQLDatabase

    func insert(_ notification: UserNotification) async throws {
        try await db.raw("""
            INSERT INTO notifications (id, user_id, org_id, created_at, read_at, body)
            VALUES (\(bind: notification.id), \(bind: notification.userId.rawValue), \(bind: notification.orgId.rawValue),
                    \(bind: notification.createdAt.millis), \(bind: notification.readAt.millis), \(bind: try JSONColumn.encode(notification)))
            """).run()
    }

    func notifications(of user: UserID, limit: Int) async throws -> [UserNotification] {
        try await db.raw("""
            SELECT body, read_at FROM notifications WHERE user_id = \(bind: user.rawValue) ORDER BY id DESC LIMIT \(bind: limit)
            """).all().map { row in
            // `read_at` is the truth (marking read touches only the column).
            var notification = try JSONColumn.decode(UserNotification.self, from: try row.decode(column: "body", as: String.self))
            notification.readAt = try row.date("read_at")
            return notification
        }
    }

    func unreadCount(of user: UserID) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(bind: user.rawValue) AND read_at IS NULL")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func markRead(_ id: String, of user: UserID, at: Date) async throws -> Bool {
        let found = try await db.raw("""
            SELECT read_at FROM notifications WHERE id = \(bind: id) AND user_id = \(bind: user.rawValue)
            """).first()
        guard found != nil else { return false }
        try await db.raw("""
            UPDATE notifications SET read_at = \(bind: at.millis) WHERE id = \(bind: id) AND user_id = \(bind: user.rawValue) AND read_at IS NULL
            """).run()
        return true
    }

    func markAllRead(of user: UserID, at: Date) async throws -> Int {
        try await db.raw("""
            UPDATE notifications SET read_at = \(bind: at.millis) WHERE user_id = \(bind: user.rawValue) AND read_at IS NULL RETURNING id
            """).all().count
    }
}
