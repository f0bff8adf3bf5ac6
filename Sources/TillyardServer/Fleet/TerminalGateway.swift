import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import TillyardKit

/// The heartbeat fast lane, in the connection's channel pipeline in front of the router: a signed
/// `POST /terminal/v1/heartbeat` that can be decided from memory (`FleetService.quickHeartbeat`:
/// the terminal's context cached, every check passing) is answered right here on the connection's
/// event loop, without a request object, a task or the middleware chain: the path a fleet of
/// millions takes every few minutes. Anything else, and any heartbeat the fast lane cannot decide
/// (a cold context, a refusal to record, a relocation finding), goes on to the router untouched
/// and is decided there in full. Responses stay in request order on a connection: while a request
/// it passed on is unanswered, the lane passes everything on.
final class TerminalGateway: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A heartbeat body is a few hundred bytes; a bigger one takes the normal path and its limits.
    static let bodyLimit = 16 * 1024
    /// The heartbeat's path, also the metrics' route label (as the router gives the heartbeats it answers).
    static let path = "/terminal/v1/heartbeat"

    private let fleet: FleetService
    private let metrics: AppMetrics
    /// The head of the heartbeat being collected, and its body so far.
    private var held: HTTPRequest?
    private var body: ByteBuffer?
    /// Requests passed on to the router whose response has not ended yet.
    private var passedOn = 0
    /// The Date header, made once a second.
    private var date = ""
    private var dateSecond = 0

    init(fleet: FleetService, metrics: AppMetrics) {
        self.fleet = fleet
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let length = head.headerFields[.contentLength].flatMap { Int($0) }
            if passedOn == 0, head.method == .post, head.path == Self.path, Self.keepsAlive(head), (length ?? 0) <= Self.bodyLimit {
                held = head
                body = context.channel.allocator.buffer(capacity: length ?? 512)
                return
            }
            passOn(context, head)
        case .body(var chunk):
            guard let head = held else { return context.fireChannelRead(data) }
            guard (body?.readableBytes ?? 0) + chunk.readableBytes <= Self.bodyLimit else {
                // Bigger than any heartbeat (a chunked body declares no length): the router takes it
                // from here, with its own limits, instead of this handler buffering it.
                held = nil
                passOn(context, head)
                if let sofar = body, sofar.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(sofar))) }
                body = nil
                return context.fireChannelRead(data)
            }
            body?.writeBuffer(&chunk)
        case .end(let trailers):
            guard let head = held else { return context.fireChannelRead(data) }
            held = nil
            let bytes = body ?? ByteBuffer()
            body = nil
            let started = ContinuousClock.now
            if let answer = answer(head, bytes) {
                respond(context, answer)
                metrics.record(method: "POST", route: Self.path, status: 200, duration: ContinuousClock.now - started)
                metrics.fastLane.increment()
                return
            }
            passOn(context, head)
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
            context.fireChannelRead(wrapInboundOut(.end(trailers)))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { passedOn = max(0, passedOn - 1) }
        context.write(data, promise: promise)
    }

    private func passOn(_ context: ChannelHandlerContext, _ head: HTTPRequest) {
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// The reply's JSON, when the fast lane can decide the heartbeat.
    private func answer(_ head: HTTPRequest, _ bytes: ByteBuffer) -> String? {
        let data = Data(buffer: bytes)
        guard let heartbeat = try? Heartbeat.decode(data) else { return nil }
        let headers = SignedRequestHeaders(terminalId: head.headerFields[Self.terminalIdName], timestamp: head.headerFields[Self.timestampName],
                                           nonce: head.headerFields[Self.nonceName], signature: head.headerFields[Self.signatureName])
        guard let reply = fleet.quickHeartbeat(heartbeat, headers: headers, method: "POST", path: Self.path, body: data) else { return nil }
        return reply.idleJSON ?? (try? JSONIO.encode(reply)).map { String(buffer: $0) }
    }

    private func respond(_ context: ChannelHandlerContext, _ json: String) {
        let now = Int(Date().timeIntervalSince1970)
        if now != dateSecond {
            dateSecond = now
            date = Date(timeIntervalSince1970: TimeInterval(now)).httpDate
        }
        var buffer = context.channel.allocator.buffer(capacity: json.utf8.count)
        buffer.writeString(json)
        var fields = HTTPFields()
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.contentLength] = String(buffer.readableBytes)
        fields[.date] = date
        fields[.server] = "Tillyard"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// HTTP/1.1 keeps a connection open unless the client says close; the fast lane leaves
    /// closing, and `Expect: 100-continue` (a client waiting before it sends the body), to the router.
    private static func keepsAlive(_ head: HTTPRequest) -> Bool {
        !(head.headerFields[.connection]?.lowercased().contains("close") ?? false) && head.headerFields[.expect] == nil
    }

    static let terminalIdName = HTTPField.Name(SignedRequestHeaders.terminalIdName)!
    static let timestampName = HTTPField.Name(SignedRequestHeaders.timestampName)!
    static let nonceName = HTTPField.Name(SignedRequestHeaders.nonceName)!
    static let signatureName = HTTPField.Name(SignedRequestHeaders.signatureName)!
}
