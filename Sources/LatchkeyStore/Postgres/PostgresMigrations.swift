import LatchkeyCore
import Logging
import PostgresNIO

/// Versioned schema changes for PostgreSQL, recorded in their own table and
/// applied under an advisory lock so that nodes starting together take turns.
/// Never edit a shipped migration: add a new one.
enum PostgresMigrations {
    /// The advisory lock nodes take turns under: one per schema, so that nodes
    /// sharing a schema wait for each other and nothing else waits for them.
    static let lockKey = "hashtextextended('latchkey-migrations:' || current_schema(), 0)"

    /// A migration: SQL statements, then optionally code, in one transaction.
    struct Migration: Sendable {
        var name: String
        var statements: [String]
        var code: (@Sendable (PostgresConnection, Logger) async throws -> Void)? = nil
    }

    static let migrations: [Migration] = [
        Migration(
            name: "1-users-and-tokens",
            statements: [
                """
                CREATE TABLE users (
                    id BIGSERIAL PRIMARY KEY,
                    username TEXT NOT NULL,
                    username_folded TEXT NOT NULL CONSTRAINT users_username_unique UNIQUE,
                    email TEXT,
                    email_folded TEXT CONSTRAINT users_email_unique UNIQUE,
                    first_name TEXT NOT NULL DEFAULT '',
                    last_name TEXT NOT NULL DEFAULT '',
                    password_hash TEXT,
                    is_active BOOLEAN NOT NULL DEFAULT TRUE,
                    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
                    created_us BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE tokens (
                    id BIGSERIAL PRIMARY KEY,
                    uuid UUID NOT NULL UNIQUE,
                    key TEXT NOT NULL,
                    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    title TEXT,
                    kind TEXT NOT NULL,
                    scopes TEXT NOT NULL DEFAULT '',
                    created_us BIGINT NOT NULL,
                    expires_us BIGINT,
                    sliding_lifetime_s BIGINT,
                    last_used_us BIGINT,
                    last_used_ip TEXT,
                    digest BYTEA NOT NULL UNIQUE,
                    sealed_secret BYTEA
                )
                """,
                "CREATE INDEX tokens_by_owner_and_key ON tokens (user_id, key)",
                "CREATE INDEX tokens_by_expiry ON tokens (expires_us)",
            ]
        ),
        Migration(
            name: "2-identities",
            statements: [
                """
                CREATE TABLE identities (
                    provider TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_us BIGINT NOT NULL,
                    PRIMARY KEY (provider, subject)
                )
                """
            ]
        ),
        Migration(
            name: "3-clients-and-events",
            statements: [
                """
                CREATE TABLE clients (
                    id BIGSERIAL PRIMARY KEY,
                    client_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    secret_digest BYTEA NOT NULL,
                    created_us BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE events (
                    id BIGSERIAL PRIMARY KEY,
                    at_us BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    token_uuid UUID,
                    user_id BIGINT,
                    detail TEXT NOT NULL DEFAULT ''
                )
                """,
            ]
        ),
        Migration(
            name: "4-unicode-folding", statements: ["CREATE INDEX users_by_username ON users (username)"],
            code: refoldNames),
        Migration(
            name: "5-token-parents",
            statements: [
                // Revoking an app token revokes the tokens it created.
                "ALTER TABLE tokens ADD COLUMN parent_id BIGINT REFERENCES tokens(id) ON DELETE CASCADE",
                "CREATE INDEX tokens_by_parent ON tokens (parent_id)",
            ]),
        Migration(
            name: "6-audit-log",
            statements: [
                // Who acted (a user id), through what (dialect, command or client) and from where.
                "ALTER TABLE events ADD COLUMN actor_id BIGINT",
                "ALTER TABLE events ADD COLUMN via TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE events ADD COLUMN address TEXT",
                "CREATE INDEX events_by_time ON events (at_us)",
                "CREATE INDEX events_by_user ON events (user_id, at_us)",
            ]),
        Migration(
            name: "7-token-cache",
            statements: [
                // Each creation counts the owner's live tokens: from the index alone.
                "CREATE INDEX tokens_by_owner_and_expiry ON tokens (user_id, expires_us)",
                // Every node's token cache hears of deleted tokens and changed users when the change
                // commits, whoever makes it: this release, an older node, a cascade, or psql.
                // Payloads as `ChangeNotification` reads them, led by the table's schema.
                """
                CREATE FUNCTION latchkey_tokens_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE ids text;
                BEGIN
                    SELECT string_agg(id::text, ',') INTO ids FROM gone;
                    IF ids IS NOT NULL THEN
                        PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' ' ||
                            CASE WHEN length(ids) <= \(ChangeNotification.maximumPayload)
                                 THEN 'tokens:' || ids ELSE 'anything' END);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens REFERENCING OLD TABLE AS gone
                FOR EACH STATEMENT EXECUTE FUNCTION latchkey_tokens_deleted()
                """,
                """
                CREATE FUNCTION latchkey_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' user:' || NEW.id);
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER users_changed AFTER UPDATE OF is_active, is_admin, password_hash ON users
                FOR EACH ROW EXECUTE FUNCTION latchkey_user_changed()
                """,
            ]),
        Migration(
            name: "8-owner-listing",
            statements: [
                // A page of an owner's tokens is read in order from the index and stops at its end.
                "CREATE INDEX tokens_by_owner ON tokens (user_id, id)"
            ]),
        Migration(
            name: "9-token-lifecycle",
            statements: TokenLifecycleColumns.statements(blob: "BYTEA", uuid: "UUID") + [
                // Other nodes' caches hear of a change to what verification checks (PATCH, rotation).
                // Uses, last use and sliding expiries are left out: they change on every flush.
                """
                CREATE FUNCTION latchkey_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' tokens:' || NEW.id);
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER tokens_changed
                AFTER UPDATE OF title, scopes, allowed_ips, metadata, max_uses, retired_us ON tokens
                FOR EACH ROW EXECUTE FUNCTION latchkey_token_changed()
                """,
            ]),
        Migration(
            name: "10-webhooks", statements: WebhookSchema.statements(id: "BIGSERIAL PRIMARY KEY", blob: "BYTEA")),
        Migration(
            name: "11-token-list-cache",
            statements: [
                // Other nodes' list caches hear of an owner's new tokens (a creation or a rotation),
                // on a channel that nodes of older releases do not listen to.
                """
                CREATE FUNCTION latchkey_tokens_added() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE owners text;
                BEGIN
                    SELECT string_agg(DISTINCT user_id::text, ',') INTO owners FROM added;
                    IF owners IS NOT NULL THEN
                        PERFORM pg_notify('\(ChangeNotification.newTokensChannel)', TG_TABLE_SCHEMA || ' ' ||
                            CASE WHEN length(owners) <= \(ChangeNotification.maximumPayload)
                                 THEN 'owners:' || owners ELSE 'anything' END);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER tokens_added AFTER INSERT ON tokens REFERENCING NEW TABLE AS added
                FOR EACH STATEMENT EXECUTE FUNCTION latchkey_tokens_added()
                """,
            ]),
        Migration(name: "12-overlap-children", statements: [Schema.adoptOverlapChildren]),
    ]

    /// Names were folded with lowercased(); fold them again by NFKC case-fold (as SQLite's
    /// migration 4 does). A name that now collides with an earlier account keeps its old fold.
    @Sendable static func refoldNames(_ connection: PostgresConnection, logger: Logger) async throws {
        var users: [(Int64, String, String?)] = []
        for try await row in try await connection.query(
            "SELECT id, username, email FROM users ORDER BY id", logger: logger
        )
        .decode((Int64, String, String?).self) {
            users.append(row)
        }
        for (id, username, email) in users {
            let username = Identifier.folded(username)
            try await connection.query(
                """
                UPDATE users SET username_folded = \(username) WHERE id = \(id)
                AND NOT EXISTS (SELECT 1 FROM users WHERE username_folded = \(username) AND id <> \(id))
                """, logger: logger)
            guard let email = email.map(Identifier.foldedEmail) else { continue }
            try await connection.query(
                """
                UPDATE users SET email_folded = \(email) WHERE id = \(id)
                AND NOT EXISTS (SELECT 1 FROM users WHERE email_folded = \(email) AND id <> \(id))
                """, logger: logger)
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
        for migration in migrations where !applied.contains(migration.name) {
            try await connection.withTransaction(logger: logger) { transaction in
                for statement in migration.statements {
                    try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await migration.code?(transaction, logger)
                try await transaction.query(
                    "INSERT INTO latchkey_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
            logger.info("Applied database migration", metadata: ["migration": "\(migration.name)"])
        }
    }
}
