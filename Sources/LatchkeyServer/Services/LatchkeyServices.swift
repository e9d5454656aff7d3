import Foundation
import Hummingbird
import LatchkeyCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The domain services the routes call, built once at start. Routes reach the data only
/// through these; the storage itself is for the package's tests.
public struct LatchkeyServices: Sendable {
    package let storage: any LatchkeyStorage
    public let tokens: TokenService
    public let accounts: AccountService
    public let clients: ClientService
    /// Webhook endpoints and deliveries; the application's `WebhookDispatcher` sends them.
    public let webhooks: WebhookService
    public let clock: any WallClock
    /// Verifies OpenID Connect ID tokens; with no providers, every issuer is refused.
    public let openID: IDTokenVerifier
    /// This node's metrics, served at `/metrics`.
    public let metricsRegistry: PrometheusCollectorRegistry
    let metricsFactory: PrometheusMetricsFactory
    public let metrics: LatchkeyMetrics
    /// Makes and checks the sign-in page's form tokens, under a key derived from the server
    /// key (so that every node sharing it accepts them) or, without one, this node's own.
    let signInForms: SignInForms

    /// - Parameters:
    ///   - tokenCache: nil: every verification and every list of tokens reads the database.
    ///     Otherwise owners' token lists are cached too; the caches answer once the
    ///     application's `StorageChangeFollower` runs.
    ///   - batchesUsage: last uses are written by the application's `UsageFlusher` rather than
    ///     on each request.
    ///   - webhookSecrets: seals webhook signing secrets; nil: `secretBox` (webhooks need one
    ///     even where tokens are not recoverable).
    public init(
        storage: any LatchkeyStorage, secretBox: SecretBox?, hasher: PasswordHasher = PasswordHasher(),
        clock: any WallClock = SystemClock(), openID: IDTokenVerifier? = nil, tokenLimits: TokenLimits = .server,
        signInLimits: SignInLimits = .default, tokenCache: TokenCache.Limits? = nil, batchesUsage: Bool = false,
        webhookSettings: WebhookSettings = WebhookSettings(), webhookSecrets: SecretBox? = nil
    ) {
        self.storage = storage
        self.clock = clock
        metricsRegistry = PrometheusCollectorRegistry()
        metricsFactory = PrometheusMetricsFactory(registry: metricsRegistry)
        metrics = LatchkeyMetrics(factory: metricsFactory)
        let cache = tokenCache.map { TokenCache(limits: $0, clock: clock) }
        tokens = TokenService(
            storage: storage, clock: clock, secretBox: secretBox, metrics: metrics, limits: tokenLimits, cache: cache,
            listCache: tokenCache.map { _ in TokenListCache(clock: clock) },
            pendingUsage: batchesUsage ? PendingTokenUsage() : nil)
        accounts = AccountService(
            storage: storage, hasher: hasher, clock: clock, metrics: metrics, signInLimits: signInLimits,
            tokenCache: cache)
        clients = ClientService(storage: storage, clock: clock)
        webhooks = WebhookService(
            storage: storage, secretBox: webhookSecrets ?? secretBox, settings: webhookSettings, clock: clock,
            metrics: metrics)
        self.openID = openID ?? IDTokenVerifier(providers: [], clock: clock)
        // `webhookSecrets` is the server key even where tokens are not recoverable.
        signInForms = SignInForms(key: SignInForms.key(from: webhookSecrets ?? secretBox), clock: clock)
    }
}
