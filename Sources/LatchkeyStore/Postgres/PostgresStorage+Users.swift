import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// Users: accounts, their OpenID links, activation and passwords.
extension PostgresStorage {
    public func insertUser(_ user: NewUser) async throws -> User {
        try await run { [self] in
            do {
                let rows = try await client.query(
                    """
                    INSERT INTO users (username, username_folded, email, email_folded, first_name, last_name,
                                       password_hash, is_active, is_admin, created_us)
                    VALUES (\(user.username), \(Identifier.folded(user.username)), \(user.email),
                            \(user.email.map(Identifier.foldedEmail)),
                            \(user.firstName), \(user.lastName), \(user.passwordHash), \(user.isActive), \(user.isAdmin),
                            \(Columns.microseconds(user.created)))
                    RETURNING id
                    """, logger: logger)
                var id: Int64 = 0
                for try await (value) in rows.decode(Int64.self) { id = value }
                return User(
                    id: id, username: user.username, email: user.email, firstName: user.firstName,
                    lastName: user.lastName, passwordHash: user.passwordHash, isActive: user.isActive,
                    isAdmin: user.isAdmin,
                    created: user.created)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                // Two nodes may race to the same name; the unique index decides.
                if error.serverInfo?[.constraintName]?.contains("email") == true {
                    throw StorageError.emailTaken(user.email ?? "")
                }
                throw StorageError.usernameTaken(user.username)
            }
        }
    }

    public func user(id: Int64) async throws -> User? {
        try await fetch(UserRow.self, "SELECT \(unescaped: Schema.userColumns) FROM users WHERE id = \(id)")
            .first?.user()
    }

    public func user(username: String) async throws -> User? {
        guard Columns.isStorable(username) else { return nil }
        // The name exactly as stored wins: two accounts from before NFKC folding may share a fold.
        return try await fetch(
            UserRow.self,
            """
            SELECT \(unescaped: Schema.userColumns) FROM users
            WHERE username = \(username) OR username_folded = \(Identifier.folded(username))
            ORDER BY (username = \(username)) DESC LIMIT 1
            """
        ).first?.user()
    }

    public func user(login: String) async throws -> User? {
        guard Columns.isStorable(login) else { return nil }
        let (username, email) = (Identifier.folded(login), Identifier.foldedEmail(login))
        // The name exactly as stored wins, then a username over another account's email that
        // happens to be spelled the same.
        return try await fetch(
            UserRow.self,
            """
            SELECT \(unescaped: Schema.userColumns) FROM users
            WHERE username = \(login) OR username_folded = \(username) OR email_folded = \(email)
            ORDER BY (username = \(login)) DESC, (username_folded = \(username)) DESC LIMIT 1
            """
        ).first?.user()
    }

    public func users() async throws -> [User] {
        try await fetch(UserRow.self, "SELECT \(unescaped: Schema.userColumns) FROM users ORDER BY id").map {
            $0.user()
        }
    }

    public func userCount() async throws -> Int {
        try await count("SELECT COUNT(*) FROM users")
    }

    public func user(email: String) async throws -> User? {
        guard Columns.isStorable(email) else { return nil }
        return try await fetch(
            UserRow.self,
            "SELECT \(unescaped: Schema.userColumns) FROM users WHERE email_folded = \(Identifier.foldedEmail(email))"
        ).first?.user()
    }

    public func usernameCount(withPrefix prefix: String) async throws -> Int {
        guard Columns.isStorable(prefix) else { return 0 }
        let pattern = Columns.likePattern(prefix: Identifier.folded(prefix))
        return try await count("SELECT COUNT(*) FROM users WHERE username_folded LIKE \(pattern) ESCAPE '\\'")
    }

    public func linkedUser(provider: String, subject: String) async throws -> User? {
        guard Columns.isStorable(provider, subject) else { return nil }
        return try await fetch(
            UserRow.self,
            """
            SELECT \(unescaped: Schema.columns(Schema.users, of: "u"))
            FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = \(provider) AND i.subject = \(subject)
            """
        ).first?.user()
    }

    public func link(provider: String, subject: String, to userID: Int64, at date: Date) async throws {
        try await run { [self] in
            try await client.query(
                """
                INSERT INTO identities (provider, subject, user_id, created_us)
                VALUES (\(provider), \(subject), \(userID), \(Columns.microseconds(date)))
                ON CONFLICT (provider, subject) DO UPDATE SET user_id = excluded.user_id
                """, logger: logger)
        }
    }

    public func setActive(userID: Int64, _ isActive: Bool) async throws {
        try await run { [self] in
            try await client.query("UPDATE users SET is_active = \(isActive) WHERE id = \(userID)", logger: logger)
        }
    }

    public func setPasswordHash(userID: Int64, _ hash: String?) async throws {
        try await run { [self] in
            try await client.query("UPDATE users SET password_hash = \(hash) WHERE id = \(userID)", logger: logger)
        }
    }
}
