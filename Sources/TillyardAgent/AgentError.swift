import Foundation
import TillyardKit

/// Why the agent could not do something, worded for the person at the terminal or the CLI.
public enum AgentError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The state folder has no credential: activate first.
    case notActivated(String)
    /// A state file cannot be read or written.
    case badState(String)
    /// The server refused the request's signature or credential (401); `reason` is its code
    /// (`bad_signature`, `clock_skew`, `credential_revoked`…), or nil when it gave none.
    case refused(reason: String?, detail: String)
    /// The terminal is locked (by an operator or the relocation guard): no payments.
    case locked(String?)
    /// Any other answer the agent cannot act on.
    case server(status: Int, detail: String)
    /// Bad input from the person (amount, masked PAN…).
    case invalidInput(String)

    public var description: String {
        switch self {
        case .notActivated(let path):
            "\(path) holds no terminal credential; run `tillyard terminal activate --state \(path) …` first"
        case .badState(let message):
            message
        case .refused(let reason, let detail):
            "the server refused the terminal (reason: \(reason ?? "none given")): \(detail)"
        case .locked(let reason):
            "the terminal is locked\(reason.map { " (\($0))" } ?? ""): payments are refused until an operator unlocks it"
        case .server(let status, let detail):
            "the server answered \(status): \(detail)"
        case .invalidInput(let message):
            message
        }
    }

    /// The error an unsuccessful answer stands for: 401 → `refused` with the problem's reason,
    /// 423 → `locked`, anything else → `server` with the problem's detail.
    static func from(_ response: AgentResponse) -> AgentError {
        let problem = try? JSONDecoder().decode(ProblemBody.self, from: response.body)
        let detail = problem?.detail ?? problem?.title ?? (response.text.isEmpty ? "no detail" : String(response.text.prefix(300)))
        switch response.status {
        case 401 where problem?.reason == SignatureFailure.terminalLocked.rawValue: return .locked(problem?.detail)
        case 401: return .refused(reason: problem?.reason, detail: detail)
        case 423: return .locked(problem?.detail)
        default: return .server(status: response.status, detail: detail)
        }
    }
}

/// The parts of an RFC 9457 problem the agent reads.
struct ProblemBody: Decodable {
    var title: String?
    var detail: String?
    var reason: String?
}
