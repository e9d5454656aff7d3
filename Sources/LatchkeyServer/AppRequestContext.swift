import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore

/// The request context of every Latchkey route: Hummingbird's core, the peer
/// address (recorded as a token's last-used IP) and, once authenticated, who
/// the request acts for.
public struct AppRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var clientIP: String? { remoteAddress?.ipAddress }

    /// JSON without `\/` escapes, so the URLs in bodies read as they are.
    public var responseEncoder: JSONEncoder { Self.encoder }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}
