import Foundation
import TillyardKit

/// What the service webhook receives: the tickets just escalated, without callers' personal details.
struct ServiceWebhookPayload: Codable, Sendable {
    var event: String
    var escalations: [TicketEscalation]
}

/// Escalations go out through the shared webhook sender (`TILLYARD_SERVICE_WEBHOOK`).
extension WebhookNotifier: ServiceNotifier {
    public func escalated(_ escalations: [TicketEscalation]) {
        guard !escalations.isEmpty else { return }
        post(ServiceWebhookPayload(event: "service.escalated", escalations: escalations))
    }
}
