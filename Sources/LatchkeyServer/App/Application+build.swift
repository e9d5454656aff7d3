import Foundation
import Hummingbird
import LatchkeyCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

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
            StorageChangeFollower(tokens: services.tokens, logger: logger),
            UsageFlusher(tokens: services.tokens, interval: configuration.usageFlushInterval, logger: logger),
            TokenGarbageCollector(
                tokens: services.tokens, webhooks: services.webhooks, grace: configuration.garbageCollectionGrace,
                auditRetention: configuration.auditRetention, interval: configuration.garbageCollectionInterval,
                logger: logger),
            WebhookDispatcher(webhooks: services.webhooks, logger: logger),
        ],
        logger: logger
    )
}

public func buildRouter(configuration: ServerConfiguration, services: LatchkeyServices) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.addMiddleware {
        ClientAddressMiddleware(resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies))
        RequestRecordMiddleware(factory: services.metricsFactory)
        DialectErrorMiddleware(dialect: LatchkeyDialect())
    }
    HealthController(tokens: services.tokens).addRoutes(to: router)
    MetricsController(registry: services.metricsRegistry).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    StencilaController(services: services, configuration: configuration).addRoutes(to: router)
    QuayController(services: services, configuration: configuration).addRoutes(to: router)
    V1TokenController(services: services).addRoutes(to: router)
    V1WebhookController(services: services).addRoutes(to: router)
    OAuthController(services: services).addRoutes(to: router)
    WebController(services: services, configuration: configuration).addRoutes(to: router)
    LeakedTokenController(leaks: LeakReportService(tokens: services.tokens, limit: configuration.leakReportLimit))
        .addRoutes(to: router)
    return router
}
