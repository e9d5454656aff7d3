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

    // Each option from its row of `ServerSettings`; `run` resolves it there (flag, variable, default).
    @Option(ServerSettings.host) var host: String?
    @Option(ServerSettings.port) var port: Port?
    @Option(ServerSettings.sessionLifetime) var sessionLifetime: Period?
    @Option(ServerSettings.appTokenLifetime) var appTokenLifetime: Period?
    @Option(ServerSettings.gcGrace) var gcGrace: Period?
    @Flag(ServerSettings.recoverableTokens) var noRecoverableTokens = false
    @Option(ServerSettings.oidcProvidersFile) var oidcProvidersFile: String?
    @Option(ServerSettings.publicURL) var publicURL: PublicURL?
    @Option(ServerSettings.idleTimeout) var idleTimeout: Period?
    @Option(ServerSettings.requestTimeout) var requestTimeout: Period?
    @Option(ServerSettings.trustedProxies) var trustedProxies: [IPNetwork] = []
    @Option(ServerSettings.signinLimitAccount) var signinLimitAccount: Rate?
    @Option(ServerSettings.signinLimitAddress) var signinLimitAddress: Rate?
    @Option(ServerSettings.tokenCreateRate) var tokenCreateRate: Rate?
    @Option(ServerSettings.tokenLimitPerUser) var tokenLimitPerUser: PositiveCount?
    @Option(ServerSettings.maxTokenLifetimes) var maxTokenLifetimes: [MaxLifetime] = []
    @Flag(ServerSettings.requireExpiry) var requireExpiry = false
    @Option(ServerSettings.maxRotationOverlap) var maxRotationOverlap: Period?
    @Option(ServerSettings.onReuse) var onReuse: OnReuse?
    @Option(ServerSettings.reservedScopes) var reservedScopes: [ReservedScope] = []
    @Option(ServerSettings.leakReportRate) var leakReportRate: Rate?
    @Option(ServerSettings.auditRetention) var auditRetention: Period?
    @Option(ServerSettings.passwordWorkers) var passwordWorkers: PositiveCount?
    @Option(ServerSettings.passwordQueue) var passwordQueue: QueueLength?
    @Option(ServerSettings.tokenCache) var tokenCache: CacheSize?
    @Flag(ServerSettings.allowInsecureWebhooks) var allowInsecureWebhooks = false
    @Option(ServerSettings.webhookRetrySchedule) var webhookRetrySchedule: PeriodList?
    @Option(ServerSettings.webhookTimeout) var webhookTimeout: Period?
    @Option(ServerSettings.expiryNotice) var expiryNotice: PeriodList?
    @Option(ServerSettings.logLevel) var logLevel: LogLevel?
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        // Nodes sharing a PostgreSQL database must share the key that seals recoverable
        // tokens, so there it cannot be made on first start (see `DatabaseOptions.serverKey`).
        if try recoverableTokens && database.isPostgres && ServerSettings.serverKey.value() == nil {
            throw ValidationError(
                "on PostgreSQL every node needs the same server key: set LATCHKEY_SERVER_KEY to base64 of 32 bytes (openssl rand -base64 32), or start with --no-recoverable-tokens"
            )
        }
    }

    func run() async throws {
        // Every setting first, so that a bad one fails before anything is opened or made.
        try ServerSettings.checkEnvironment()
        let configuration = try serverConfiguration()
        let tokenLimits = try self.tokenLimits()
        let signInLimits = try self.signInLimits()
        let cacheSize = try ServerSettings.tokenCache.resolved(tokenCache).value
        let recoverableTokens = try self.recoverableTokens
        var logger = Logger(label: "latchkey")
        logger.logLevel = try ServerSettings.logLevel.resolved(logLevel).level

        let webhookSettings = try self.webhookSettings()
        let serverKey: SecretBox?
        do {
            serverKey = try database.serverKey()
        } catch let error where !recoverableTokens {
            // Only webhooks need it then: serve without them rather than not at all.
            logger.warning("Webhooks are off: the server key cannot be read", metadata: ["error": "\(error)"])
            serverKey = nil
        }
        if try serverKey == nil && database.isPostgres {
            logger.warning("Webhooks are off: on PostgreSQL they need LATCHKEY_SERVER_KEY to seal their secrets")
        }
        let handle = try database.open(logger: logger)
        let clock = SystemClock()
        let services = LatchkeyServices(
            storage: handle.storage, secretBox: recoverableTokens ? serverKey : nil, hasher: try passwordHasher(),
            clock: clock,
            openID: IDTokenVerifier(providers: try OpenIDOptions.providers(file: oidcProvidersFile), clock: clock),
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
        ServerConfiguration(
            host: try ServerSettings.host.resolved(host),
            port: try ServerSettings.port.resolved(port).value,
            sessionLifetime: try ServerSettings.sessionLifetime.resolved(sessionLifetime).seconds,
            appTokenLifetime: try ServerSettings.appTokenLifetime.value(appTokenLifetime)?.seconds,
            garbageCollectionGrace: try ServerSettings.gcGrace.resolved(gcGrace).seconds,
            publicURL: try ServerSettings.publicURL.value(publicURL)?.text,
            idleTimeout: try ServerSettings.idleTimeout.resolved(idleTimeout).duration,
            requestTimeout: try ServerSettings.requestTimeout.resolved(requestTimeout).duration,
            trustedProxies: try ServerSettings.trustedProxies.values(trustedProxies).map(\.cidr),
            leakReportLimit: try ServerSettings.leakReportRate.resolved(leakReportRate).limit,
            auditRetention: try ServerSettings.auditRetention.resolved(auditRetention).seconds)
    }

    private func signInLimits() throws -> SignInLimits {
        SignInLimits(
            perAccount: try ServerSettings.signinLimitAccount.resolved(signinLimitAccount).limit,
            perAddress: try ServerSettings.signinLimitAddress.resolved(signinLimitAddress).limit)
    }

    private func tokenLimits() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try ServerSettings.tokenLimitPerUser.resolved(tokenLimitPerUser).value,
            creationRate: try ServerSettings.tokenCreateRate.resolved(tokenCreateRate).limit,
            maxLifetime: try ServerSettings.maxTokenLifetimes.values(maxTokenLifetimes).byKind,
            requireExpiry: try ServerSettings.requireExpiry.isOn(flagGiven: requireExpiry),
            maxRotationOverlap: try ServerSettings.maxRotationOverlap.resolved(maxRotationOverlap).seconds,
            onReuse: try ServerSettings.onReuse.resolved(onReuse).response,
            reservedScopes: try ServerSettings.reservedScopes.values(reservedScopes).scopes)
    }

    private func passwordHasher() throws -> PasswordHasher {
        let workers =
            try ServerSettings.passwordWorkers.value(passwordWorkers)?.value
            ?? ProcessInfo.processInfo.activeProcessorCount
        let queue = try ServerSettings.passwordQueue.value(passwordQueue)?.value ?? 4 * workers
        return PasswordHasher.dedicated(workers: workers, maxWaiting: queue)
    }

    private var recoverableTokens: Bool {
        get throws { try ServerSettings.recoverableTokens.isOn(flagGiven: noRecoverableTokens) }
    }

    private func webhookSettings() throws -> WebhookSettings {
        let timeout = try ServerSettings.webhookTimeout.resolved(webhookTimeout).seconds
        guard (1...60).contains(timeout) else { throw CLIError("--webhook-timeout must be from 1s to 60s") }
        return WebhookSettings(
            allowInsecure: try ServerSettings.allowInsecureWebhooks.isOn(flagGiven: allowInsecureWebhooks),
            retrySchedule: try ServerSettings.webhookRetrySchedule.resolved(webhookRetrySchedule).seconds,
            timeout: timeout,
            expiryNotices: try ServerSettings.expiryNotice.resolved(expiryNotice).seconds)
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
