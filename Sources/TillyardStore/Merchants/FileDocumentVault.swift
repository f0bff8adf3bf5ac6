import Foundation
import TillyardKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Document bytes in the data folder (`<data dir>/documents/<tenant>/<xx>/<id>.bin`), encrypted
/// with `DocumentCipher`. Writes go to a temporary file that is flushed to disk and renamed into
/// place, so a crash never leaves half a document under a real name.
public struct FileDocumentVault: DocumentVault {
    public let root: URL
    let cipher: DocumentCipher

    public init(root: URL, cipher: DocumentCipher) {
        self.root = root
        self.cipher = cipher
    }

    func location(_ id: DocumentID, tenant: OrgID) -> (folder: URL, file: URL) {
        // The tail of a UUIDv7 is random: it spreads files evenly over 256 folders.
        let folder = root.appendingPathComponent(tenant.rawValue).appendingPathComponent(String(id.rawValue.suffix(2)))
        return (folder, folder.appendingPathComponent("\(id.rawValue).bin"))
    }

    public func put(_ id: DocumentID, tenant: OrgID, bytes: [UInt8]) async throws {
        let blob = try cipher.seal(bytes, id: id)
        let (folder, file) = location(id, tenant: tenant)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = folder.appendingPathComponent(".\(id.rawValue).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw DomainError.conflict("cannot write documents to \(folder.path) (errno \(errno))") }
        var written = 0
        while written < blob.count {
            let count = blob.withUnsafeBytes { write(fd, $0.baseAddress! + written, blob.count - written) }
            guard count > 0 else {
                close(fd)
                unlink(temporary.path)
                throw DomainError.conflict("cannot write documents to \(folder.path) (errno \(errno))")
            }
            written += count
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary.path, file.path) == 0 else {
            unlink(temporary.path)
            throw DomainError.conflict("cannot store the document in \(folder.path) (errno \(errno))")
        }
        // The rename itself must reach the disk before the record that points at it is committed.
        let dir = open(folder.path, O_RDONLY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    public func get(_ id: DocumentID, tenant: OrgID) async throws -> [UInt8] {
        let file = location(id, tenant: tenant).file
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw DomainError.conflict("the stored document \(id) is missing from \(root.path)")
        }
        return try cipher.open(Array(data), id: id)
    }

    public func delete(_ id: DocumentID, tenant: OrgID) async throws {
        let file = location(id, tenant: tenant).file
        if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
    }
}
