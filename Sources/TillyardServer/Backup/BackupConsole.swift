import Foundation
import Hummingbird
import TillyardKit

/// The "back up now" form: nothing but the CSRF token.
struct BackupNowForm: Decodable, CSRFCarrying { var _csrf: String }

/// `/console/backups`: the installation's archives with size and time, the schedule and retention,
/// how the last run ended (a failed scheduled run shows here), and a "back up now" button. For
/// administrators of a top organisation (`backups.manage`; checked in `BackupService`).
struct BackupConsole {
    let backups: BackupService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        router.get("console/backups", use: overview)
        router.post("console/backups", use: backUpNow)
    }

    @Sendable func overview(_ request: Request, context: AppRequestContext) async throws -> Response {
        try page(context, error: nil, status: .ok)
    }

    @Sendable func backUpNow(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await forms.decode(BackupNowForm.self, request, context)
        do {
            _ = try await backups.backUpNow(by: principal)
            return .redirect(to: "/console/backups", type: .found)
        } catch let error as DomainError {
            if case .forbidden = error { throw error }
            return try page(context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    private func page(_ context: AppRequestContext, error: String?, status: HTTPResponse.Status) throws -> Response {
        let principal = try context.requirePrincipal()
        let overview = try backups.overview(by: principal)
        let locale = context.locale
        func size(_ bytes: Int64) -> String { ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file) }
        var data: [String: Any] = [
            "error": error as Any,
            "folder": overview.folder,
            "keep": overview.schedule.keep,
            "every": overview.schedule.every.map { Self.interval($0) } as Any,
            "running": overview.running,
            "archives": overview.archives.map { ["name": $0.name, "size": size($0.size), "createdAt": $0.createdAt.iso8601] },
            "separately": BackupManifest.separately,
        ]
        if let run = overview.lastRun {
            data["lastRun"] = [
                "ok": run.error == nil, "at": run.finishedAt.iso8601, "error": run.error ?? "",
                "archive": run.archive?.name ?? "", "size": run.archive.map { size($0.size) } ?? "", "files": run.files,
                "auditBroken": run.auditBroken ?? "",
                "label": renderer.text(run.error == nil ? "backup_last_ok" : "backup_last_failed", locale: locale),
            ] as [String: Any]
        }
        return renderer.page("backups", titleKey: "nav_backups", context: context, data: data, status: status)
    }

    /// `24h`, `90m`, `45s`: the way TILLYARD_BACKUP_EVERY is written.
    static func interval(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
