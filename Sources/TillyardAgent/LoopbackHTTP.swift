import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 client for load generators (`tillyard-bench`, `tillyard terminal simulate`):
/// one blocking keep-alive connection to a loopback port, one request at a time, `Content-Length`
/// bodies only (what Hummingbird sends).
///
/// Blocking POSIX sockets on dedicated threads keep the client cheap and outside the server's
/// event loops and Swift's cooperative pool, so what is measured is the server, not the client.
/// Not `Sendable`: each client thread owns its connection.
public final class LoopbackHTTPConnection {
    /// A connection or protocol failure, described for people.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// An answer: the status code, the headers (names in lower case) and the body bytes.
    public struct Answer {
        public let status: Int
        public let headers: [String: String]
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let port: UInt16
    private var fd: Int32 = -1
    /// Bytes read past the end of the previous answer (none with one request at a time, kept for safety).
    private var pending: [UInt8] = []

    /// Connects to 127.0.0.1:`port`.
    public init(port: UInt16) throws {
        self.port = port
        try connectSocket()
    }

    deinit { if fd >= 0 { close(fd) } }

    private func connectSocket() throws {
        let descriptor = try Self.tcpSocket()
        var on: Int32 = 1
        // Requests are small and answered one at a time: Nagle's delay would only add latency.
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(message)")
        }
        fd = descriptor
        pending = []
    }

    /// Sends one request and reads its answer on the kept-alive connection: a bearer `token` (or
    /// none), `headers` as given (a terminal's signature headers), a JSON body when there is one.
    public func send(_ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [],
                     body: [UInt8]? = nil) throws -> Answer {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        var request = Array(head.utf8)
        if let body { request += body }
        try write(request)
        return try readAnswer()
    }

    /// Sends a complete request as given (bytes a benchmark prepared, well-formed or not) and reads
    /// the answer. A server may answer before the whole body arrived (413) and close: the answer is
    /// read even when sending the rest failed.
    public func sendRaw(_ request: [UInt8]) throws -> Answer {
        do {
            try write(request)
        } catch {
            if let answer = try? readAnswer() { return answer }
            throw error
        }
        return try readAnswer()
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { buffer in
                #if canImport(Darwin)
                Darwin.send(fd, buffer.baseAddress, buffer.count, 0)
                #else
                Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                #endif
            }
            if written > 0 { sent += written } else if written < 0 && errno == EINTR { continue } else {
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func fill(_ buffer: inout [UInt8]) throws {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { buffer += chunk[0..<count]; return }
            if count < 0 && errno == EINTR { continue }
            throw Failure(description: count == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))")
        }
    }

    private func readAnswer() throws -> Answer {
        var buffer = pending
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = Self.find(separator, in: buffer)
            if headerEnd == nil { try fill(&buffer) }
        }
        let end = headerEnd!
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw Failure(description: "not an HTTP/1.1 answer: \(head.prefix(80))")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let length = headers["content-length"].flatMap({ Int($0) }) else { throw Failure(description: "an answer without Content-Length: \(head.prefix(200))") }
        let bodyStart = end + separator.count
        while buffer.count < bodyStart + length { try fill(&buffer) }
        pending = Array(buffer[(bodyStart + length)...])
        return Answer(status: status, headers: headers, body: Array(buffer[bodyStart..<(bodyStart + length)]))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = 0
        while index + needle.count <= haystack.count {
            var matched = 0
            while matched < needle.count, haystack[index + matched] == needle[matched] { matched += 1 }
            if matched == needle.count { return index }
            index += 1
        }
        return nil
    }

    /// A new IPv4 TCP socket.
    private static func tcpSocket() throws -> Int32 {
        #if canImport(Darwin)
        let socketType = SOCK_STREAM
        #else
        let socketType = Int32(SOCK_STREAM.rawValue)
        #endif
        let descriptor = socket(AF_INET, socketType, 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        return descriptor
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    public static func freePort() throws -> UInt16 {
        let descriptor = try Self.tcpSocket()
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(descriptor, pointer, length) == 0 else { return -1 }
                return getsockname(descriptor, pointer, &length)
            }
        }
        guard bound == 0 else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }
}
