import Crypto
import Foundation

/// Checks and shapes of member data: phone numbers, card numbers and QR codes, birthdays, masks.
public enum MemberRules {
    /// What a member QR code carries before the card number.
    public static let qrPrefix = "TYM1:"

    /// A mainland mobile number: 11 digits starting with 1 (spaces, dashes and a +86 / 86 prefix dropped).
    public static func phone(_ raw: String, field: String = "phone") throws -> String {
        var digits = raw.filter { !" -()".contains($0) }
        if digits.hasPrefix("+86") { digits.removeFirst(3) } else if digits.hasPrefix("86"), digits.count == 13 { digits.removeFirst(2) }
        guard digits.count == 11, digits.hasPrefix("1"), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw DomainError.invalid(field, "must be an 11-digit mobile number")
        }
        return digits
    }

    /// "138****1234": the first 3 and last 4 digits.
    public static func maskPhone(_ phone: String?) -> String? {
        guard let phone, phone.count >= 7 else { return phone.map { _ in "****" } }
        return "\(phone.prefix(3))\(String(repeating: "*", count: phone.count - 7))\(phone.suffix(4))"
    }

    /// "王*" / "W***": the first character and one mask per other character (at most 3).
    public static func maskName(_ name: String?) -> String? {
        guard let name, let first = name.first else { return name }
        return String(first) + String(repeating: "*", count: min(max(name.count - 1, 1), 3))
    }

    /// A card number: 6 to 20 digits or capital letters.
    public static func cardNumber(_ raw: String, field: String = "cardNumber") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard (6...20).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isUppercase) }) else {
            throw DomainError.invalid(field, "must be 6 to 20 digits or letters")
        }
        return value
    }

    /// A new 12-digit card number ("8" and 11 random digits).
    public static func newCardNumber() -> String {
        "8" + (0..<11).map { _ in String(Int.random(in: 0...9)) }.joined()
    }

    /// What a member QR code says: `TYM1:` and the card number.
    public static func qrPayload(cardNumber: String) -> String { qrPrefix + cardNumber }

    /// What the cashier typed or scanned, recognised: a phone number, a member QR code or a card number.
    public enum Key: Sendable, Equatable {
        case phone(String)
        case card(String)
    }

    /// Recognises a lookup key (phone first: 11 digits starting with 1).
    public static func key(_ raw: String) throws -> Key {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.uppercased().hasPrefix(qrPrefix) { return .card(try cardNumber(String(text.dropFirst(qrPrefix.count)), field: "q")) }
        if let phone = try? phone(text, field: "q") { return .phone(phone) }
        return .card(try cardNumber(text, field: "q"))
    }

    /// A birthday "MM-DD" or "YYYY-MM-DD" (empty is none).
    public static func birthday(_ raw: String?, field: String = "birthday") throws -> String? {
        guard let value = raw?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        guard birthMonth(value) != nil else { throw DomainError.invalid(field, "must be MM-DD or YYYY-MM-DD") }
        return value
    }

    /// The month of a birthday text, if it is one.
    public static func birthMonth(_ text: String?) -> Int? {
        guard let text else { return nil }
        let parts = text.split(separator: "-").map(String.init)
        let monthDay = parts.count == 3 ? Array(parts[1...]) : parts
        guard parts.count == 2 || (parts.count == 3 && parts[0].count == 4 && Int(parts[0]) != nil),
              monthDay.count == 2, monthDay.allSatisfy({ $0.count == 2 }),
              let month = Int(monthDay[0]), let day = Int(monthDay[1]), (1...12).contains(month), (1...31).contains(day) else { return nil }
        return month
    }

    /// A short code: 1–20 lower-case letters, digits, '-' or '_'.
    public static func code(_ raw: String, field: String) throws -> String {
        guard (1...20).contains(raw.count), raw.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DomainError.invalid(field, "must be 1 to 20 lower-case letters, digits, '-' or '_'")
        }
        return raw
    }

    /// Tags: at most 10, each at most 20 characters, trimmed, no duplicates.
    public static func tags(_ raw: [String], field: String = "tags") throws -> [String] {
        var seen: [String] = []
        for (index, tag) in raw.enumerated() {
            let value = try AccessRules.text(tag, field: "\(field).\(index)", max: 20)
            if !seen.contains(value) { seen.append(value) }
        }
        guard seen.count <= 10 else { throw DomainError.invalid(field, "at most 10 tags") }
        return seen
    }

    /// A stable UUID-shaped id derived from a text (SHA-256, version 8), for defaults that must be the same everywhere.
    static func derivedId(_ text: String) -> String {
        var bytes = Array(SHA256.hash(data: Data(text.utf8)).prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let hex = Array(Hex.string(bytes))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
    }
}

/// The keys of member personal data: AES-256-GCM ciphers by key id (the newest seals, all of them open,
/// so keys can be rotated by re-sealing rows) and the HMAC key of phone lookups, which never rotates
/// (a new lookup key would need every phone in clear again).
public struct MemberKeyring: Sendable {
    public let currentKeyId: String
    private let ciphers: [String: InstallationCipher]
    private let lookupKey: SymmetricKey

    /// `keys` in age order (the last one seals); `lookupSecret` keys the phone hashes.
    public init(keys: [(id: String, secret: Data)], lookupSecret: Data) {
        precondition(!keys.isEmpty, "a member keyring needs a key")
        var ciphers: [String: InstallationCipher] = [:]
        for key in keys { ciphers[key.id] = InstallationCipher(secret: key.secret, purpose: "members") }
        self.ciphers = ciphers
        self.currentKeyId = keys[keys.count - 1].id
        self.lookupKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: lookupSecret), info: Data("tillyard member lookup v1".utf8),
                                                outputByteCount: 32)
    }

    /// Key `k1` from the installation key, plus any configured keys after it (`TILLYARD_MEMBER_KEYS`).
    public static func installation(_ secret: Data, extra: [(id: String, secret: Data)] = []) -> MemberKeyring {
        MemberKeyring(keys: [("k1", secret)] + extra, lookupSecret: secret)
    }

    /// Parses `id:base64,id:base64` (each key at least 32 bytes; ids 1–20 letters or digits, not `k1`).
    public static func parse(_ text: String) throws -> [(id: String, secret: Data)] {
        try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, (1...20).contains(parts[0].count), parts[0] != "k1", parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
                  let secret = Data(base64Encoded: parts[1]), secret.count >= 32 else {
                throw DomainError.invalid("TILLYARD_MEMBER_KEYS", "give id:base64 pairs of keys of 32 bytes or more, separated by commas")
            }
            return (parts[0], secret)
        }
    }

    /// Whether a key id can be opened.
    public func knows(_ keyId: String) -> Bool { ciphers[keyId] != nil }

    /// The keyed hash that finds a member by phone without the phone in clear.
    public func phoneHash(_ phone: String) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data(phone.utf8), using: lookupKey))
    }

    /// Seals a member's phone and name under the current key.
    public func seal(phone: String?, name: String?, member: MemberID) throws -> SealedContact {
        guard let cipher = ciphers[currentKeyId] else { throw DomainError.conflict("member key \(currentKeyId) is missing") }
        return SealedContact(keyId: currentKeyId, phoneHash: phone.map(phoneHash),
                             phone: try phone.map { try cipher.seal(Array($0.utf8), boundTo: "\(member.rawValue)/phone") },
                             name: try name.map { try cipher.seal(Array($0.utf8), boundTo: "\(member.rawValue)/name") })
    }

    /// The clear phone and name; throws when the key is unknown or a blob does not open (altered or moved).
    public func open(_ contact: SealedContact, member: MemberID) throws -> (phone: String?, name: String?) {
        guard let cipher = ciphers[contact.keyId] else { throw DomainError.conflict("member key \(contact.keyId) is not configured") }
        func open(_ blob: [UInt8]?, _ field: String) throws -> String? {
            guard let blob else { return nil }
            guard let plain = cipher.open(blob, boundTo: "\(member.rawValue)/\(field)") else {
                throw DomainError.conflict("the \(field) of member \(member) does not decrypt")
            }
            return String(decoding: plain, as: UTF8.self)
        }
        return (try open(contact.phone, "phone"), try open(contact.name, "name"))
    }
}
