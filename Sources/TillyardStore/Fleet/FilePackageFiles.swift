import Foundation
import TillyardKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Package files in the data folder (`<data dir>/packages/<id>.bin`). An upload is written to a
/// temporary file while it is hashed, flushed to disk, and renamed into place only when the package
/// is published, so a crash or a refused upload never leaves a file under a package's name.
public struct FilePackageFiles: PackageFiles {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func begin(limit: Int64) throws -> any PackageUpload {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try FilePackageUpload(root: root, limit: limit)
    }

    public func file(of id: PackageID) -> URL? {
        let url = location(id)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    func location(_ id: PackageID) -> URL { root.appendingPathComponent("\(id.rawValue).bin") }
}

/// One upload in progress: a temporary file in the package folder and the running digest.
final class FilePackageUpload: PackageUpload, @unchecked Sendable {
    private let lock = NSLock()
    private let root: URL
    private let temporary: URL
    private let limit: Int64
    private var fd: Int32
    private var digest = StreamingDigest()
    private var size: Int64 = 0
    private var finished = false
    /// Where `commit` put the file (removed again by `abandon` when the record did not commit).
    private var committed: URL?

    init(root: URL, limit: Int64) throws {
        self.root = root
        self.limit = limit
        temporary = root.appendingPathComponent(".upload-\(UUID().uuidString).tmp")
        fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw DomainError.conflict("cannot write packages to \(root.path) (errno \(errno))") }
    }

    deinit {
        // An upload dropped without finish/abandon (a cancelled request) leaves nothing behind.
        if fd >= 0 { close(fd) }
        if !finished { unlink(temporary.path) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try lock.withLock {
            guard fd >= 0 else { throw DomainError.conflict("the upload is closed") }
            size += Int64(bytes.count)
            guard size <= limit else { throw DomainError.invalid("file", "a package is at most \(limit / (1 << 20)) MB") }
            digest.update(bytes)
            var written = 0
            while written < bytes.count {
                let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
                guard count > 0 else { throw DomainError.conflict("cannot write packages to \(root.path) (errno \(errno))") }
                written += count
            }
        }
    }

    func finish() throws -> (sha256: String, size: Int64) {
        try lock.withLock {
            guard fd >= 0 else { throw DomainError.conflict("the upload is closed") }
            let synced = fsync(fd) == 0
            close(fd)
            fd = -1
            guard synced else { throw DomainError.conflict("cannot flush the package to \(root.path) (errno \(errno))") }
            return (digest.hex(), size)
        }
    }

    func commit(as id: PackageID) throws {
        try lock.withLock {
            let target = root.appendingPathComponent("\(id.rawValue).bin")
            guard rename(temporary.path, target.path) == 0 else {
                throw DomainError.conflict("cannot store the package in \(root.path) (errno \(errno))")
            }
            finished = true
            committed = target
            // The rename must reach the disk before the record that points at it commits.
            let dir = open(root.path, O_RDONLY)
            if dir >= 0 {
                fsync(dir)
                close(dir)
            }
        }
    }

    func abandon() {
        lock.withLock {
            if fd >= 0 {
                close(fd)
                fd = -1
            }
            if let committed {
                // Moved into place, but the record did not commit: no file without its record.
                unlink(committed.path)
                self.committed = nil
            } else if !finished {
                unlink(temporary.path)
            }
            finished = true
        }
    }
}
