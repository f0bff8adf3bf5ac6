import Foundation
import Hummingbird
import Prometheus
import TillyardKit
import TillyardStore

/// Prometheus metrics of one application instance.
///
/// A registry per application rather than the global MetricsSystem: tests build many
/// applications in one process, and the global system can be bootstrapped only once.
public struct AppMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(1000), .seconds(5)]

    /// Heartbeats the terminal gateway answered from memory (the rest of them took the router).
    let fastLane: Counter

    public init() {
        fastLane = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "tillyard", metricName: "heartbeat_fast_lane", unitName: "total",
                                                                         helpText: "Heartbeats answered by the terminal gateway without the router"))
    }

    /// The series of one route and status, found once: every request records into them, and
    /// asking the registry each time costs a descriptor, label arrays and its lock.
    private struct Series: Hashable {
        var method: String
        var route: String
        var status: Int
    }
    private final class Known: @unchecked Sendable {
        let lock = NSLock()
        var series: [Series: (Counter, DurationHistogram)] = [:]
    }
    private let known = Known()

    /// Counts a finished request and records its duration.
    func record(method: String, route: String, status: Int, duration: Duration) {
        let key = Series(method: method, route: route, status: status)
        let known = self.known
        let (counter, histogram) = known.lock.withLock {
            if let found = known.series[key] { return found }
            let made = (
                registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "tillyard", metricName: "http_requests", unitName: "total",
                                                                      helpText: "HTTP requests by route and status"),
                                     labels: [("method", method), ("route", route), ("status", String(status))]),
                registry.makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: "tillyard", metricName: "http_request_duration",
                                                                                unitName: "seconds", helpText: "HTTP request duration"),
                                               labels: [("method", method), ("route", route)], buckets: Self.buckets))
            known.series[key] = made
            return made
        }
        counter.increment()
        histogram.record(duration)
    }
}

/// Records every request in `AppMetrics`. Labelled by route pattern, never the raw path, so
/// ids in URLs cannot blow up the number of series.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.record(method: request.method.rawValue, route: context.endpointPath ?? "unmatched",
                           status: Int(response.status.code), duration: ContinuousClock.now - start)
            return response
        } catch {
            let status = Problem.from(error, instance: nil).status
            metrics.record(method: request.method.rawValue, route: context.endpointPath ?? "unmatched",
                           status: status, duration: ContinuousClock.now - start)
            throw error
        }
    }
}

/// `/health`, `/metrics` and `/openapi.yaml`.
struct OperationsRoutes {
    let database: Database
    let metrics: AppMetrics
    let openAPI: String

    func register(on router: Router<AppRequestContext>) {
        let database = self.database, metrics = self.metrics, openAPI = self.openAPI
        router.get("health") { _, _ in
            struct Health: Encodable { var status: String; var database: String; var backend: String }
            do {
                try await database.session { try await $0.raw("SELECT 1").run() }
                return try JSONResponse.make(Health(status: "ok", database: "ok", backend: database.backend.rawValue))
            } catch {
                return try JSONResponse.make(Health(status: "degraded", database: "unreachable", backend: database.backend.rawValue),
                                             status: .serviceUnavailable)
            }
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
    }
}
