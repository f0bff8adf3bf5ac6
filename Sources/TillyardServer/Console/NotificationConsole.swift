import Foundation
import Hummingbird
import TillyardKit

/// A form that carries only its CSRF token (mark read).
struct MarkReadForm: Decodable, CSRFCarrying { var _csrf: String }

/// The console inbox: `/console/notifications` lists the caller's own messages (newest first) with
/// links to what they are about; each can be marked read, or all at once.
struct NotificationConsole {
    let notifications: NotificationService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("notifications", use: inbox)
        console.post("notifications/read", use: markAllRead)
        console.post("notifications/:id/read", use: markRead)
    }

    @Sendable func inbox(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let locale = context.locale
        let items = try await notifications.inbox(by: principal)
        let data: [String: Any] = [
            "notifications": items.map { item -> [String: Any] in
                ["id": item.id, "text": renderer.text("notification_\(item.kind.replacingOccurrences(of: ".", with: "_"))", locale: locale),
                 "subject": item.subject, "link": item.link, "at": item.createdAt.iso8601, "unread": item.readAt == nil]
            },
            "hasUnread": items.contains { $0.readAt == nil },
        ]
        return renderer.page("notifications", titleKey: "nav_notifications", context: context, data: data)
    }

    @Sendable func markRead(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(MarkReadForm.self, request, context)
        try await notifications.markRead(context.parameters.get("id") ?? "", by: principal)
        return .redirect(to: "/console/notifications", type: .found)
    }

    @Sendable func markAllRead(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(MarkReadForm.self, request, context)
        try await notifications.markAllRead(by: principal)
        return .redirect(to: "/console/notifications", type: .found)
    }
}

/// Counts the signed-in person's unread messages for the console header's badge: console pages
/// read with a session only, one indexed count each.
struct UnreadNotificationsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let notifications: NotificationService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, request.uri.path.hasPrefix("/console"), let principal = context.principal,
              case .session = principal.credential else {
            return try await next(request, context)
        }
        var context = context
        context.unreadNotifications = (try? await notifications.unreadCount(by: principal)) ?? 0
        return try await next(request, context)
    }
}
