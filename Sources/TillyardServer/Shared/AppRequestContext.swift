import Hummingbird
import NIOCore
import TillyardKit

/// Per-request state shared between middleware and handlers.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller, set by `AuthMiddleware` when credentials are valid.
    public var principal: Principal?
    /// Console language chosen for this request ("en" or "zh-CN").
    public var locale: String = "en"
    public let remoteAddress: SocketAddress?
    /// Body size limit (bytes) for decoding, from the configuration.
    public var bodyLimit: Int = 1 << 20
    /// Unread console messages of the signed-in person (the header's badge), set for console pages.
    public var unreadNotifications: Int = 0

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { bodyLimit }

    /// Client IP for audit events.
    public var origin: String { remoteAddress?.ipAddress ?? "unknown" }

    /// The caller, or `unauthenticated`.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw DomainError.unauthenticated("sign in or send an API token (Authorization: Bearer tyd_…)") }
        return principal
    }
}
