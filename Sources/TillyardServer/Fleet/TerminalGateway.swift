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
    /// The head of the heartbeat being collected, its signing headers, and its body so far.
    private var held: HTTPRequest?
    private var signing = SignedRequestHeaders(terminalId: nil, timestamp: nil, nonce: nil, signature: nil)
    private var body: ByteBuffer?
    /// Requests passed on to the router whose response has not ended yet.
    private var passedOn = 0
    /// The reply's headers but its length (the Date header changes once a second).
    private var replyFields = HTTPFields()
    private var dateSecond = 0

    init(fleet: FleetService, metrics: AppMetrics) {
        self.fleet = fleet
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0, head.method == .post, head.path == Self.path, let (length, signing) = Self.fastLaneFields(head), length <= Self.bodyLimit {
                held = head
                self.signing = signing
                body = context.channel.allocator.buffer(capacity: length > 0 ? length : 512)
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
            if let answer = answer(bytes) {
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
    private func answer(_ bytes: ByteBuffer) -> String? {
        let data = Data(buffer: bytes)
        guard let heartbeat = try? Heartbeat.decode(data) else { return nil }
        guard let reply = fleet.quickHeartbeat(heartbeat, headers: signing, method: "POST", path: Self.path, body: data) else { return nil }
        return reply.idleJSON ?? (try? JSONIO.encode(reply)).map { String(buffer: $0) }
    }

    private func respond(_ context: ChannelHandlerContext, _ json: String) {
        let now = Int(Date().timeIntervalSince1970)
        if now != dateSecond {
            dateSecond = now
            replyFields = [.contentType: "application/json; charset=utf-8", .date: Date(timeIntervalSince1970: TimeInterval(now)).httpDate, .server: "Tillyard"]
        }
        var buffer = context.channel.allocator.buffer(capacity: json.utf8.count)
        buffer.writeString(json)
        var fields = replyFields
        fields.append(HTTPField(name: .contentLength, value: String(buffer.readableBytes)))
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The body's declared length (0 when none) and the signing headers, read in one pass over the
    /// head's fields; nil when the request is not for the fast lane. HTTP/1.1 keeps a connection
    /// open unless the client says close: the lane leaves closing, `Expect: 100-continue` (a client
    /// waiting before it sends the body), and any signing header or length given twice (which the
    /// router's checks word) to the router.
    private static func fastLaneFields(_ head: HTTPRequest) -> (length: Int, signing: SignedRequestHeaders)? {
        var length: Int?
        var signing = SignedRequestHeaders(terminalId: nil, timestamp: nil, nonce: nil, signature: nil)
        func once(_ slot: inout String?, _ value: String) -> Bool {
            guard slot == nil else { return false }
            slot = value
            return true
        }
        for field in head.headerFields {
            switch field.name {
            case terminalIdName: guard once(&signing.terminalId, field.value) else { return nil }
            case timestampName: guard once(&signing.timestamp, field.value) else { return nil }
            case nonceName: guard once(&signing.nonce, field.value) else { return nil }
            case signatureName: guard once(&signing.signature, field.value) else { return nil }
            case .contentLength:
                guard length == nil, let declared = Int(field.value) else { return nil }
                length = declared
            case .connection: if field.value.lowercased().contains("close") { return nil }
            case .expect: return nil
            default: continue
            }
        }
        return (length ?? 0, signing)
    }

    static let terminalIdName = HTTPField.Name(SignedRequestHeaders.terminalIdName)!
    static let timestampName = HTTPField.Name(SignedRequestHeaders.timestampName)!
    static let nonceName = HTTPField.Name(SignedRequestHeaders.nonceName)!
    static let signatureName = HTTPField.Name(SignedRequestHeaders.signatureName)!
}
