import ArgumentParser
import Foundation
import Hummingbird
import LatchkeyCore
import LatchkeyServer
import LatchkeyStore
import Logging
import NIOCore
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP server.")

    @Option(help: "Address to listen on (env LATCHKEY_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env LATCHKEY_PORT; default 8080).", transform: { try Port(parsing: $0) })
    var port: Port?
    @Option(
        help: "Lifetime of sign-in tokens, renewed on each use (env LATCHKEY_SESSION_LIFETIME; default 7d).",
        transform: { try Period(parsing: $0) })
    var sessionLifetime: Period?
    @Option(
        help:
            "Default lifetime of app tokens made through the Quay API (env LATCHKEY_APP_TOKEN_LIFETIME; default: none).",
        transform: { try Period(parsing: $0) })
    var appTokenLifetime: Period?
    @Option(
        help: "Delete tokens this long after they expire (env LATCHKEY_GC_GRACE; default 1d).",
        transform: { try Period(parsing: $0) })
    var gcGrace: Period?
    @Flag(
        help:
            "Keep no recoverable copy of app-token secrets: Quay's GET by uuid then omits token_code (env LATCHKEY_RECOVERABLE_TOKENS=false)."
    )
    var noRecoverableTokens = false
    @Option(help: "A JSON file listing OpenID Connect providers (env LATCHKEY_OIDC_PROVIDERS_FILE); see the README.")
    var oidcProviders: String?
    @Option(
        help:
            "Where clients reach this service, e.g. https://tokens.example.org, for links and error URLs (env LATCHKEY_PUBLIC_URL; default http://HOST:PORT).",
        transform: { try PublicURL(parsing: $0) })
    var publicURL: PublicURL?
    @Option(
        help: "Close connections idle this long (env LATCHKEY_IDLE_TIMEOUT; default 60s).",
        transform: { try Period(parsing: $0) })
    var idleTimeout: Period?
    @Option(
        help:
            "Close a connection whose request head, or body, takes longer than this to arrive (env LATCHKEY_REQUEST_TIMEOUT; default 30s).",
        transform: { try Period(parsing: $0) })
    var requestTimeout: Period?
    @Option(
        name: .customLong("trusted-proxy"),
        help:
            "A proxy (address or CIDR) whose X-Forwarded-For names the client; repeat for several (env LATCHKEY_TRUSTED_PROXIES, comma-separated; default: none).",
        transform: { try IPNetwork(parsing: $0) })
    var trustedProxies: [IPNetwork] = []
    @Option(
        help: "Failed password sign-ins allowed per account (env LATCHKEY_SIGNIN_LIMIT_ACCOUNT; default 10/15m).",
        transform: { try Rate(parsing: $0) })
    var signinLimitAccount: Rate?
    @Option(
        help:
            "Failed password sign-ins allowed per client address (env LATCHKEY_SIGNIN_LIMIT_ADDRESS; default 100/15m).",
        transform: { try Rate(parsing: $0) })
    var signinLimitAddress: Rate?
    @Option(
        help: "Tokens each user may create (env LATCHKEY_TOKEN_CREATE_RATE; default 300/1m).",
        transform: { try Rate(parsing: $0) })
    var tokenCreateRate: Rate?
    @Option(
        help: "Live tokens each user may hold, sessions included (env LATCHKEY_TOKEN_LIMIT_PER_USER; default 1000).",
        transform: { try PositiveCount(parsing: $0) })
    var tokenLimitPerUser: PositiveCount?
    @Option(
        name: .customLong("max-token-lifetime"),
        help:
            "KIND=PERIOD: the longest a session or app token may live, sliding renewals included; repeat for each kind (env LATCHKEY_MAX_TOKEN_LIFETIME, comma-separated; default: none).",
        transform: { try MaxLifetime(parsing: $0) })
    var maxTokenLifetimes: [MaxLifetime] = []
    @Flag(help: "Refuse tokens that never expire (env LATCHKEY_REQUIRE_EXPIRY=true).")
    var requireExpiry = false
    @Option(
        help:
            "The longest a rotated token may keep working beside its successor (env LATCHKEY_MAX_ROTATION_OVERLAP; default 7d).",
        transform: { try Period(parsing: $0) })
    var maxRotationOverlap: Period?
    @Option(
        help:
            "What a rotated token presented after its overlap does besides being refused and audited: notify (nothing more) or revoke-family (its successors are revoked too) (env LATCHKEY_ON_REUSE; default notify).",
        transform: { try OnReuse(parsing: $0) })
    var onReuse: OnReuse?
    @Option(
        name: .customLong("reserved-scope"),
        help:
            "A scope only administrators' tokens may hold, beside superuser (always reserved); repeat for each (env LATCHKEY_RESERVED_SCOPES, comma-separated).",
        transform: { try ReservedScope(parsing: $0) })
    var reservedScopes: [ReservedScope] = []
    @Option(
        help: "Leaked-token reports per client address (env LATCHKEY_LEAK_REPORT_RATE; default 10/1m).",
        transform: { try Rate(parsing: $0) })
    var leakReportRate: Rate?
    @Option(
        help: "Delete audit events this long after they happened (env LATCHKEY_AUDIT_RETENTION; default 365d).",
        transform: { try Period(parsing: $0) })
    var auditRetention: Period?
    @Option(
        help: "Password hashes computed at once (env LATCHKEY_PASSWORD_WORKERS; default: the core count).",
        transform: { try PositiveCount(parsing: $0) })
    var passwordWorkers: PositiveCount?
    @Option(
        help:
            "Password checks that may wait for a worker; beyond, sign-ins get 503 (env LATCHKEY_PASSWORD_QUEUE; default 4 per worker).",
        transform: { try QueueLength(parsing: $0) })
    var passwordQueue: QueueLength?
    @Option(
        help:
            "Verified tokens kept in memory, so that most requests skip the database; 0 turns this cache and the cache of owners' token lists off (env LATCHKEY_TOKEN_CACHE; default 100000).",
        transform: { try CacheSize(parsing: $0) })
    var tokenCache: CacheSize?
    @Flag(
        help:
            "Allow webhooks to http:// URLs and to loopback or private addresses (env LATCHKEY_ALLOW_INSECURE_WEBHOOKS)."
    )
    var allowInsecureWebhooks = false
    @Option(
        help:
            "Waits before each retry of a failed webhook delivery (env LATCHKEY_WEBHOOK_RETRY_SCHEDULE; default 5s,5m,30m,2h,5h,10h,10h).",
        transform: { try PeriodList(parsing: $0) })
    var webhookRetrySchedule: PeriodList?
    @Option(
        help: "How long a webhook receiver has to answer, 1s to 60s (env LATCHKEY_WEBHOOK_TIMEOUT; default 10s).",
        transform: { try Period(parsing: $0) })
    var webhookTimeout: Period?
    @Option(
        help:
            "How long before an app token expires its owner's webhooks hear token.expiring (env LATCHKEY_EXPIRY_NOTICE; default 30d,7d,1d).",
        transform: { try PeriodList(parsing: $0) })
    var expiryNotice: PeriodList?
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        // Nodes sharing a PostgreSQL database must share the key that seals recoverable
        // tokens, so there it cannot be made on first start (see `DatabaseOptions.serverKey`).
        if recoverableTokens && database.isPostgres && environment("LATCHKEY_SERVER_KEY") == nil {
            throw ValidationError(
                "on PostgreSQL every node needs the same server key: set LATCHKEY_SERVER_KEY to base64 of 32 bytes (openssl rand -base64 32), or start with --no-recoverable-tokens"
            )
        }
    }

    func run() async throws {
        // Every setting first, so that a bad one fails before anything is opened or made.
        let configuration = try serverConfiguration()
        let tokenLimits = try self.tokenLimits()
        let signInLimits = try self.signInLimits()
        let cacheSize = try setting(tokenCache, "LATCHKEY_TOKEN_CACHE", default: "100000").value
        var logger = Logger(label: "latchkey")
        logger.logLevel = environment("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info

        let webhookSettings = try self.webhookSettings()
        let serverKey: SecretBox?
        do {
            serverKey = try database.serverKey()
        } catch let error where !recoverableTokens {
            // Only webhooks need it then: serve without them rather than not at all.
            logger.warning("Webhooks are off: the server key cannot be read", metadata: ["error": "\(error)"])
            serverKey = nil
        }
        if serverKey == nil && database.isPostgres {
            logger.warning("Webhooks are off: on PostgreSQL they need LATCHKEY_SERVER_KEY to seal their secrets")
        }
        let handle = try database.open(logger: logger)
        let clock = SystemClock()
        let services = LatchkeyServices(
            storage: handle.storage, secretBox: recoverableTokens ? serverKey : nil, hasher: try passwordHasher(),
            clock: clock,
            openID: IDTokenVerifier(providers: try OpenIDOptions.providers(file: oidcProviders), clock: clock),
            tokenLimits: tokenLimits, signInLimits: signInLimits,
            tokenCache: cacheSize > 0 ? TokenCache.Limits(capacity: cacheSize) : nil, batchesUsage: true,
            webhookSettings: webhookSettings, webhookSecrets: serverKey)
        var storageServices: [any Service] = []
        if let service = handle.service {
            // A shared database may be unreachable at start: serve anyway (readiness
            // answers 503) and prepare it in the background, retrying with backoff.
            let accounts = services.accounts
            storageServices = [
                service,
                StoragePreparationService(handle: handle, logger: logger) {
                    try await Self.createFirstAdminIfEmpty(accounts)
                },
            ]
        } else {
            try await Self.createFirstAdminIfEmpty(services.accounts)
        }

        let app = buildApplication(
            configuration: configuration, services: services, storageServices: storageServices, logger: logger)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw CLIError(
                "cannot listen on \(configuration.host):\(configuration.port): the address is already in use")
        } catch let error as IOError {
            throw CLIError("cannot listen on \(configuration.host):\(configuration.port): \(error.description)")
        }
    }

    private func serverConfiguration() throws -> ServerConfiguration {
        let proxies = try setting(trustedProxies, "LATCHKEY_TRUSTED_PROXIES")
        return ServerConfiguration(
            host: host ?? environment("LATCHKEY_HOST") ?? "127.0.0.1",
            port: try setting(port, "LATCHKEY_PORT", default: "8080").value,
            sessionLifetime: try setting(sessionLifetime, "LATCHKEY_SESSION_LIFETIME", default: "7d").seconds,
            appTokenLifetime: try setting(appTokenLifetime, "LATCHKEY_APP_TOKEN_LIFETIME")?.seconds,
            garbageCollectionGrace: try setting(gcGrace, "LATCHKEY_GC_GRACE", default: "1d").seconds,
            publicURL: try setting(publicURL, "LATCHKEY_PUBLIC_URL")?.text,
            idleTimeout: try setting(idleTimeout, "LATCHKEY_IDLE_TIMEOUT", default: "60s").duration,
            requestTimeout: try setting(requestTimeout, "LATCHKEY_REQUEST_TIMEOUT", default: "30s").duration,
            trustedProxies: proxies.map(\.cidr),
            leakReportLimit: try setting(leakReportRate, "LATCHKEY_LEAK_REPORT_RATE", default: "10/1m").limit,
            auditRetention: try setting(auditRetention, "LATCHKEY_AUDIT_RETENTION", default: "365d").seconds)
    }

    private func signInLimits() throws -> SignInLimits {
        SignInLimits(
            perAccount: try setting(signinLimitAccount, "LATCHKEY_SIGNIN_LIMIT_ACCOUNT", default: "10/15m").limit,
            perAddress: try setting(signinLimitAddress, "LATCHKEY_SIGNIN_LIMIT_ADDRESS", default: "100/15m").limit)
    }

    private func tokenLimits() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try setting(tokenLimitPerUser, "LATCHKEY_TOKEN_LIMIT_PER_USER", default: "1000").value,
            creationRate: try setting(tokenCreateRate, "LATCHKEY_TOKEN_CREATE_RATE", default: "300/1m").limit,
            maxLifetime: try setting(maxTokenLifetimes, MaxLifetime.variable).byKind,
            requireExpiry: try requireExpiry || environmentFlag(TokenLimits.requireExpiryVariable),
            maxRotationOverlap: try setting(maxRotationOverlap, TokenLimits.maxRotationOverlapVariable, default: "7d")
                .seconds,
            onReuse: try setting(onReuse, OnReuse.variable, default: ReuseResponse.notify.rawValue).response,
            reservedScopes: try setting(reservedScopes, ReservedScope.variable).scopes)
    }

    private func passwordHasher() throws -> PasswordHasher {
        let workers =
            try setting(passwordWorkers, "LATCHKEY_PASSWORD_WORKERS")?.value
            ?? ProcessInfo.processInfo.activeProcessorCount
        let queue = try setting(passwordQueue, "LATCHKEY_PASSWORD_QUEUE")?.value ?? 4 * workers
        return PasswordHasher.dedicated(workers: workers, maxWaiting: queue)
    }

    private var recoverableTokens: Bool {
        !noRecoverableTokens
            && !["false", "0", "no", "off"].contains(environment("LATCHKEY_RECOVERABLE_TOKENS")?.lowercased())
    }

    private func webhookSettings() throws -> WebhookSettings {
        let timeout = try setting(webhookTimeout, "LATCHKEY_WEBHOOK_TIMEOUT", default: "10s").seconds
        guard (1...60).contains(timeout) else { throw CLIError("--webhook-timeout must be from 1s to 60s") }
        return WebhookSettings(
            allowInsecure: try allowInsecureWebhooks || environmentFlag("LATCHKEY_ALLOW_INSECURE_WEBHOOKS"),
            retrySchedule: try setting(
                webhookRetrySchedule, "LATCHKEY_WEBHOOK_RETRY_SCHEDULE", default: "5s,5m,30m,2h,5h,10h,10h"
            ).seconds,
            timeout: timeout,
            expiryNotices: try setting(expiryNotice, "LATCHKEY_EXPIRY_NOTICE", default: "30d,7d,1d").seconds)
    }

    /// So that a newcomer can start with one command: an empty database gets an
    /// `admin` account whose password is printed this once.
    private static func createFirstAdminIfEmpty(_ accounts: AccountService) async throws {
        guard try await accounts.userCount() == 0 else { return }
        let password = TokenSecret.generate().value.dropFirst(TokenSecret.prefix.count).prefix(24)
        do {
            _ = try await accounts.createUser(username: "admin", password: String(password), isAdmin: true, by: .system)
        } catch StorageError.usernameTaken {
            return  // another node sharing the database made it first
        }
        // Written straight to stdout, not buffered, so it shows before the server's log lines.
        FileHandle.standardOutput.write(
            Data(
                """
                Created the first account: username "admin", password "\(password)".
                This password is shown only now; keep it somewhere safe.

                """.utf8))
    }
}
