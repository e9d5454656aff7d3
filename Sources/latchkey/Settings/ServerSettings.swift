/// Every setting of the server, with its flag, environment variable, default and help, in
/// one place: `serve` declares its options from these, the one-shot commands read the same
/// ones (`token create` the same limits, `token gc` the same grace), and a test gives each
/// variable a bad value. Types (`Period`, `Rate`, …) are the parsers.
enum ServerSettings {
    // Where the server listens and how it is reached.
    static let host = Setting<String>("host", "LATCHKEY_HOST", default: "127.0.0.1", "Address to listen on")
    static let port = Setting<Port>("port", "LATCHKEY_PORT", default: "8080", "Port to listen on")
    static let publicURL = Setting<PublicURL>(
        "public-url", "LATCHKEY_PUBLIC_URL", defaultHelp: "http://HOST:PORT",
        "Where clients reach this service, e.g. https://tokens.example.org, for links and error URLs")
    static let idleTimeout = Setting<Period>(
        "idle-timeout", "LATCHKEY_IDLE_TIMEOUT", default: "60s", "Close connections idle this long")
    static let requestTimeout = Setting<Period>(
        "request-timeout", "LATCHKEY_REQUEST_TIMEOUT", default: "30s",
        "Close a connection whose request head, or body, takes longer than this to arrive")
    static let trustedProxies = ListSetting<IPNetwork>(
        "trusted-proxy", "LATCHKEY_TRUSTED_PROXIES",
        "A proxy (address or CIDR) whose X-Forwarded-For names the client")
    static let logLevel = Setting<LogLevel>(
        "log-level", "LOG_LEVEL", default: "info",
        "How much the server logs: trace, debug, info, notice, warning, error or critical")

    // Storage and the server key.
    static let database = Setting<String>(
        "database", "LATCHKEY_DATABASE", default: "latchkey.db",
        "SQLite file path, or postgres://user:password@host:port/database")
    static let serverKey = Setting<ServerKey>(
        nil, "LATCHKEY_SERVER_KEY", defaultHelp: "a key file beside a SQLite database",
        "Base64 of 32 bytes that seals recoverable tokens and webhook secrets; the same on every node")
    static let recoverableTokens = Switch(
        "no-recoverable-tokens", "LATCHKEY_RECOVERABLE_TOKENS", onByDefault: true,
        "Keep no recoverable copy of app-token secrets: Quay's GET by uuid then omits token_code")

    // Tokens.
    static let sessionLifetime = Setting<Period>(
        "session-lifetime", "LATCHKEY_SESSION_LIFETIME", default: "7d",
        "Lifetime of sign-in tokens, renewed on each use")
    static let appTokenLifetime = Setting<Period>(
        "app-token-lifetime", "LATCHKEY_APP_TOKEN_LIFETIME", "Default lifetime of app tokens made through the Quay API")
    static let gcGrace = Setting<Period>(
        "gc-grace", "LATCHKEY_GC_GRACE", default: "1d", "Delete tokens this long after they expire")
    static let tokenCreateRate = Setting<Rate>(
        "token-create-rate", "LATCHKEY_TOKEN_CREATE_RATE", default: "300/1m", "Tokens each user may create")
    static let tokenLimitPerUser = Setting<PositiveCount>(
        "token-limit-per-user", "LATCHKEY_TOKEN_LIMIT_PER_USER", default: "1000",
        "Live tokens each user may hold, sessions included")
    static let maxTokenLifetimes = ListSetting<MaxLifetime>(
        "max-token-lifetime", "LATCHKEY_MAX_TOKEN_LIFETIME",
        "KIND=PERIOD: the longest a session or app token may live, sliding renewals included")
    static let requireExpiry = Switch("require-expiry", "LATCHKEY_REQUIRE_EXPIRY", "Refuse tokens that never expire")
    static let maxRotationOverlap = Setting<Period>(
        "max-rotation-overlap", "LATCHKEY_MAX_ROTATION_OVERLAP", default: "7d",
        "The longest a rotated token may keep working beside its successor")
    static let onReuse = Setting<OnReuse>(
        "on-reuse", "LATCHKEY_ON_REUSE", default: "notify",
        "What a rotated token presented after its overlap does besides being refused and audited: notify (nothing more) or revoke-family (its successors are revoked too)"
    )
    static let reservedScopes = ListSetting<ReservedScope>(
        "reserved-scope", "LATCHKEY_RESERVED_SCOPES",
        "A scope only administrators' tokens may hold, beside superuser (always reserved)")
    static let tokenCache = Setting<CacheSize>(
        "token-cache", "LATCHKEY_TOKEN_CACHE", default: "100000",
        "Verified tokens kept in memory, so that most requests skip the database; 0 turns this cache and the cache of owners' token lists off"
    )

    // Abuse limits and the audit log.
    static let signinLimitAccount = Setting<Rate>(
        "signin-limit-account", "LATCHKEY_SIGNIN_LIMIT_ACCOUNT", default: "10/15m",
        "Failed password sign-ins allowed per account")
    static let signinLimitAddress = Setting<Rate>(
        "signin-limit-address", "LATCHKEY_SIGNIN_LIMIT_ADDRESS", default: "100/15m",
        "Failed password sign-ins allowed per client address")
    static let leakReportRate = Setting<Rate>(
        "leak-report-rate", "LATCHKEY_LEAK_REPORT_RATE", default: "10/1m", "Leaked-token reports per client address")
    static let auditRetention = Setting<Period>(
        "audit-retention", "LATCHKEY_AUDIT_RETENTION", default: "365d",
        "Delete audit events this long after they happened")
    static let passwordWorkers = Setting<PositiveCount>(
        "password-workers", "LATCHKEY_PASSWORD_WORKERS", defaultHelp: "the core count",
        "Password hashes computed at once")
    static let passwordQueue = Setting<QueueLength>(
        "password-queue", "LATCHKEY_PASSWORD_QUEUE", defaultHelp: "4 per worker",
        "Password checks that may wait for a worker; beyond, sign-ins get 503")

    // Webhooks.
    static let allowInsecureWebhooks = Switch(
        "allow-insecure-webhooks", "LATCHKEY_ALLOW_INSECURE_WEBHOOKS",
        "Allow webhooks to http:// URLs and to loopback or private addresses")
    static let webhookRetrySchedule = Setting<PeriodList>(
        "webhook-retry-schedule", "LATCHKEY_WEBHOOK_RETRY_SCHEDULE", default: "5s,5m,30m,2h,5h,10h,10h",
        "Waits before each retry of a failed webhook delivery")
    static let webhookTimeout = Setting<Period>(
        "webhook-timeout", "LATCHKEY_WEBHOOK_TIMEOUT", default: "10s",
        "How long a webhook receiver has to answer, 1s to 60s")
    static let expiryNotice = Setting<PeriodList>(
        "expiry-notice", "LATCHKEY_EXPIRY_NOTICE", default: "30d,7d,1d",
        "How long before an app token expires its owner's webhooks hear token.expiring")

    // OpenID Connect providers (see `OpenIDOptions`): a file, or one provider and Google by variables.
    static let oidcProvidersFile = Setting<String>(
        "oidc-providers", "LATCHKEY_OIDC_PROVIDERS_FILE",
        "A JSON file listing OpenID Connect providers; see docs/openid.md")
    static let oidcIssuer = Setting<String>(nil, "LATCHKEY_OIDC_ISSUER", "An OpenID Connect provider's issuer URL")
    static let oidcAudiences = Setting<String>(
        nil, "LATCHKEY_OIDC_AUDIENCES", "The issuer's audiences that are this service, comma-separated")
    static let oidcJWKSURL = Setting<String>(nil, "LATCHKEY_OIDC_JWKS_URL", defaultHelp: "discovered", "Its keys")
    static let oidcLinkByEmail = Switch(
        nil, "LATCHKEY_OIDC_LINK_BY_EMAIL", "Sign in the account with the provider's verified email")
    static let oidcClientID = Setting<String>(
        nil, "LATCHKEY_OIDC_CLIENT_ID", "The audience the web pages sign in with (authorization-code flow)")
    static let oidcClientSecret = Setting<String>(nil, "LATCHKEY_OIDC_CLIENT_SECRET", "That client's secret, if any")
    static let oidcName = Setting<String>(
        nil, "LATCHKEY_OIDC_NAME", defaultHelp: "the issuer's host", "The provider's name on the sign-in page")
    static let googleAudiences = Setting<String>(
        nil, "LATCHKEY_OIDC_GOOGLE_AUDIENCES", "Google client ids whose ID tokens sign people in, comma-separated")
    static let googleLinkByEmail = Switch(
        nil, "LATCHKEY_OIDC_GOOGLE_LINK_BY_EMAIL", "Sign in the account with Google's verified email")

    static let all: [any AnySetting] = [
        host, port, publicURL, idleTimeout, requestTimeout, trustedProxies, logLevel, database, serverKey,
        recoverableTokens, sessionLifetime, appTokenLifetime, gcGrace, tokenCreateRate, tokenLimitPerUser,
        maxTokenLifetimes, requireExpiry, maxRotationOverlap, onReuse, reservedScopes, tokenCache,
        signinLimitAccount, signinLimitAddress, leakReportRate, auditRetention, passwordWorkers, passwordQueue,
        allowInsecureWebhooks, webhookRetrySchedule, webhookTimeout, expiryNotice, oidcProvidersFile, oidcIssuer,
        oidcAudiences, oidcJWKSURL, oidcLinkByEmail, oidcClientID, oidcClientSecret, oidcName, googleAudiences,
        googleLinkByEmail,
    ]

    /// Reads every variable that is set, so that a bad value of any fails the start in one
    /// line, even one this configuration would not otherwise read.
    static func checkEnvironment() throws {
        for setting in all {
            if let text = environment(setting.variable) { try setting.check(text) }
        }
    }
}
