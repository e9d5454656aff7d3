import LatchkeyCore
import Logging
import PostgresNIO

/// Applies `Migrations` to PostgreSQL, recorded in a table of their own, under an advisory
/// lock so that nodes starting together take turns.
enum PostgresMigrations {
    /// The advisory lock nodes take turns under: one per schema, so that nodes
    /// sharing a schema wait for each other and nothing else waits for them.
    static let lockKey = "hashtextextended('latchkey-migrations:' || current_schema(), 0)"

    /// Migration 4's refolding, over this backend's rows.
    static func refoldNames(_ connection: PostgresConnection, logger: Logger) async throws {
        var users: [(Int64, String, String?)] = []
        for try await row in try await connection.query(
            PostgresQuery(unsafeSQL: Migrations.usersToRefold), logger: logger
        )
        .decode((Int64, String, String?).self) {
            users.append(row)
        }
        for change in Migrations.refolded(users) {
            var binds = PostgresBindings()
            binds.append(change.folded)
            binds.append(change.id)
            try await connection.query(
                PostgresQuery(unsafeSQL: Migrations.refold(column: change.column), binds: binds), logger: logger)
        }
    }

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(lockKey))"), logger: logger)
            do {
                try await applyPending(connection, logger: logger)
            } catch {
                _ = try? await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(\(lockKey))"), logger: logger)
                throw error
            }
            try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(\(lockKey))"), logger: logger)
        }
    }

    private static func applyPending(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS latchkey_migrations (
                name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """, logger: logger)
        var applied: Set<String> = []
        for try await (name) in try await connection.query("SELECT name FROM latchkey_migrations", logger: logger)
            .decode(String.self)
        {
            applied.insert(name)
        }
        for migration in Migrations.all where !applied.contains(migration.name) {
            try await connection.withTransaction(logger: logger) { transaction in
                for statement in migration.statements(.postgres) + migration.postgresTriggers {
                    try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                if migration.refoldsNames { try await refoldNames(transaction, logger: logger) }
                try await transaction.query(
                    "INSERT INTO latchkey_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
            logger.info("Applied database migration", metadata: ["migration": "\(migration.name)"])
        }
    }
}
