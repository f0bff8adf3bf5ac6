import Foundation

/// Validation of the identifiers of the Chinese acquiring world.
public enum EstateRules {
    /// Alphabet of the unified social credit code (统一社会信用代码, GB 32100-2015): no I, O, S, V, Z.
    static let creditAlphabet = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let creditWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    /// The normalised 18-character unified social credit code, or a validation error
    /// (wrong length, characters outside the alphabet, or a wrong check character).
    public static func creditCode(_ raw: String, field: String = "creditCode") throws -> String {
        let code = raw.trimmingCharacters(in: .whitespaces).uppercased()
        let characters = Array(code)
        guard characters.count == 18 else { throw DomainError.invalid(field, "must be 18 characters") }
        var sum = 0
        for index in 0..<17 {
            guard let value = creditAlphabet.firstIndex(of: characters[index]) else {
                throw DomainError.invalid(field, "contains '\(characters[index])', which a credit code never has")
            }
            sum += value * creditWeights[index]
        }
        let check = (31 - sum % 31) % 31
        guard characters[17] == creditAlphabet[check] else {
            throw DomainError.invalid(field, "check character is wrong (expected \(creditAlphabet[check]))")
        }
        return code
    }

    /// The check character that completes a 17-character credit code prefix (for demo data and tests).
    public static func creditCheckCharacter(_ prefix: String) -> Character? {
        let characters = Array(prefix.uppercased())
        guard characters.count == 17 else { return nil }
        var sum = 0
        for index in 0..<17 {
            guard let value = creditAlphabet.firstIndex(of: characters[index]) else { return nil }
            sum += value * creditWeights[index]
        }
        return creditAlphabet[(31 - sum % 31) % 31]
    }

    /// A merchant code (MID): exactly 15 digits or capital letters.
    public static func mid(_ raw: String, field: String = "mid") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard value.count == 15, value.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isUppercase) }) else {
            throw DomainError.invalid(field, "must be 15 digits or capital letters")
        }
        return value
    }

    /// A terminal id (TID): exactly 8 digits or capital letters.
    public static func tid(_ raw: String, field: String = "tid") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard value.count == 8, value.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isUppercase) }) else {
            throw DomainError.invalid(field, "must be 8 digits or capital letters")
        }
        return value
    }

    /// A serial number: 4–40 letters, digits or '-'.
    public static func serialNumber(_ raw: String, field: String = "sn") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard (4...40).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter || $0 == "-") }) else {
            throw DomainError.invalid(field, "must be 4 to 40 letters, digits or '-'")
        }
        return value
    }

    /// Coordinates on Earth.
    public static func coordinates(latitude: Double, longitude: Double) throws {
        guard (-90...90).contains(latitude) else { throw DomainError.invalid("latitude", "must be from -90 to 90") }
        guard (-180...180).contains(longitude) else { throw DomainError.invalid("longitude", "must be from -180 to 180") }
    }
}
