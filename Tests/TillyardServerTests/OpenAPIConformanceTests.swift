import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// What API fuzzing (tests/fuzz/run_schemathesis.py) found wrong in the OpenAPI document, kept
/// from coming back without running the fuzzer: the enumerations the document lists must be the
/// ones the server answers with.
@Suite struct OpenAPIConformanceTests {
    /// The values of a one-level `Name: … enum: [a, b, …]` component (inline or wrapped lines).
    static func enumeration(_ name: String, in yaml: String) throws -> [String] {
        let start = try #require(yaml.range(of: "\n    \(name):"), "component \(name)")
        let rest = yaml[start.upperBound...]
        let open = try #require(rest.range(of: "enum: ["))
        let close = try #require(rest[open.upperBound...].firstIndex(of: "]"))
        return rest[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test func permissionsAndRolesAreTheServersOwn() throws {
        let yaml = try OperationsTests.openAPIText
        // `GET /me` and tokens answer with every permission of the caller; the document listed only the first 13.
        #expect(try Self.enumeration("Permission", in: yaml) == Permission.allCases.map(\.rawValue))
        #expect(try Self.enumeration("Role", in: yaml) == Role.allCases.map(\.rawValue))
    }

    @Test func everyPropertyIsASchemaNotAQuotedString() throws {
        // `summary: "{ type: object, … }"` was a string where a schema belongs (schemathesis stopped on it).
        let quoted = try OperationsTests.openAPIText.split(separator: "\n").filter { $0.contains(#": "{ type:"#) }
        #expect(quoted.isEmpty, "\(quoted)")
    }

    @Test(arguments: [TestBackend.sqlite])
    func publicOperationsDocumentTheRefusalOfABadToken(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let yaml = try OperationsTests.openAPIText
            for path in ["/health", "/metrics", "/openapi.yaml"] {
                // Open to all, yet a credential that is sent must be valid: the answer is a documented 401 problem.
                let answer = try await h.send(.get, path, token: "tyd_000000000000_not-a-secret")
                #expect(answer.status == .unauthorized && answer.headers[.contentType] == "application/problem+json", "\(path)")
                let start = try #require(yaml.range(of: "\n  \(path):\n"))
                let block = yaml[start.upperBound...].prefix { _ in true }
                let end = block.range(of: "\n  /")?.lowerBound ?? block.endIndex
                #expect(block[..<end].contains("\"401\""), "\(path) documents 401")
                #expect(try await h.send(.get, path).status == .ok, "\(path) without credentials")
            }
        }
    }
}
