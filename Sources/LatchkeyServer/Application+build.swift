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

    public init(
        host: String = "127.0.0.1", port: Int = 8080, sessionLifetime: TimeInterval = 7 * 86_400,
        appTokenLifetime: TimeInterval? = nil, garbageCollectionGrace: TimeInterval = 86_400,
        garbageCollectionInterval: Duration = .seconds(3_600), publicURL: String? = nil,
        idleTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(30), trustedProxies: [CIDR] = [],
        leakReportLimit: RateLimit = RateLimit(count: 10, window: 60)!, auditRetention: TimeInterval = 365 * 86_400
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
    }

    /// The base of every absolute URL the service writes, without a trailing slash.
    public var externalBaseURL: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let literalHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(literalHost):\(port)"
    }
}

/// The domain services the routes call, built once at start.
public struct LatchkeyServices: Sendable {
    public let storage: any LatchkeyStorage
    public let tokens: TokenService
    public let accounts: AccountService
    public let clock: any WallClock
    /// Verifies OpenID Connect ID tokens; with no providers, every issuer is refused.
    public let openID: IDTokenVerifier
    /// This node's metrics, served at `/metrics`.
    public let metricsRegistry: PrometheusCollectorRegistry
    let metricsFactory: PrometheusMetricsFactory
    public let metrics: LatchkeyMetrics

    public init(
        storage: any LatchkeyStorage, secretBox: SecretBox?, hasher: PasswordHasher = PasswordHasher(),
        clock: any WallClock = SystemClock(), openID: IDTokenVerifier? = nil, tokenLimits: TokenLimits = .server,
        signInLimits: SignInLimits = .default
    ) {
        self.storage = storage
        self.clock = clock
        metricsRegistry = PrometheusCollectorRegistry()
        metricsFactory = PrometheusMetricsFactory(registry: metricsRegistry)
        metrics = LatchkeyMetrics(factory: metricsFactory)
        tokens = TokenService(
            storage: storage, clock: clock, secretBox: secretBox, metrics: metrics, limits: tokenLimits)
        accounts = AccountService(
            storage: storage, hasher: hasher, clock: clock, metrics: metrics, signInLimits: signInLimits)
        self.openID = openID ?? IDTokenVerifier(providers: [], clock: clock)
    }
}

/// - Parameter storageServices: what the storage needs running beside the server
///   (PostgreSQL's connection pool and its preparation).
public func buildApplication(
    configuration: ServerConfiguration, services: LatchkeyServices, storageServices: [any Service] = [],
    logger: Logger = Logger(label: "latchkey")
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(configuration: configuration, services: services),
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    RequestBodyDeadline(deadline: TimeAmount(configuration.requestTimeout)), ClientHangUpWatcher(),
                ],
                idleTimeout: TimeAmount(configuration.idleTimeout))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "latchkey"),
        services: storageServices + [
            TokenGarbageCollector(
                tokens: services.tokens, grace: configuration.garbageCollectionGrace,
                auditRetention: configuration.auditRetention, interval: configuration.garbageCollectionInterval,
                logger: logger)
        ],
        logger: logger
    )
}

public func buildRouter(configuration: ServerConfiguration, services: LatchkeyServices) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.addMiddleware {
        ClientAddressMiddleware(resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies))
        RequestRecordMiddleware(factory: services.metricsFactory)
        ErrorMiddleware()
    }
    HealthController(storage: services.storage).addRoutes(to: router)
    MetricsController(registry: services.metricsRegistry).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    StencilaController(services: services, configuration: configuration).addRoutes(to: router)
    QuayController(services: services, configuration: configuration).addRoutes(to: router)
    OAuthController(services: services).addRoutes(to: router)
    LeakedTokenController(services: services, limit: configuration.leakReportLimit).addRoutes(to: router)
    return router
}
