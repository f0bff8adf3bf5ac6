import Crypto
import Foundation

/// Tag for software package ids.
public enum PackageTag {}
/// Id of a published software package.
public typealias PackageID = Identifier<PackageTag>

/// What a package installs.
public enum PackageKind: String, Codable, Sendable, CaseIterable {
    case app, firmware
}

/// A published software package: immutable once published (terminals verify the file against
/// `sha256`, and campaigns and audit events name it), so there is no update, only a new package.
public struct SoftwarePackage: Codable, Sendable, Equatable {
    public var id: PackageID
    /// The organisation that published it; its subtree's terminals may fetch it.
    public var orgId: OrgID
    public var kind: PackageKind
    public var version: String
    /// The models it may be installed on.
    public var modelIds: [ModelID]
    /// Lowercase hex SHA-256 of the file, computed by the server while storing it.
    public var sha256: String
    public var size: Int64
    /// The file name the uploader gave, for people only.
    public var filename: String?
    public var notes: String?
    public var createdBy: String
    public var createdAt: Date

    public init(id: PackageID, orgId: OrgID, kind: PackageKind, version: String, modelIds: [ModelID], sha256: String, size: Int64,
                filename: String?, notes: String?, createdBy: String, createdAt: Date) {
        self.id = id
        self.orgId = orgId
        self.kind = kind
        self.version = version
        self.modelIds = modelIds
        self.sha256 = sha256
        self.size = size
        self.filename = filename
        self.notes = notes
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    /// The signed download route terminals are pointed at.
    public var downloadPath: String { "/terminal/v1/packages/\(id.rawValue)" }
}

/// What the uploader says about a package; the file itself arrives separately (streamed).
public struct PackageInput: Sendable, Equatable {
    public var kind: PackageKind
    public var version: String
    public var modelIds: [ModelID]
    /// The SHA-256 the uploader computed; the upload is refused when the file's differs.
    public var sha256: String?
    public var filename: String?
    public var notes: String?

    public init(kind: PackageKind, version: String, modelIds: [ModelID], sha256: String? = nil, filename: String? = nil, notes: String? = nil) {
        self.kind = kind
        self.version = version
        self.modelIds = modelIds
        self.sha256 = sha256
        self.filename = filename
        self.notes = notes
    }
}

/// An upload being written to the package folder: bytes are hashed and written as they arrive,
/// so a large file is never held in memory. Exactly one of `finish` or `abandon` ends it.
public protocol PackageUpload: AnyObject, Sendable {
    /// Appends bytes; refuses (413) past the package size limit.
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes the file to disk and returns its SHA-256 (lowercase hex) and size.
    func finish() throws -> (sha256: String, size: Int64)
    /// Moves the finished file to its place under the package's id.
    func commit(as id: PackageID) throws
    /// Deletes what was written.
    func abandon()
}

/// Package files in the data folder (`<data dir>/packages`).
public protocol PackageFiles: Sendable {
    /// Starts writing an upload to a temporary file.
    func begin(limit: Int64) throws -> any PackageUpload
    /// The stored file of a package (nil when missing).
    func file(of id: PackageID) -> URL?
}

/// Storage of software packages.
public protocol PackageRepository: Sendable {
    func insert(_ package: SoftwarePackage, orgPath: String) async throws
    func find(_ id: PackageID) async throws -> SoftwarePackage?
    func find(org: OrgID, kind: PackageKind, version: String) async throws -> SoftwarePackage?
    /// Packages published inside a subtree or by its ancestors (what the caller may use), newest first.
    func list(visibleTo path: String, kind: PackageKind?, page: PageRequest) async throws -> Page<SoftwarePackage>
}

/// Software version arithmetic. Pure.
public enum SoftwareVersions {
    /// Compares dotted versions part by part, numbers as numbers ("1.10" > "1.9"); a part that is
    /// not a number compares as text, and a missing part counts as 0 ("1.2" == "1.2.0").
    public static func compare(_ lhs: String, _ rhs: String) -> ComparisonResult {
        let left = parts(lhs), right = parts(rhs)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : "0", b = index < right.count ? right[index] : "0"
            if let x = Int(a), let y = Int(b) {
                if x != y { return x < y ? .orderedAscending : .orderedDescending }
            } else if a != b {
                return a < b ? .orderedAscending : .orderedDescending
            }
        }
        return .orderedSame
    }

    /// Whether `version` is lower than `minimum`.
    public static func isBelow(_ version: String, _ minimum: String) -> Bool {
        compare(version, minimum) == .orderedAscending
    }

    private static func parts(_ version: String) -> [String] {
        version.trimmingCharacters(in: .whitespaces).lowercased().split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" }).map(String.init)
    }

    /// Checks a version as people type it: 1–40 characters of letters, digits, `.`, `-`, `_`, starting with a digit or letter.
    public static func validated(_ raw: String, field: String = "version") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        guard (1...40).contains(value.count), value.allSatisfy({ allowed.contains($0) }), value.first.map({ $0.isLetter || $0.isNumber }) == true else {
            throw DomainError.invalid(field, "write a version of 1 to 40 letters, digits, dots, dashes or underscores, e.g. 2.4.1")
        }
        return value
    }

    /// A SHA-256 as lowercase hex, or a field error.
    public static func sha256(_ raw: String, field: String = "sha256") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard value.count == 64, value.allSatisfy({ $0.isHexDigit }) else {
            throw DomainError.invalid(field, "must be the 64 hex digits of a SHA-256")
        }
        return value
    }
}

/// Incremental SHA-256 as lowercase hex (the upload writers use it while streaming).
public struct StreamingDigest: Sendable {
    private var hasher = SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    public func hex() -> String { Hex.string(hasher.finalize()) }
}
