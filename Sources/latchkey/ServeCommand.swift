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
    @Option(help: "Port to listen on (env LATCHKEY_PORT; default 8080).") var port: Int?
    @Option(help: "Lifetime of sign-in tokens, renewed on each use (env LATCHKEY_SESSION_LIFETIME; default 7d).")
    var sessionLifetime: String?
    @Option(
        help:
            "Default lifetime of app tokens made through the Quay API (env LATCHKEY_APP_TOKEN_LIFETIME; default: none)."
    )
    var appTokenLifetime: String?
    @Option(help: "Delete tokens this long after they expire (env LATCHKEY_GC_GRACE; default 1d).")
    var gcGrace: String?
    @Flag(
        help:
            "Keep no recoverable copy of app-token secrets: Quay's GET by uuid then omits token_code (env LATCHKEY_RECOVERABLE_TOKENS=false)."
    )
    var noRecoverableTokens = false
    @Option(help: "A JSON file listing OpenID Connect providers (env LATCHKEY_OIDC_PROVIDERS_FILE); see the README.")
    var oidcProviders: String?
    @Option(
        help:
            "Where clients reach this service, e.g. https://tokens.example.org, for links and error URLs (env LATCHKEY_PUBLIC_URL; default http://HOST:PORT)."
    )
    var publicURL: String?
    @Option(help: "Close connections idle this long (env LATCHKEY_IDLE_TIMEOUT; default 60s).")
    var idleTimeout: String?
    @Option(
        help:
            "Close a connection whose request body takes longer than this to arrive (env LATCHKEY_REQUEST_TIMEOUT; default 30s)."
    )
    var requestTimeout: String?
    @Option(
        name: .customLong("trusted-proxy"),
        help:
            "A proxy (address or CIDR) whose X-Forwarded-For names the client; repeat for several (env LATCHKEY_TRUSTED_PROXIES, comma-separated; default: none)."
    )
    var trustedProxies: [String] = []
    @Option(
        help: "Failed password sign-ins allowed per account (env LATCHKEY_SIGNIN_LIMIT_ACCOUNT; default 10/15m).")
    var signinLimitAccount: String?
    @Option(
        help:
            "Failed password sign-ins allowed per client address (env LATCHKEY_SIGNIN_LIMIT_ADDRESS; default 100/15m).")
    var signinLimitAddress: String?
    @Option(help: "Tokens each user may create (env LATCHKEY_TOKEN_CREATE_RATE; default 300/1m).")
    var tokenCreateRate: String?
    @Option(
        help: "Live tokens each user may hold, sessions included (env LATCHKEY_TOKEN_LIMIT_PER_USER; default 1000).")
    var tokenLimitPerUser: Int?
    @Option(help: "Leaked-token reports per client address (env LATCHKEY_LEAK_REPORT_RATE; default 10/1m).")
    var leakReportRate: String?
    @Option(help: "Delete audit events this long after they happened (env LATCHKEY_AUDIT_RETENTION; default 365d).")
    var auditRetention: String?
    @Option(help: "Password hashes computed at once (env LATCHKEY_PASSWORD_WORKERS; default: the core count).")
    var passwordWorkers: Int?
    @Option(
        help:
            "Password checks that may wait for a worker; beyond, sign-ins get 503 (env LATCHKEY_PASSWORD_QUEUE; default 4 per worker)."
    )
    var passwordQueue: Int?
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let configuration = try serverConfiguration()
        var logger = Logger(label: "latchkey")
        logger.logLevel = environment("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info

        let secretBox = try recoverableTokens ? loadSecretBox() : nil
        let handle = try database.open(logger: logger)
        let clock = SystemClock()
        let services = LatchkeyServices(
            storage: handle.storage, secretBox: secretBox, hasher: try passwordHasher(), clock: clock,
            openID: IDTokenVerifier(providers: try OpenIDOptions.providers(file: oidcProviders), clock: clock),
            tokenLimits: try tokenLimits(), signInLimits: try signInLimits())
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
        let port =
            try port ?? environment("LATCHKEY_PORT").map { text in
                guard let value = Int(text) else { throw CLIError("LATCHKEY_PORT must be a number, not '\(text)'") }
                return value
            } ?? 8080
        guard (0...65_535).contains(port) else { throw CLIError("the port must be between 0 and 65535, not \(port)") }
        let idle = try Lifetime.parse(idleTimeout ?? environment("LATCHKEY_IDLE_TIMEOUT") ?? "60s")
        let request = try Lifetime.parse(requestTimeout ?? environment("LATCHKEY_REQUEST_TIMEOUT") ?? "30s")
        return ServerConfiguration(
            host: host ?? environment("LATCHKEY_HOST") ?? "127.0.0.1", port: port,
            sessionLifetime: try Lifetime.parse(sessionLifetime ?? environment("LATCHKEY_SESSION_LIFETIME") ?? "7d"),
            appTokenLifetime: try (appTokenLifetime ?? environment("LATCHKEY_APP_TOKEN_LIFETIME")).map(Lifetime.parse),
            garbageCollectionGrace: try Lifetime.parse(gcGrace ?? environment("LATCHKEY_GC_GRACE") ?? "1d"),
            publicURL: try (publicURL ?? environment("LATCHKEY_PUBLIC_URL")).map(Self.checkedPublicURL),
            idleTimeout: .seconds(Int64(idle)), requestTimeout: .seconds(Int64(request)),
            trustedProxies: try
                (trustedProxies.isEmpty
                ? (environment("LATCHKEY_TRUSTED_PROXIES")?.split(separator: ",").map(String.init) ?? [])
                : trustedProxies).map { try CIDR($0.trimmingCharacters(in: .whitespaces)) },
            leakReportLimit: try RateLimit.parse(leakReportRate ?? environment("LATCHKEY_LEAK_REPORT_RATE") ?? "10/1m"),
            auditRetention: try Lifetime.parse(auditRetention ?? environment("LATCHKEY_AUDIT_RETENTION") ?? "365d"))
    }

    private func signInLimits() throws -> SignInLimits {
        SignInLimits(
            perAccount: try RateLimit.parse(
                signinLimitAccount ?? environment("LATCHKEY_SIGNIN_LIMIT_ACCOUNT") ?? "10/15m"),
            perAddress: try RateLimit.parse(
                signinLimitAddress ?? environment("LATCHKEY_SIGNIN_LIMIT_ADDRESS") ?? "100/15m"))
    }

    private func tokenLimits() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try wholeNumber(tokenLimitPerUser, "LATCHKEY_TOKEN_LIMIT_PER_USER", default: 1000),
            creationRate: try RateLimit.parse(tokenCreateRate ?? environment("LATCHKEY_TOKEN_CREATE_RATE") ?? "300/1m"))
    }

    private func passwordHasher() throws -> PasswordHasher {
        let workers = try wholeNumber(
            passwordWorkers, "LATCHKEY_PASSWORD_WORKERS", default: ProcessInfo.processInfo.activeProcessorCount)
        let queue = try wholeNumber(passwordQueue, "LATCHKEY_PASSWORD_QUEUE", default: 4 * workers, from: 0)
        return PasswordHasher.dedicated(workers: workers, maxWaiting: queue)
    }

    /// An absolute http(s) URL with a host and nothing after its path.
    private static func checkedPublicURL(_ text: String) throws -> String {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host?.isEmpty == false, url.query == nil, url.fragment == nil,
            url.user == nil
        else {
            throw CLIError(
                "the public URL must look like https://tokens.example.org (http or https, no query), not '\(text)'")
        }
        return text
    }

    private var recoverableTokens: Bool {
        !noRecoverableTokens
            && !["false", "0", "no", "off"].contains(environment("LATCHKEY_RECOVERABLE_TOKENS")?.lowercased())
    }

    /// The key that seals recoverable tokens: from LATCHKEY_SERVER_KEY, else (SQLite
    /// only) a file beside the database, made on first start. Nodes sharing a
    /// PostgreSQL database must share the key, so there it must be configured.
    private func loadSecretBox() throws -> SecretBox {
        if let key = environment("LATCHKEY_SERVER_KEY") { return try SecretBox(base64: key) }
        guard !database.isPostgres else {
            throw CLIError(
                "on PostgreSQL every node needs the same server key: set LATCHKEY_SERVER_KEY to base64 of 32 bytes (openssl rand -base64 32), or start with --no-recoverable-tokens"
            )
        }
        return try SecretBox.loadOrCreate(at: StorageLocation.keyFilePath(forDatabase: database.location))
    }

    /// So that a newcomer can start with one command: an empty database gets an
    /// `admin` account whose password is printed this once.
    private static func createFirstAdminIfEmpty(_ accounts: AccountService) async throws {
        guard try await accounts.storage.userCount() == 0 else { return }
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
