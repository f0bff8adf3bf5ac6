import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TillyardKit

/// What the webhook receives: the alerts raised, as JSON.
struct WebhookPayload: Codable, Sendable {
    var event: String
    var alerts: [RiskAlert]
}

/// Posts enforced risk alerts to a webhook off the request path: a detached task per batch, up to
/// `attempts` tries with a doubling pause, a 2xx answer ends it. Failures are logged by count only
/// (the body holds no card data: alerts carry card hashes, never numbers).
public struct WebhookNotifier: RiskNotifier {
    let url: URL
    let attempts: Int
    let firstPause: Duration

    public init(url: URL, attempts: Int = 4, firstPause: Duration = .milliseconds(500)) {
        self.url = url
        self.attempts = max(attempts, 1)
        self.firstPause = firstPause
    }

    public func notify(_ alerts: [RiskAlert]) {
        guard !alerts.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        guard let body = try? encoder.encode(WebhookPayload(event: "risk.alerts", alerts: alerts)) else { return }
        let url = self.url, attempts = self.attempts, firstPause = self.firstPause
        Task.detached {
            var pause = firstPause
            for attempt in 1...attempts {
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.timeoutInterval = 10
                request.httpBody = body
                if let (_, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse,
                   (200..<300).contains(http.statusCode) {
                    return
                }
                guard attempt < attempts else { return }
                try? await Task.sleep(for: pause)
                pause *= 2
            }
        }
    }
}
