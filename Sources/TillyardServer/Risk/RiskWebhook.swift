import Foundation
import TillyardKit

/// What the risk webhook receives: the alerts raised, as JSON.
struct WebhookPayload: Codable, Sendable {
    var event: String
    var alerts: [RiskAlert]
}

/// Enforced risk alerts go out through the shared webhook sender (the body holds no card data:
/// alerts carry card hashes, never numbers).
extension WebhookNotifier: RiskNotifier {
    public func notify(_ alerts: [RiskAlert]) {
        guard !alerts.isEmpty else { return }
        post(WebhookPayload(event: "risk.alerts", alerts: alerts))
    }
}
