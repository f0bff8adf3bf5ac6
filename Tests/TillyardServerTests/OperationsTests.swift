import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The OpenAPI document matches the route table, and `/health`, `/metrics`, `/openapi.yaml` work.
@Suite struct OperationsTests {
    /// Operations in the OpenAPI document as `METHOD /path/{param}`.
    static func documentedOperations(_ yaml: String) -> Set<String> {
        let methods: Set<String> = ["get", "put", "post", "patch", "delete", "head", "options"]
        var result: Set<String> = []
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if !line.hasPrefix(" "), !line.isEmpty { inPaths = line.hasPrefix("paths:") ; path = nil; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                      methods.contains(line.trimmingCharacters(in: .whitespaces).dropLast().lowercased()) {
                result.insert("\(line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()) \(path)")
            }
        }
        return result
    }

    static var openAPIText: String {
        get throws { try String(contentsOf: ConsoleRenderer.bundledResources.appendingPathComponent("openapi.yaml"), encoding: .utf8) }
    }

    @Test(arguments: TestBackend.allCases)
    func everyRouteIsDocumentedAndEveryDocumentedOperationExists(backend: TestBackend) async throws {
        try await TestEnvironment.with(backend) { env in
            let console = try await ConsoleRenderer.load(resources: ConsoleRenderer.bundledResources)
            let router = try buildRouter(services: env.services, configuration: env.configuration, console: console)
            let operations: Set<String> = ["/health", "/metrics", "/openapi.yaml"]
            let registered = Set(router.routes.map { route in
                "\(route.method.rawValue) \(TenantIsolationTests.template(route.path.description))"
            }.filter { entry in
                let path = String(entry.split(separator: " ")[1])
                return path.hasPrefix("/api/v1/") || path.hasPrefix("/terminal/v1/") || operations.contains(path)
            })
            #expect(registered.count >= 17, "\(registered.sorted())")
            let documented = Self.documentedOperations(try Self.openAPIText)
            #expect(documented.count >= 17, "parsed \(documented.sorted())")
            for missing in registered.subtracting(documented).sorted() {
                Issue.record("route \(missing) is not in Resources/openapi.yaml")
            }
            for phantom in documented.subtracting(registered).sorted() {
                Issue.record("openapi.yaml documents \(phantom), which is not a registered route")
            }
        }
    }

    @Test func openAPIDocumentIsWellFormedEnough() throws {
        let yaml = try Self.openAPIText
        #expect(yaml.hasPrefix("openapi: 3."))
        // Every operation has a unique operationId, and every templated path declares its parameters.
        let ids = yaml.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("operationId:") ? String(trimmed.dropFirst("operationId:".count)).trimmingCharacters(in: .whitespaces) : nil
        }
        #expect(ids.count == Self.documentedOperations(yaml).count, "one operationId per operation")
        #expect(Set(ids).count == ids.count, "operationIds are unique: \(ids)")
        // Every $ref points at a component that exists.
        let refs = Set(yaml.matches(of: /\$ref: "#\/components\/(\w+)\/(\w+)"/).map { "\($0.output.1)/\($0.output.2)" })
        #expect(!refs.isEmpty)
        for ref in refs {
            let parts = ref.split(separator: "/")
            let section = yaml.range(of: "\n  \(parts[0]):\n")
            let entry = yaml.range(of: "\n    \(parts[1]):")
            #expect(section != nil && entry != nil, "component \(ref) is referenced but not defined")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func openAPIHealthAndMetricsAreServed(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let spec = try await h.send(.get, "/openapi.yaml")
            #expect(spec.status == .ok)
            #expect(spec.headers[.contentType]?.hasPrefix("application/yaml") == true)
            #expect(spec.text == (try Self.openAPIText))

            let health = try await h.send(.get, "/health")
            #expect(health.status == .ok)
            #expect(health.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(health.object["status"] as? String == "ok")
            #expect(health.object["database"] as? String == "ok")
            #expect(health.object["backend"] as? String == backend.rawValue)

            // A few requests of different shapes, then the counters.
            let org = h.fixtures.merchantA.rawValue
            #expect(try await h.send(.get, "/api/v1/me", as: "merchantA.owner").status == .ok)
            #expect(try await h.send(.get, "/api/v1/me", as: "merchantA.owner").status == .ok)
            #expect(try await h.send(.get, "/api/v1/orgs/\(org)", as: "merchantA.owner").status == .ok)
            #expect(try await h.send(.get, "/api/v1/me").status == .unauthorized)
            #expect(try await h.send(.get, "/api/v1/no-such-route").status == .notFound)

            let metrics = try await h.send(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let lines = metrics.text.split(separator: "\n").map(String.init)
            func counter(_ route: String, _ status: Int) -> Double? {
                lines.first { $0.hasPrefix("tillyard_http_requests_total{") && $0.contains(#"route="\#(route)""#)
                    && $0.contains(#"status="\#(status)""#) && $0.contains(#"method="GET""#) }
                    .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            }
            #expect(counter("/api/v1/me", 200) == 2, "\(metrics.text)")
            #expect(counter("/api/v1/me", 401) == 1)
            #expect(counter("/api/v1/orgs/{id}", 200) == 1, "labelled by route pattern")
            #expect(!metrics.text.contains(org), "raw ids never become labels")
            #expect(!metrics.text.contains("no-such-route"), "unknown paths never become labels")
            #expect(metrics.text.contains("tillyard_http_request_duration_seconds"))
        }
    }
}
