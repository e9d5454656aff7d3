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

    // Each option as `ServerSettings` describes it; `run` resolves it there (flag, variable, default).
    @Option(name: ServerSettings.host.name, help: ServerSettings.host.help) var host: String?
    @Option(name: ServerSettings.port.name, help: ServerSettings.port.help, transform: Port.init(parsing:))
    var port: Port?
    @Option(
        name: ServerSettings.sessionLifetime.name, help: ServerSettings.sessionLifetime.help,
        transform: Period.init(parsing:))
    var sessionLifetime: Period?
    @Option(
        name: ServerSettings.appTokenLifetime.name, help: ServerSettings.appTokenLifetime.help,
        transform: Period.init(parsing:))
    var appTokenLifetime: Period?
    @Option(name: ServerSettings.gcGrace.name, help: ServerSettings.gcGrace.help, transform: Period.init(parsing:))
    var gcGrace: Period?
    @Flag(name: ServerSettings.recoverableTokens.name, help: ServerSettings.recoverableTokens.help)
    var noRecoverableTokens = false
    @Option(name: ServerSettings.oidcProvidersFile.name, help: ServerSettings.oidcProvidersFile.help)
    var oidcProvidersFile: String?
    @Option(
        name: ServerSettings.publicURL.name, help: ServerSettings.publicURL.help, transform: PublicURL.init(parsing:))
    var publicURL: PublicURL?
    @Option(
        name: ServerSettings.idleTimeout.name, help: ServerSettings.idleTimeout.help, transform: Period.init(parsing:))
    var idleTimeout: Period?
    @Option(
        name: ServerSettings.requestTimeout.name, help: ServerSettings.requestTimeout.help,
        transform: Period.init(parsing:))
    var requestTimeout: Period?
    @Option(
        name: ServerSettings.trustedProxies.name, help: ServerSettings.trustedProxies.help,
        transform: IPNetwork.init(parsing:))
    var trustedProxies: [IPNetwork] = []
    @Option(
        name: ServerSettings.signinLimitAccount.name, help: ServerSettings.signinLimitAccount.help,
        transform: Rate.init(parsing:))
    var signinLimitAccount: Rate?
    @Option(
        name: ServerSettings.signinLimitAddress.name, help: ServerSettings.signinLimitAddress.help,
        transform: Rate.init(parsing:))
    var signinLimitAddress: Rate?
    @Option(
        name: ServerSettings.tokenCreateRate.name, help: ServerSettings.tokenCreateRate.help,
        transform: Rate.init(parsing:))
    var tokenCreateRate: Rate?
    @Option(
        name: ServerSettings.tokenLimitPerUser.name, help: ServerSettings.tokenLimitPerUser.help,
        transform: PositiveCount.init(parsing:))
    var tokenLimitPerUser: PositiveCount?
    @Option(
        name: ServerSettings.maxTokenLifetimes.name, help: ServerSettings.maxTokenLifetimes.help,
        transform: MaxLifetime.init(parsing:))
    var maxTokenLifetimes: [MaxLifetime] = []
    @Flag(name: ServerSettings.requireExpiry.name, help: ServerSettings.requireExpiry.help) var requireExpiry = false
    @Option(
        name: ServerSettings.maxRotationOverlap.name, help: ServerSettings.maxRotationOverlap.help,
        transform: Period.init(parsing:))
    var maxRotationOverlap: Period?
    @Option(name: ServerSettings.onReuse.name, help: ServerSettings.onReuse.help, transform: OnReuse.init(parsing:))
    var onReuse: OnReuse?
    @Option(
        name: ServerSettings.reservedScopes.name, help: ServerSettings.reservedScopes.help,
        transform: ReservedScope.init(parsing:))
    var reservedScopes: [ReservedScope] = []
    @Option(
        name: ServerSettings.leakReportRate.name, help: ServerSettings.leakReportRate.help,
        transform: Rate.init(parsing:))
    var leakReportRate: Rate?
    @Option(
        name: ServerSettings.auditRetention.name, help: ServerSettings.auditRetention.help,
        transform: Period.init(parsing:))
    var auditRetention: Period?
    @Option(
        name: ServerSettings.passwordWorkers.name, help: ServerSettings.passwordWorkers.help,
        transform: PositiveCount.init(parsing:))
    var passwordWorkers: PositiveCount?
    @Option(
        name: ServerSettings.passwordQueue.name, help: ServerSettings.passwordQueue.help,
        transform: QueueLength.init(parsing:))
    var passwordQueue: QueueLength?
    @Option(
        name: ServerSettings.tokenCache.name, help: ServerSettings.tokenCache.help, transform: CacheSize.init(parsing:))
    var tokenCache: CacheSize?
    @Flag(name: ServerSettings.allowInsecureWebhooks.name, help: ServerSettings.allowInsecureWebhooks.help)
    var allowInsecureWebhooks = false
    @Option(
        name: ServerSettings.webhookRetrySchedule.name, help: ServerSettings.webhookRetrySchedule.help,
        transform: PeriodList.init(parsing:))
    var webhookRetrySchedule: PeriodList?
    @Option(
        name: ServerSettings.webhookTimeout.name, help: ServerSettings.webhookTimeout.help,
        transform: Period.init(parsing:))
    var webhookTimeout: Period?
    @Option(
        name: ServerSettings.expiryNotice.name, help: ServerSettings.expiryNotice.help,
        transform: PeriodList.init(parsing:))
    var expiryNotice: PeriodList?
    @Option(name: ServerSettings.logLevel.name, help: ServerSettings.logLevel.help, transform: LogLevel.init(parsing:))
    var logLevel: LogLevel?
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
