import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends raw bytes to a network receipt printer on its "raw" port (9100, also called JetDirect or
/// AppSocket): connect, write everything, close. Printers answer nothing on that port, so a completed
/// write is all the confirmation there is.
///
/// Plain POSIX sockets keep this free of new dependencies; the blocking work runs on a Dispatch
/// worker so an async caller (a server route later) never blocks its executor.
struct RawPrinter: Sendable {
    /// How long to wait for the printer to accept the connection.
    var connectTimeout: Duration = .seconds(5)
    /// How long one write may stall (a printer out of paper stops reading).
    var writeTimeout: Duration = .seconds(10)

    /// Why a job did not reach the printer, in one line.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The printer's address from `tcp://HOST[:PORT]` (port 9100 when left out; IPv6 hosts in brackets).
    static func endpoint(_ url: URL) throws -> (host: String, port: UInt16) {
        let problem = Failure(description: "the printer must be given as tcp://HOST:PORT (port 9100 when left out), not '\(url.absoluteString)'")
        guard url.scheme?.lowercased() == "tcp", let host = url.host, !host.isEmpty,
              url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil else { throw problem }
        let port = url.port ?? 9100
        guard (1...65535).contains(port) else { throw problem }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (bare, UInt16(port))
    }

    /// Sends the bytes to the printer at `url` (`tcp://HOST:PORT`).
    func send(_ bytes: [UInt8], to url: URL) async throws {
        let (host, port) = try Self.endpoint(url)
        let printer = self
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try printer.blockingSend(bytes, host: host, port: port)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: Failure(description: "cannot print to \(url.absoluteString): \(error)"))
                }
            }
        }
    }

    private func blockingSend(_ bytes: [UInt8], host: String, port: UInt16) throws {
        let fd = try openConnection(host: host, port: port)
        defer { close(fd) }
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { buffer in
                sendWithoutSignal(fd, buffer.baseAddress, buffer.count)
            }
            if written > 0 {
                sent += written
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard try wait(fd, for: Int16(POLLOUT), within: writeTimeout) else {
                    throw Failure(description: "the printer stopped taking data (\(sent) of \(bytes.count) bytes sent)")
                }
            } else {
                throw Failure(description: Self.lastError())
            }
        }
        // Tell the printer the job is complete; close() then hands any unsent tail to the kernel as usual.
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// A connected, non-blocking socket to the first address of `host` that answers in time.
    private func openConnection(host: String, port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var failure = Failure(description: "no address for \(host)")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { failure = Failure(description: Self.lastError()); continue }
            #if canImport(Darwin)
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
            #endif
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            do {
                if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) != 0 {
                    guard errno == EINPROGRESS || errno == EINTR else { throw Failure(description: Self.lastError()) }
                    guard try wait(fd, for: Int16(POLLOUT), within: connectTimeout) else {
                        throw Failure(description: "no answer within \(connectTimeout.components.seconds) s")
                    }
                    var code: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                    guard code == 0 else { throw Failure(description: String(cString: strerror(code))) }
                }
                return fd
            } catch let error as Failure {
                close(fd)
                failure = error
            }
        }
        throw failure
    }

    /// Waits until the socket is ready for `events`; false on timeout.
    private func wait(_ fd: Int32, for events: Int16, within timeout: Duration) throws -> Bool {
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        while true {
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else { throw Failure(description: Self.lastError()) }
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// One send that never raises SIGPIPE (a printer that hangs up must not kill the process). At file
/// scope because `RawPrinter.send` would shadow the C function inside the type.
private func sendWithoutSignal(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Darwin)
    send(fd, pointer, count, 0)
    #else
    send(fd, pointer, count, Int32(MSG_NOSIGNAL))
    #endif
}
