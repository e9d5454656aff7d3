import LatchkeyCore

/// What the backends spell differently; everything else in a migration is shared. SQLite keeps
/// the spelling its first migrations shipped with, so that a new file's schema reads as an
/// upgraded one's.
struct SQLTypes: Sendable {
    /// An autonumbered primary key.
    let id: String
    let integer: String
    let blob: String
    let uuid: String
    let yes: String
    let no: String
    /// PostgreSQL names its unique constraints (sign-up tells a taken email from a taken name by
    /// them); SQLite's messages name the column instead.
    let namesConstraints: Bool

    func unique(_ name: String) -> String {
        namesConstraints ? "CONSTRAINT \(name) UNIQUE" : "UNIQUE"
    }

    static let sqlite = SQLTypes(
        id: "INTEGER PRIMARY KEY AUTOINCREMENT", integer: "INTEGER", blob: "BLOB", uuid: "TEXT", yes: "1", no: "0",
        namesConstraints: false)
    static let postgres = SQLTypes(
        id: "BIGSERIAL PRIMARY KEY", integer: "BIGINT", blob: "BYTEA", uuid: "UUID", yes: "TRUE", no: "FALSE",
        namesConstraints: true)
}

/// One versioned schema change, written once for both backends. Never edit a shipped
/// migration: add a new one.
struct Migration: Sendable {
    let name: String
    /// The statements, run in order in one transaction.
    let statements: @Sendable (SQLTypes) -> [String]
    /// How PostgreSQL nodes hear of each other's changes: NOTIFY triggers, run after
    /// `statements`. (SQLite's processes see each other's commits through `data_version`.)
    var postgresTriggers: [String] = []
    /// Names folded again by Swift code (`Migrations.refolded`), which each backend runs over
    /// its rows after `statements`.
    var refoldsNames = false
}

/// Latchkey's schema, as the migrations that build it, for both backends.
enum Migrations {
    static let all: [Migration] = [
        Migration(name: "1-users-and-tokens") { type in
            [
                """
                CREATE TABLE users (
                    id \(type.id),
                    username TEXT NOT NULL,
                    username_folded TEXT NOT NULL \(type.unique("users_username_unique")),
                    email TEXT,
                    email_folded TEXT \(type.unique("users_email_unique")),
                    first_name TEXT NOT NULL DEFAULT '',
                    last_name TEXT NOT NULL DEFAULT '',
                    password_hash TEXT,
                    is_active BOOLEAN NOT NULL DEFAULT \(type.yes),
                    is_admin BOOLEAN NOT NULL DEFAULT \(type.no),
                    created_us \(type.integer) NOT NULL
                )
                """,
                """
                CREATE TABLE tokens (
                    id \(type.id),
                    uuid \(type.uuid) NOT NULL UNIQUE,
                    key TEXT NOT NULL,
                    user_id \(type.integer) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    title TEXT,
                    kind TEXT NOT NULL,
                    scopes TEXT NOT NULL DEFAULT '',
                    created_us \(type.integer) NOT NULL,
                    expires_us \(type.integer),
                    sliding_lifetime_s \(type.integer),
                    last_used_us \(type.integer),
                    last_used_ip TEXT,
                    digest \(type.blob) NOT NULL UNIQUE,
                    sealed_secret \(type.blob)
                )
                """,
                "CREATE INDEX tokens_by_owner_and_key ON tokens (user_id, key)",
                "CREATE INDEX tokens_by_expiry ON tokens (expires_us)",
            ]
        },
        Migration(name: "2-identities") { type in
            [
                """
                CREATE TABLE identities (
                    provider TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    user_id \(type.integer) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_us \(type.integer) NOT NULL,
                    PRIMARY KEY (provider, subject)
                )
                """
            ]
        },
        Migration(name: "3-clients-and-events") { type in
            [
                """
                CREATE TABLE clients (
                    id \(type.id),
                    client_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    secret_digest \(type.blob) NOT NULL,
                    created_us \(type.integer) NOT NULL
                )
                """,
                """
                CREATE TABLE events (
                    id \(type.id),
                    at_us \(type.integer) NOT NULL,
                    kind TEXT NOT NULL,
                    token_uuid \(type.uuid),
                    user_id \(type.integer),
                    detail TEXT NOT NULL DEFAULT ''
                )
                """,
            ]
        },
        Migration(
            name: "4-unicode-folding", statements: { _ in ["CREATE INDEX users_by_username ON users (username)"] },
            refoldsNames: true),
        Migration(name: "5-token-parents") { type in
            [
                // Revoking an app token revokes the tokens it created (GRDB turns SQLite's foreign keys on).
                "ALTER TABLE tokens ADD COLUMN parent_id \(type.integer) REFERENCES tokens(id) ON DELETE CASCADE",
                "CREATE INDEX tokens_by_parent ON tokens (parent_id)",
            ]
        },
        Migration(name: "6-audit-log") { type in
            [
                // Who acted (a user id), through what (dialect, command or client) and from where.
                "ALTER TABLE events ADD COLUMN actor_id \(type.integer)",
                "ALTER TABLE events ADD COLUMN via TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE events ADD COLUMN address TEXT",
                "CREATE INDEX events_by_time ON events (at_us)",
                "CREATE INDEX events_by_user ON events (user_id, at_us)",
            ]
        },
        Migration(
            name: "7-token-cache",
            // Each creation counts the owner's live tokens: from the index alone.
            statements: { _ in ["CREATE INDEX tokens_by_owner_and_expiry ON tokens (user_id, expires_us)"] },
            postgresTriggers: ChangeTriggers.deletedTokensAndChangedUsers),
        Migration(name: "8-owner-listing") { _ in
            // A page of an owner's tokens is read in order from the index and stops at its end;
            // without it every token of the owner was read and sorted for each page.
            ["CREATE INDEX tokens_by_owner ON tokens (user_id, id)"]
        },
        Migration(
            name: "9-token-lifecycle",
            statements: { type in
                [
                    "ALTER TABLE tokens ADD COLUMN max_uses BIGINT",
                    // Counted down by one atomic UPDATE per use, whichever node serves it.
                    "ALTER TABLE tokens ADD COLUMN uses_remaining BIGINT",
                    // CIDRs, comma-separated; empty: anywhere.
                    "ALTER TABLE tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT ''",
                    "ALTER TABLE tokens ADD COLUMN metadata TEXT",
                    "ALTER TABLE tokens ADD COLUMN last_used_agent TEXT",
                    // The last distinct addresses, newest first, comma-separated.
                    "ALTER TABLE tokens ADD COLUMN recent_ips TEXT NOT NULL DEFAULT ''",
                    "ALTER TABLE tokens ADD COLUMN rotated_from \(type.uuid)",
                    // Rotated away: stops authenticating at this time; presented after it, reuse.
                    "ALTER TABLE tokens ADD COLUMN retired_us BIGINT",
                    // A successor's secret, sealed, for an idempotent retry of its rotation until the overlap ends.
                    "ALTER TABLE tokens ADD COLUMN idempotency_key TEXT",
                    "ALTER TABLE tokens ADD COLUMN retry_secret \(type.blob)",
                    "ALTER TABLE tokens ADD COLUMN retry_until_us BIGINT",
                    "CREATE INDEX tokens_by_predecessor ON tokens (rotated_from)",
                    "CREATE INDEX tokens_by_retirement ON tokens (retired_us)",
                ]
            },
            postgresTriggers: ChangeTriggers.changedTokens),
        Migration(name: "10-webhooks") { type in WebhookSchema.statements(id: type.id, blob: type.blob) },
        Migration(
            name: "11-token-list-cache", statements: { _ in [] }, postgresTriggers: ChangeTriggers.addedTokens),
        Migration(name: "12-overlap-children") { _ in [Schema.adoptOverlapChildren] },
    ]

    /// Names were folded with lowercased(); migration 4 folds them again by NFKC case-fold. A
    /// name that now collides with an earlier account keeps its old fold rather than fail the
    /// start. `users` are (id, username, email), by id; the answer is each change to make with
    /// `refold(column:)`: the column, the new fold and the user's id.
    static func refolded(_ users: [(Int64, String, String?)]) -> [(column: String, folded: String, id: Int64)] {
        users.flatMap { id, username, email in
            [("username_folded", Identifier.folded(username)), ("email_folded", email.map(Identifier.foldedEmail))]
                .compactMap { column, folded in folded.map { (column, $0, id) } }
        }
    }

    static let usersToRefold = "SELECT id, username, email FROM users ORDER BY id"

    /// $1 the new fold, $2 the user's id.
    static func refold(column: String) -> String {
        """
        UPDATE users SET \(column) = $1 WHERE id = $2
        AND NOT EXISTS (SELECT 1 FROM users WHERE \(column) = $1 AND id <> $2)
        """
    }
}
