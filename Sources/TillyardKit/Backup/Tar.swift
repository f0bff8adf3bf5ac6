import Crypto
import Foundation

/// Why a backup or a restore stopped. The message names what was wrong (the file, the audit
/// event, the versions) so an operator can act on it; the CLI prints it as is.
public struct BackupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure, for callers (and tests) that branch on it.
    public enum Kind: String, Sendable {
        /// The archive is not a readable tar of a Tillyard backup.
        case corrupt
        /// A file's bytes do not match the manifest's size or SHA-256.
        case checksum
        /// The audit chain inside the backup does not verify.
        case auditChain
        /// The archive was written by a newer Tillyard.
        case newerVersion
        /// The restore target already holds data.
        case notEmpty
        /// Anything else: a missing tool, a full disk, a refused database.
        case failed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A ustar (POSIX.1-1988) archive writer that streams: each member is written as it is read, so a
/// backup never holds a whole file in memory. Sizes above the 11 octal digits of ustar (8 GiB) use
/// the base-256 form GNU tar and bsdtar read.
///
/// We write tar ourselves because the package list has no archive library; plain `tar` can list
/// and extract what this writes (`tar tf`, `tar xf`).
public final class TarWriter {
    private let output: FileHandle
    /// Bytes written so far (the archive's size when finished).
    public private(set) var written: Int64 = 0
    private static let chunk = 1 << 20

    /// Writes to an open handle (positioned at the start of an empty file).
    public init(output: FileHandle) { self.output = output }

    /// Adds a regular file from disk, reading it in chunks; returns its size and SHA-256 (hex).
    ///
    /// The file must not change size while it is copied (the data folder's files are written to a
    /// temporary name and renamed into place, so a name always holds one complete file).
    @discardableResult
    public func addFile(_ path: String, from source: URL, modified: Date = Date()) throws -> (size: Int64, sha256: String) {
        let attributes = try FileManager.default.attributesOfItem(atPath: source.path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        try writeHeader(path: path, size: size, modified: (attributes[.modificationDate] as? Date) ?? modified)
        var hasher = SHA256()
        var remaining = size
        while remaining > 0 {
            let data = try input.read(upToCount: Int(min(Int64(Self.chunk), remaining))) ?? Data()
            guard !data.isEmpty else {
                throw BackupError(.failed, "\(source.path) became shorter while it was copied (\(size - remaining) of \(size) bytes)")
            }
            hasher.update(data: data)
            try write(data)
            remaining -= Int64(data.count)
        }
        try pad(size)
        return (size, Hex.string(hasher.finalize()))
    }

    /// Adds a member from bytes in memory (the manifest); returns its SHA-256 (hex).
    @discardableResult
    public func addData(_ path: String, _ data: Data, modified: Date = Date()) throws -> String {
        try writeHeader(path: path, size: Int64(data.count), modified: modified)
        try write(data)
        try pad(Int64(data.count))
        return Hex.string(SHA256.hash(data: data))
    }

    /// Ends the archive (two zero blocks) and flushes it to disk.
    public func finish() throws {
        try write(Data(count: 1024))
        try output.synchronize()
    }

    private func write(_ data: Data) throws {
        try output.write(contentsOf: data)
        written += Int64(data.count)
    }

    private func pad(_ size: Int64) throws {
        let rest = Int(size % 512)
        if rest != 0 { try write(Data(count: 512 - rest)) }
    }

    private func writeHeader(path: String, size: Int64, modified: Date) throws {
        let (prefix, name) = try Self.split(path)
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        if size < 0o77777777777 {
            octal(size, at: 124, width: 12)
        } else {
            // Base-256: the high bit of the first byte set, the size big-endian in the rest.
            header[124] = 0x80
            for index in 0..<8 { header[135 - index] = UInt8((size >> (8 * Int64(index))) & 0xFF) }
        }
        octal(Int64(max(0, modified.timeIntervalSince1970)), at: 136, width: 12)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("tillyard", at: 265, width: 32)
        put("tillyard", at: 297, width: 32)
        put(prefix, at: 345, width: 155)
        // The checksum is computed with its own field as spaces.
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int64($1) }
        put(String(sum, radix: 8).leftPadded(to: 6), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        try write(Data(header))
    }

    /// ustar's name (100 bytes) and prefix (155 bytes), split at a "/".
    static func split(_ path: String) throws -> (prefix: String, name: String) {
        let bytes = Array(path.utf8)
        if bytes.count <= 100 { return ("", path) }
        var cut = bytes.count
        while let slash = bytes[..<cut].lastIndex(of: UInt8(ascii: "/")) {
            if bytes.count - slash - 1 > 100 { break }
            if slash <= 155 {
                return (String(decoding: bytes[..<slash], as: UTF8.self), String(decoding: bytes[(slash + 1)...], as: UTF8.self))
            }
            cut = slash
        }
        throw BackupError(.failed, "the path \(path) is too long for a tar archive")
    }
}

/// One member of a tar archive as `TarReader` finds it.
public struct TarEntry: Sendable, Equatable {
    /// The member's path inside the archive.
    public var path: String
    public var size: Int64
    /// Regular file (true) or directory (false).
    public var isFile: Bool
}

/// Reads a ustar archive member by member, streaming each body to a caller's handler. Anything
/// that does not follow the format (bad header checksum, a truncated body, a link or device
/// member) is refused as a corrupt archive.
public final class TarReader {
    private let input: FileHandle
    /// The unread body (and padding) of the current member.
    private var pending: (body: Int64, padding: Int64) = (0, 0)
    private static let chunk = 1 << 20

    /// Reads from an open handle positioned at the start of the archive.
    public init(input: FileHandle) { self.input = input }

    /// The next member, or nil at the end of the archive. An unread body is skipped first.
    public func next() throws -> TarEntry? {
        if pending.body > 0 { try readBody { _ in } }
        if pending.padding > 0 { _ = try exactly(Int(pending.padding), what: "padding") }
        pending = (0, 0)
        let header = try exactly(512, what: "a header")
        if header.allSatisfy({ $0 == 0 }) { return nil }
        let bytes = Array(header)
        let stored = Self.number(bytes[148..<156])
        var sum: Int64 = 0
        for (index, byte) in bytes.enumerated() { sum += (148..<156).contains(index) ? 32 : Int64(byte) }
        guard stored == sum else { throw BackupError(.corrupt, "corrupt archive: a header's checksum does not match (not a tar file, or damaged)") }
        let name = Self.text(bytes[0..<100])
        let prefix = Self.text(bytes[345..<500])
        let path = prefix.isEmpty ? name : prefix + "/" + name
        let size: Int64
        if bytes[124] & 0x80 != 0 {
            size = bytes[125..<136].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        } else {
            guard let parsed = Self.number(bytes[124..<136]) else { throw BackupError(.corrupt, "corrupt archive: bad size of \(path)") }
            size = parsed
        }
        let type = bytes[156]
        guard type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "5") else {
            throw BackupError(.corrupt, "corrupt archive: \(path) is not a regular file (tar type \(Character(UnicodeScalar(type))))")
        }
        pending = (size, (512 - size % 512) % 512)
        return TarEntry(path: path, size: size, isFile: type != UInt8(ascii: "5"))
    }

    /// Hands the current member's body to `handle` in chunks.
    public func readBody(_ handle: (Data) throws -> Void) throws {
        while pending.body > 0 {
            let data = try exactly(Int(min(Int64(Self.chunk), pending.body)), what: "a file's contents")
            pending.body -= Int64(data.count)
            try handle(data)
        }
    }

    private func exactly(_ count: Int, what: String) throws -> Data {
        var data = Data()
        while data.count < count {
            guard let more = try input.read(upToCount: count - data.count), !more.isEmpty else {
                throw BackupError(.corrupt, "corrupt archive: it ends in the middle of \(what) (truncated?)")
            }
            data.append(more)
        }
        return data
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int64? {
        let digits = text(bytes).trimmingCharacters(in: .whitespaces)
        return digits.isEmpty ? 0 : Int64(digits, radix: 8)
    }
}

extension String {
    /// The text with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
