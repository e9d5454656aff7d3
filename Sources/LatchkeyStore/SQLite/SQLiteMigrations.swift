import GRDB
import LatchkeyCore

/// Versioned schema changes, applied in order at start. Never edit a shipped
/// migration: add a new one.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-users-and-tokens") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        username TEXT NOT NULL,
                        username_folded TEXT NOT NULL UNIQUE,
                        email TEXT,
                        email_folded TEXT UNIQUE,
                        first_name TEXT NOT NULL DEFAULT '',
                        last_name TEXT NOT NULL DEFAULT '',
                        password_hash TEXT,
                        is_active BOOLEAN NOT NULL DEFAULT 1,
                        is_admin BOOLEAN NOT NULL DEFAULT 0,
                        created_us INTEGER NOT NULL
                    );
                    CREATE TABLE tokens (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        uuid TEXT NOT NULL UNIQUE,
                        key TEXT NOT NULL,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        title TEXT,
                        kind TEXT NOT NULL,
                        scopes TEXT NOT NULL DEFAULT '',
                        created_us INTEGER NOT NULL,
                        expires_us INTEGER,
                        sliding_lifetime_s INTEGER,
                        last_used_us INTEGER,
                        last_used_ip TEXT,
                        digest BLOB NOT NULL UNIQUE,
                        sealed_secret BLOB
                    );
                    CREATE INDEX tokens_by_owner_and_key ON tokens (user_id, key);
                    CREATE INDEX tokens_by_expiry ON tokens (expires_us);
                    """)
        }
        migrator.registerMigration("2-identities") { db in
            try db.execute(
                sql: """
                    CREATE TABLE identities (
                        provider TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        created_us INTEGER NOT NULL,
                        PRIMARY KEY (provider, subject)
                    );
                    """)
        }
        migrator.registerMigration("3-clients-and-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE clients (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        client_id TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        secret_digest BLOB NOT NULL,
                        created_us INTEGER NOT NULL
                    );
                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at_us INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        token_uuid TEXT,
                        user_id INTEGER,
                        detail TEXT NOT NULL DEFAULT ''
                    );
                    """)
        }
        migrator.registerMigration("4-unicode-folding") { db in
            try db.execute(sql: "CREATE INDEX users_by_username ON users (username)")
            // Names were folded with lowercased(); fold them again by NFKC case-fold. A name
            // that now collides with an earlier account keeps its old fold rather than fail the start.
            for row in try Row.fetchAll(db, sql: "SELECT id, username, email FROM users ORDER BY id") {
                let id: Int64 = row["id"]
                for (column, folded) in [
                    ("username_folded", Identifier.folded(row["username"])),
                    ("email_folded", (row["email"] as String?).map(Identifier.foldedEmail)),
                ] {
                    guard let folded else { continue }
                    try db.execute(
                        sql: """
                            UPDATE users SET \(column) = ? WHERE id = ?
                            AND NOT EXISTS (SELECT 1 FROM users WHERE \(column) = ? AND id <> ?)
                            """, arguments: [folded, id, folded, id])
                }
            }
        }
        migrator.registerMigration("5-token-parents") { db in
            // Revoking an app token revokes the tokens it created (GRDB turns foreign keys on).
            try db.execute(
                sql: """
                    ALTER TABLE tokens ADD COLUMN parent_id INTEGER REFERENCES tokens(id) ON DELETE CASCADE;
                    CREATE INDEX tokens_by_parent ON tokens (parent_id);
                    """)
        }
        migrator.registerMigration("6-audit-log") { db in
            // Who acted (a user id), through what (dialect, command or client) and from where.
            try db.execute(
                sql: """
                    ALTER TABLE events ADD COLUMN actor_id INTEGER;
                    ALTER TABLE events ADD COLUMN via TEXT NOT NULL DEFAULT '';
                    ALTER TABLE events ADD COLUMN address TEXT;
                    CREATE INDEX events_by_time ON events (at_us);
                    CREATE INDEX events_by_user ON events (user_id, at_us);
                    """)
        }
        migrator.registerMigration("7-token-cache") { db in
            // Each creation counts the owner's live tokens: from the index alone. (Changes reach
            // the token cache through `data_version`; PostgreSQL's migration adds NOTIFY triggers.)
            try db.execute(sql: "CREATE INDEX tokens_by_owner_and_expiry ON tokens (user_id, expires_us)")
        }
        migrator.registerMigration("8-owner-listing") { db in
            // A page of an owner's tokens is read in order from the index and stops at its end;
            // without it every token of the owner was read and sorted for each page.
            try db.execute(sql: "CREATE INDEX tokens_by_owner ON tokens (user_id, id)")
        }
        migrator.registerMigration("9-token-lifecycle") { db in
            try db.execute(sql: TokenLifecycleColumns.statements(blob: "BLOB", uuid: "TEXT").joined(separator: ";\n"))
        }
        migrator.registerMigration("10-webhooks") { db in
            try db.execute(
                sql: WebhookSchema.statements(id: "INTEGER PRIMARY KEY AUTOINCREMENT", blob: "BLOB").joined(
                    separator: ";\n"))
        }
        migrator.registerMigration("11-token-list-cache") { _ in
            // Nothing here: other processes' writes reach the list cache through `data_version`.
            // (PostgreSQL's migration adds a NOTIFY trigger on new tokens.)
        }
        migrator.registerMigration("12-overlap-children") { db in
            try db.execute(sql: Schema.adoptOverlapChildren)
        }
        return migrator
    }
}
