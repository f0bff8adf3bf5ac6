import Foundation
import TillyardKit

/// Builds signed terminal requests (`TerminalSigning`): a fresh nonce each time, the timestamp,
/// and the signature over method, path with query, timestamp, nonce and body hash. Pure and
/// cheap, so the fleet simulator signs on its own threads with it too.
public struct RequestSigner: Sendable {
    public let terminalId: String
    let secret: Data

    /// A signer for terminal `terminalId` with its 32-byte secret.
    public init(terminalId: String, secret: Data) {
        self.terminalId = terminalId
        self.secret = secret
    }

    /// The signer of an activated credential.
    public init(_ credential: AgentCredential) throws {
        guard let secret = credential.secretBytes, secret.count == 32 else {
            throw AgentError.badState("the stored terminal secret is not 32 bytes of hex; activate the terminal again")
        }
        self.init(terminalId: credential.terminalId, secret: secret)
    }

    /// A request signed at `timestamp` (seconds since 1970 on the server's clock).
    public func request(_ method: String, _ path: String, body: Data = Data(), timestamp: Int64) -> AgentRequest {
        // 16 random bytes: 32 characters of [0-9a-f], inside the server's 16–64 character rule.
        var generator = SystemRandomNumberGenerator()
        let nonce = Hex.string((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        var headers = [
            SignedRequestHeaders.terminalIdName: terminalId,
            SignedRequestHeaders.timestampName: String(timestamp),
            SignedRequestHeaders.nonceName: nonce,
            SignedRequestHeaders.signatureName: TerminalSigning.sign(secret: secret, method: method, path: path, timestamp: timestamp,
                                                                     nonce: nonce, body: body),
        ]
        if !body.isEmpty { headers["Content-Type"] = "application/json" }
        return AgentRequest(method: method, path: path, headers: headers, body: body)
    }
}
