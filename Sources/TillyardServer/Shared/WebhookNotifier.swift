import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TillyardKit

/// The one webhook sender of Tillyard: posts JSON to a URL off the request path, a detached task per
/// message, up to `attempts` tries with a doubling pause; a 2xx answer ends it. Failures are not
/// logged with their body (it may name merchants). Each area announces through its own instance with
/// its own setting (`TILLYARD_RISK_WEBHOOK`, `TILLYARD_SERVICE_WEBHOOK`) and its own payload.
public struct WebhookNotifier: Sendable {
    let url: URL
    let attempts: Int
    let firstPause: Duration

    public init(url: URL, attempts: Int = 4, firstPause: Duration = .milliseconds(500)) {
        self.url = url
        self.attempts = max(attempts, 1)
        self.firstPause = firstPause
    }

    /// Encodes `payload` (times as ISO 8601) and posts it without waiting.
    func post(_ payload: some Encodable) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        guard let body = try? encoder.encode(payload) else { return }
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
