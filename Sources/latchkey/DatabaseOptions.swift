import ArgumentParser
import LatchkeyCore
import LatchkeyStore
import Logging

struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "SQLite file path, or postgres://user:password@host:port/database (env LATCHKEY_DATABASE; default: latchkey.db)."
    )
    var database: String?

    var location: String { database ?? environment("LATCHKEY_DATABASE") ?? "latchkey.db" }

    var isPostgres: Bool { PostgresLocation.isPostgresURL(location) }

    func open(logger: Logger) throws -> StorageHandle {
        try StorageLocation.open(location, logger: logger)
    }

    /// Runs a one-shot command against the database, through the domain services; an
    /// unreachable database fails at once.
    /// - Parameter tokenLimits: what `services.tokens` applies to the tokens it creates.
    func withServices<T: Sendable>(
        tokenLimits: TokenLimits = .default, _ body: @Sendable @escaping (CommandServices) async throws -> T
    ) async throws -> T {
        // The CLI reports its own failures in one line; background chatter stays quiet.
        var logger = Logger(label: "latchkey")
        logger.logLevel = .critical
        return try await open(logger: logger).withPrepared(logger: logger) { storage in
            try await body(CommandServices(storage: storage, tokenLimits: tokenLimits))
        }
    }
}
