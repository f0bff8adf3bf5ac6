import Crypto
import Foundation

/// Why a terminal request was refused. The raw value is the reason code the 401 problem carries
/// and the security event records; the terminal agent reacts to it (e.g. re-syncs its clock on
/// `clock_skew`, re-activates on `credential_revoked`).
public enum SignatureFailure: String, Error, Codable, Sendable, CaseIterable {
    /// A signing header is absent.
    case missingHeader = "missing_header"
    /// The timestamp is not whole seconds since 1970.
    case malformedTimestamp = "malformed_timestamp"
    /// The timestamp is further from the server's clock than the window allows.
    case clockSkew = "clock_skew"
    /// The nonce is not 16–64 characters of [A-Za-z0-9_-].
    case malformedNonce = "malformed_nonce"
    /// The nonce was already used by this terminal inside the window: a replay.
    case replayedNonce = "replayed_nonce"
    /// The signature is not 64 lowercase hex characters, or does not match.
    case badSignature = "bad_signature"
    /// No terminal with that id has an active credential.
    case unknownTerminal = "unknown_terminal"
    /// The credential was replaced by a re-activation or revoked.
    case credentialRevoked = "credential_revoked"
    /// The terminal is locked by an operator or a relocation block.
    case terminalLocked = "terminal_locked"
    /// The terminal is scrapped (or otherwise out of the estate).
    case terminalRetired = "terminal_retired"
}

/// The headers of a signed terminal request, as received.
public struct SignedRequestHeaders: Sendable, Equatable {
    public var terminalId: String?
    public var timestamp: String?
    public var nonce: String?
    public var signature: String?

    public init(terminalId: String?, timestamp: String?, nonce: String?, signature: String?) {
        self.terminalId = terminalId
        self.timestamp = timestamp
        self.nonce = nonce
        self.signature = signature
    }

    /// Header names on the wire.
    public static let terminalIdName = "X-Tillyard-Terminal"
    public static let timestampName = "X-Tillyard-Timestamp"
    public static let nonceName = "X-Tillyard-Nonce"
    public static let signatureName = "X-Tillyard-Signature"
}

/// HMAC-SHA256 request signing between terminals and the server (一机一密: every terminal has its
/// own secret). The signed text binds the method, the path with its query, the timestamp, the
/// nonce and the SHA-256 of the body, so nothing of a captured request can be reused elsewhere:
///
///     TILLYARD-HMAC-SHA256\n<METHOD>\n<path?query>\n<timestamp>\n<nonce>\n<hex sha256(body)>
///
/// Both sides use this type: the server to verify, the reference terminal agent to sign.
public enum TerminalSigning {
    /// The first line of the signed text (names the scheme, so a future one cannot be confused with it).
    public static let scheme = "TILLYARD-HMAC-SHA256"
    /// How far a request's timestamp may be from the server's clock, seconds.
    public static let defaultWindow: TimeInterval = 300

    /// The text that is signed.
    public static func canonical(method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> String {
        String(decoding: canonicalBytes(method: method, path: path, timestamp: timestamp, nonce: nonce, body: body), as: UTF8.self)
    }

    /// The signed text's bytes, written in one buffer: every terminal request is verified with
    /// them, so no intermediate strings (the join of six parts cost more than the HMAC itself).
    static func canonicalBytes(method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scheme.utf8.count + method.utf8.count + path.utf8.count + nonce.utf8.count + 96)
        bytes.append(contentsOf: scheme.utf8)
        bytes.append(0x0A)
        // Methods are ASCII tokens, for which this ASCII upper-casing is `uppercased()`.
        for byte in method.utf8 { bytes.append((0x61...0x7A).contains(byte) ? byte - 0x20 : byte) }
        bytes.append(0x0A)
        bytes.append(contentsOf: path.utf8)
        bytes.append(0x0A)
        bytes.append(contentsOf: String(timestamp).utf8)
        bytes.append(0x0A)
        bytes.append(contentsOf: nonce.utf8)
        bytes.append(0x0A)
        for byte in SHA256.hash(data: body) {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0F)])
        }
        return bytes
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The signature's MAC.
    private static func mac(secret: Data, method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> HMAC<SHA256>.MAC {
        HMAC<SHA256>.authenticationCode(for: canonicalBytes(method: method, path: path, timestamp: timestamp, nonce: nonce, body: body),
                                        using: SymmetricKey(data: secret))
    }

    /// The signature, lowercase hex.
    public static func sign(secret: Data, method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> String {
        Hex.string(mac(secret: secret, method: method, path: path, timestamp: timestamp, nonce: nonce, body: body))
    }

    /// The checks that need no stored state, in the order a server runs them before looking the
    /// terminal up: every header present, the timestamp well formed and inside the window, the
    /// nonce well formed. Returns the timestamp and nonce.
    public static func precheck(_ headers: SignedRequestHeaders, now: Date, window: TimeInterval = defaultWindow) throws -> (terminalId: String, timestamp: Int64, nonce: String, signature: String) {
        guard let terminalId = headers.terminalId, !terminalId.isEmpty, let rawTimestamp = headers.timestamp,
              let nonce = headers.nonce, let signature = headers.signature else {
            throw SignatureFailure.missingHeader
        }
        guard let timestamp = Int64(rawTimestamp), rawTimestamp.allSatisfy(\.isASCII) else { throw SignatureFailure.malformedTimestamp }
        guard abs(Double(timestamp) - now.timeIntervalSince1970) <= window else { throw SignatureFailure.clockSkew }
        // Byte checks: this runs on every terminal request, and both are plain ASCII by rule.
        guard (16...64).contains(nonce.utf8.count), nonce.utf8.allSatisfy({ Self.isASCIIAlphanumeric($0) || $0 == 0x2D || $0 == 0x5F }) else {
            throw SignatureFailure.malformedNonce
        }
        guard signature.utf8.count == 64, signature.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw SignatureFailure.badSignature
        }
        return (terminalId, timestamp, nonce, signature)
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// Whether `signature` is the terminal's signature of the request (compared in constant time).
    public static func matches(_ signature: String, secret: Data, method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> Bool {
        TerminalSigner(secret: Array(secret)).matches(signature, method: method, path: path, timestamp: timestamp, nonce: nonce, body: body)
    }

    /// Whether `signature` is the lowercase hex of `code`, compared digit by digit in constant time.
    static func isHex(_ signature: String, of code: HMAC<SHA256>.MAC) -> Bool {
        var signature = signature
        return signature.withUTF8 { given in
            guard given.count == 64 else { return false }
            var difference: UInt8 = 0
            var index = 0
            for byte in code {
                difference |= given[index] ^ hexDigits[Int(byte >> 4)]
                difference |= given[index + 1] ^ hexDigits[Int(byte & 0x0F)]
                index += 2
            }
            return difference == 0
        }
    }
}

/// A terminal's secret made ready to verify its requests: the HMAC key schedule (padding the key,
/// hashing the inner and outer pads) is done once, when the terminal's context is loaded, and each
/// request starts from a copy of it. Only the server's memory holds it; it is never logged.
public struct TerminalSigner: Sendable, Equatable {
    private let secret: [UInt8]
    private let prepared: HMAC<SHA256>

    public init(secret: [UInt8]) {
        self.secret = secret
        prepared = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// Whether `signature` is this terminal's signature of the request (compared in constant time).
    public func matches(_ signature: String, method: String, path: String, timestamp: Int64, nonce: String, body: Data) -> Bool {
        var mac = prepared
        mac.update(data: TerminalSigning.canonicalBytes(method: method, path: path, timestamp: timestamp, nonce: nonce, body: body))
        return TerminalSigning.isHex(signature, of: mac.finalize())
    }

    public static func == (lhs: TerminalSigner, rhs: TerminalSigner) -> Bool {
        Secrets.constantTimeEquals(Hex.string(lhs.secret), Hex.string(rhs.secret))
    }
}

/// Nonces seen per terminal inside the signing window. A nonce older than the window is refused by
/// the timestamp check already, so each one is kept only for twice the window, and memory stays
/// bounded by the request rate. One node's memory: a deployment with several nodes routes a terminal
/// to one node (sticky by terminal id) or shares the window through the database.
public final class NonceWindow: @unchecked Sendable {
    private let lock = NSLock()
    /// A terminal's nonce (two strings, not one joined: no new string per request).
    private struct Key: Hashable {
        let terminal: String
        let nonce: String
    }

    private var seen: [Key: Date] = [:]
    private var lastSweep = Date.distantPast
    private let keep: TimeInterval

    public init(window: TimeInterval = TerminalSigning.defaultWindow) {
        keep = window * 2
    }

    /// Records the nonce; false when this terminal already used it inside the window (a replay).
    public func use(_ nonce: String, terminal: String, at now: Date) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if now.timeIntervalSince(lastSweep) > keep / 4 {
            seen = seen.filter { now.timeIntervalSince($0.value) < keep }
            lastSweep = now
        }
        let key = Key(terminal: terminal, nonce: nonce)
        if let when = seen.updateValue(now, forKey: key), now.timeIntervalSince(when) < keep {
            seen[key] = when
            return false
        }
        return true
    }

    /// How many nonces are held (for metrics and tests).
    public var count: Int { lock.withLock { seen.count } }
}

/// A one-time activation code an operator gives the installer of a bound terminal.
public enum ActivationCodes {
    /// Codes are typed on a terminal keypad: 12 digits in groups of four, from a CSPRNG
    /// (10^12 guesses, and each code lives only for hours and is tried against one SN).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = (0..<12).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
        return stride(from: 0, to: 12, by: 4).map { start in
            String(digits.dropFirst(start).prefix(4))
        }.joined(separator: "-")
    }

    /// The code as stored: SHA-256 of its digits, so a database reader cannot activate a terminal.
    public static func hash(_ code: String) -> String {
        Secrets.sha256(normalised(code))
    }

    /// The digits of a typed code (spaces and dashes ignored).
    public static func normalised(_ code: String) -> String {
        String(code.filter(\.isNumber))
    }
}
