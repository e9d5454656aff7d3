import Hummingbird
import NIOCore

/// The request context of every Latchkey route: Hummingbird's core plus the
/// peer address (recorded as a token's last-used IP).
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var clientIP: String? { remoteAddress?.ipAddress }
}
