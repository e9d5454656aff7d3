import Foundation
import Hummingbird
import LatchkeyCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// How the HTTP server is set up; the CLI fills this from flags and environment.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Lifetime of tokens issued by a sign-in, renewed on each use.
    public var sessionLifetime: TimeInterval
    /// Default lifetime of app tokens created through the Quay dialect; nil: they never expire.
    public var appTokenLifetime: TimeInterval?
    /// Expired tokens are deleted this long after they expire.
    public var garbageCollectionGrace: TimeInterval
    public var garbageCollectionInterval: Duration
    /// Where clients reach this service (`https://tokens.example.org`), for links and error
    /// `type` URLs; nil: `http://host:port` as configured. Never taken from a request's `Host`.
    public var publicURL: String?
    /// A connection that sends nothing for this long is closed, so that slow or idle
    /// clients cannot hold connections forever.
    public var idleTimeout: Duration
    /// A request's body must arrive in full within this long of its head.
    public var requestTimeout: Duration
    /// Proxies whose `X-Forwarded-For` names the client; from anyone else it is ignored.
    public var trustedProxies: [CIDR]
    /// Leaked-token reports per client address.
    public var leakReportLimit: RateLimit
    /// Audit events are deleted this long after they happened.
    public var auditRetention: TimeInterval
    /// Batched last uses are written this often (and at shutdown); a crash loses at most this much.
    public var usageFlushInterval: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 8080, sessionLifetime: TimeInterval = 7 * 86_400,
        appTokenLifetime: TimeInterval? = nil, garbageCollectionGrace: TimeInterval = 86_400,
        garbageCollectionInterval: Duration = .seconds(3_600), publicURL: String? = nil,
        idleTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(30), trustedProxies: [CIDR] = [],
        leakReportLimit: RateLimit = RateLimit(count: 10, window: 60)!, auditRetention: TimeInterval = 365 * 86_400,
        usageFlushInterval: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.sessionLifetime = sessionLifetime
        self.appTokenLifetime = appTokenLifetime
        self.garbageCollectionGrace = garbageCollectionGrace
        self.garbageCollectionInterval = garbageCollectionInterval
        self.publicURL = publicURL
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.trustedProxies = trustedProxies
        self.leakReportLimit = leakReportLimit
        self.auditRetention = auditRetention
        self.usageFlushInterval = usageFlushInterval
    }

    /// The base of every absolute URL the service writes, without a trailing slash.
    public var externalBaseURL: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let literalHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(literalHost):\(port)"
    }
}
