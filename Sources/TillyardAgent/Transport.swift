import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request of the terminal protocol, as the agent sends it.
public struct AgentRequest: Sendable, Equatable {
    public var method: String
    /// Path with its query, exactly as signed (`/terminal/v1/parameters?x=1`).
    public var path: String
    public var headers: [String: String]
    public var body: Data

    public init(method: String, path: String, headers: [String: String] = [:], body: Data = Data()) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// The server's answer: status, headers (names in lower case) and body.
public struct AgentResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as text (for messages).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// How the agent reaches the server. A thrown error means "no answer" (unreachable, cut off,
/// timed out): the agent then keeps everything it has not seen answered and tries again later.
public protocol AgentTransport: Sendable {
    /// Sends the request and returns the server's answer, whatever its status.
    func send(_ request: AgentRequest) async throws -> AgentResponse
}

/// No answer came back: the server is unreachable or the connection broke.
public struct TransportFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The transport for real use: Foundation's URLSession, http or https, one session per agent.
public struct URLSessionTransport: AgentTransport {
    /// Scheme, host and port (and a path prefix, if the server sits under one).
    public let base: URL
    private let session: URLSession

    /// `server` is the server's base URL, e.g. `https://tms.example.com` or `http://127.0.0.1:8080`.
    public init(server: URL, timeout: TimeInterval = 20) throws {
        guard let scheme = server.scheme?.lowercased(), scheme == "http" || scheme == "https", server.host != nil else {
            throw TransportFailure("the server address must be an http:// or https:// URL with a host, not '\(server.absoluteString)'")
        }
        base = server
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: configuration)
    }

    public func send(_ request: AgentRequest) async throws -> AgentResponse {
        let prefix = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) : base.absoluteString
        guard let url = URL(string: prefix + request.path) else { throw TransportFailure("not a valid request path: \(request.path)") }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty {
            urlRequest.httpBody = request.body
            if request.headers["Content-Type"] == nil { urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: urlRequest)
        } catch {
            throw TransportFailure("cannot reach \(base.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw TransportFailure("not an HTTP answer from \(base.absoluteString)") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return AgentResponse(status: http.statusCode, headers: headers, body: data)
    }
}

/// The cheap transport for load: blocking keep-alive connections to a loopback port
/// (`LoopbackHTTPConnection`), kept in a small pool. Each send runs on a thread of its own so the
/// blocking socket never holds a thread of Swift's cooperative pool. For the fleet simulator's hot
/// loop, `sendBlocking` is called directly from its own threads.
public final class LoopbackTransport: AgentTransport, @unchecked Sendable {
    public let port: UInt16
    private let lock = NSLock()
    // Guarded by `lock`: idle connections, reused by the next request.
    private var idle: [LoopbackHTTPConnection] = []

    /// Connections to 127.0.0.1:`port`, opened on first use.
    public init(port: UInt16) {
        self.port = port
    }

    public func send(_ request: AgentRequest) async throws -> AgentResponse {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                continuation.resume(with: Result { try self.sendBlocking(request) })
            }
            thread.start()
        }
    }

    /// Sends on a pooled connection from the calling thread; a broken connection is dropped.
    public func sendBlocking(_ request: AgentRequest) throws -> AgentResponse {
        let connection = try lock.withLock { idle.popLast() } ?? LoopbackHTTPConnection(port: port)
        do {
            let answer = try connection.send(request.method, request.path, headers: request.headers.sorted { $0.key < $1.key },
                                             body: request.body.isEmpty && request.method == "GET" ? nil : Array(request.body))
            lock.withLock { idle.append(connection) }
            return AgentResponse(status: answer.status, headers: answer.headers, body: Data(answer.body))
        } catch {
            throw TransportFailure("cannot reach 127.0.0.1:\(port): \(error)")
        }
    }
}
