import NIOCore
import Synchronization

/// Notes when a client closes its side of the connection. Hummingbird allows half-closed
/// connections, so a channel stays active after its client hung up; this is how a request
/// learns that nobody waits for its answer any more, and drops work (a password hash)
/// before it starts.
final class ClientHangUpWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// The channels whose clients hung up, while those channels are open.
    private static let hungUp = Mutex<Set<ObjectIdentifier>>([])

    static func hasHungUp(_ channel: any Channel) -> Bool {
        hungUp.withLock { $0.contains(ObjectIdentifier(channel)) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            _ = Self.hungUp.withLock { $0.insert(ObjectIdentifier(context.channel)) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        forget(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        forget(context.channel)
    }

    private func forget(_ channel: any Channel) {
        _ = Self.hungUp.withLock { $0.remove(ObjectIdentifier(channel)) }
    }
}
