import ArgumentParser
import LatchkeyCore
import LatchkeyStore
import Logging

struct DatabaseOptions: ParsableArguments {
    @Option(ServerSettings.database) var database: String?

    var location: String {
        get throws { try ServerSettings.database.resolved(database) }
    }

    var isPostgres: Bool {
        get throws { PostgresLocation.isPostgresURL(try location) }
    }

    /// The key that seals recoverable tokens and webhook secrets: from LATCHKEY_SERVER_KEY,
    /// else, on SQLite, a file beside the database, made on first use. nil on PostgreSQL
    /// without the variable: there every node must share one key, so none is made.
    func serverKey() throws -> SecretBox? {
        if let key = try ServerSettings.serverKey.value() { return key.box }
        guard try !isPostgres else { return nil }
        return try SecretBox.loadOrCreate(at: StorageLocation.keyFilePath(forDatabase: location))
    }

    func open(logger: Logger) throws -> StorageHandle {
        try StorageLocation.open(try location, logger: logger)
    }

    /// Runs a one-shot command against the database, through the domain services; an
    /// unreachable database fails at once.
    /// - Parameters:
    ///   - tokenLimits: what `services.tokens` applies to the tokens it creates.
    ///   - serverKey: seals the webhook secrets `services.webhooks` makes.
    func withServices<T: Sendable>(
        tokenLimits: TokenLimits = .default, serverKey: SecretBox? = nil,
        webhookSettings: WebhookSettings = WebhookSettings(),
        _ body: @Sendable @escaping (CommandServices) async throws -> T
    ) async throws -> T {
        // The CLI reports its own failures in one line; background chatter stays quiet.
        var logger = Logger(label: "latchkey")
        logger.logLevel = .critical
        return try await open(logger: logger).withPrepared(logger: logger) { storage in
            try await body(
                CommandServices(
                    storage: storage, tokenLimits: tokenLimits, serverKey: serverKey, webhookSettings: webhookSettings))
        }
    }
}
