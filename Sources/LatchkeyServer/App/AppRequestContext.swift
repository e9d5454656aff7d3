import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import LatchkeyCore
import NIOCore

/// The request context of every Latchkey route: Hummingbird's core, the client's address
/// (recorded as a token's last-used IP, and the key of per-address limits) and, once
/// authenticated, who the request acts for.
public struct AppRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    /// A browser's sign-in session, on the web pages only (`WebSessionMiddleware`).
    var webSession: WebSession?
    public let remoteAddress: SocketAddress?
    /// The socket's peer, or the address a trusted proxy reports (`ClientAddressMiddleware`).
    public var clientIP: String?
    private let channel: any Channel
    /// A test router's channel is never active: only one that was can be seen to close.
    private let channelWasActive: Bool

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        clientIP = remoteAddress?.ipAddress
        channel = source.channel
        channelWasActive = source.channel.isActive
    }

    /// Whether the client is still connected: work it alone waits for is dropped once it is not.
    public var isClientConnected: @Sendable () -> Bool {
        { [channel, channelWasActive] in
            !channelWasActive || (channel.isActive && !ClientHangUpWatcher.hasHungUp(channel))
        }
    }

    /// Who is acting and through which dialect, for the audit log.
    func origin(via dialect: String) -> Origin {
        Origin(userID: identity?.user.id, via: dialect, address: clientIP)
    }

    /// JSON without `\/` escapes, so the URLs in bodies read as they are, written as it is
    /// encoded (`StreamingJSONEncoder`).
    public var responseEncoder: StreamingJSONEncoder { StreamingJSONEncoder() }
}
