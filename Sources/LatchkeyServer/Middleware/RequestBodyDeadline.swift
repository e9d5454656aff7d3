import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request head, or whose body, does not arrive in full within
/// `deadline`. The idle timeout alone cannot: a client trickling one byte every few
/// seconds is never idle, and would hold its connection (and its request) forever.
/// The time a handler takes to answer does not count; only reading the request.
///
/// The clock starts when a read ends with a request still incomplete: most requests
/// arrive whole in one read, and then no timer is made and cancelled for them. This
/// handler sits after the HTTP decoder, so a head still arriving shows as a read that
/// ended with no part decoded: the decoder is holding the bytes.
final class RequestBodyDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    /// Between a request's head and its end.
    private var isReading = false
    /// Whether a part was decoded since the last read ended.
    private var decodedAPart = false
    /// The client half-closed: it sends nothing more, and a read that ends is not a head arriving.
    private var inputClosed = false

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        decodedAPart = true
        switch unwrapInboundIn(data) {
        case .head:
            stopTimer()
            isReading = true
        case .body:
            break
        case .end:
            stopTimer()
            isReading = false
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let headIsArriving = !decodedAPart && !inputClosed
        decodedAPart = false
        if (isReading || headIsArriving) && timer == nil {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: deadline) { bound.value.close(promise: nil) }
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            inputClosed = true
            stopTimer()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
    }
}
