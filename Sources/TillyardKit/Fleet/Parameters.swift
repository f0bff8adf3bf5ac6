import Crypto
import Foundation

/// The levels a parameter template is attached to, from the most general to the most specific.
/// A terminal's effective parameters are the defaults overridden by its model's template, then its
/// regions' (from the top of the tree down), its merchant's, and its own.
public enum ParameterLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case defaults, model, region, merchant, terminal

    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: ParameterLevel, rhs: ParameterLevel) -> Bool { lhs.rank < rhs.rank }
}

/// One template as it applies to a terminal: its level, what it is attached to, its version, and
/// the values it sets (a nil value removes the key that a more general template set).
public struct ParameterLayer: Codable, Sendable, Equatable {
    public var level: ParameterLevel
    /// The model, organisation or terminal id it is attached to ("" for the defaults).
    public var target: String
    /// Depth of a region in the tree (0 at the top): regions apply top-down.
    public var depth: Int
    public var version: Int
    public var values: [String: String?]

    public init(level: ParameterLevel, target: String, depth: Int = 0, version: Int, values: [String: String?]) {
        self.level = level
        self.target = target
        self.depth = depth
        self.version = version
        self.values = values
    }
}

/// A terminal's effective parameter set: the values, which layer each came from, and a version the
/// terminal compares with what it holds (it changes exactly when the effective set changes).
public struct EffectiveParameters: Codable, Sendable, Equatable {
    public var values: [String: String]
    /// Key → "level:target" of the layer that set it.
    public var sources: [String: String]
    /// First 16 hex characters of SHA-256 over the sorted key=value lines.
    public var version: String
}

/// Parameter keys and values, and inheritance; pure.
public enum ParameterRules {
    /// Keys are lowercase dotted names (`receipt.merchant_name`, `host.primary`, `tender.wechat`).
    public static func key(_ raw: String, field: String = "key") throws -> String {
        let key = raw.trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(key.count),
              key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }),
              key.first?.isLetter == true else {
            throw DomainError.invalid(field, "keys are 1–64 characters of a–z, 0–9, '.', '_' or '-', starting with a letter")
        }
        return key
    }

    /// Values are text of at most 1,000 characters (a terminal stores them as they are).
    public static func value(_ raw: String, field: String) throws -> String {
        guard raw.count <= 1000 else { throw DomainError.invalid(field, "values are at most 1,000 characters") }
        guard !raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) else {
            throw DomainError.invalid(field, "values must not hold control characters")
        }
        return raw
    }

    /// The layers merged from general to specific (regions top-down; equal levels by depth).
    public static func effective(_ layers: [ParameterLayer]) -> EffectiveParameters {
        var values: [String: String] = [:], sources: [String: String] = [:]
        for layer in layers.sorted(by: { ($0.level, $0.depth) < ($1.level, $1.depth) }) {
            for (key, value) in layer.values.sorted(by: { $0.key < $1.key }) {
                if let value {
                    values[key] = value
                    sources[key] = "\(layer.level.rawValue):\(layer.target)"
                } else {
                    values[key] = nil
                    sources[key] = nil
                }
            }
        }
        let text = values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: "\n")
        let digest = Hex.string(SHA256.hash(data: Data(text.utf8)))
        return EffectiveParameters(values: values, sources: sources, version: String(digest.prefix(16)))
    }
}
