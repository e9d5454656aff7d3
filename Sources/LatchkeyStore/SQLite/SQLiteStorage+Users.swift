import Foundation
import GRDB
import LatchkeyCore

/// Users: accounts, their OpenID links, activation and passwords.
extension SQLiteStorage {
    public func insertUser(_ user: NewUser) async throws -> User {
        try await pool.write { db in
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM users WHERE username_folded = ?", arguments: [Identifier.folded(user.username)])
                == true
            {
                throw StorageError.usernameTaken(user.username)
            }
            if let email = user.email,
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM users WHERE email_folded = ?", arguments: [Identifier.foldedEmail(email)])
                    == true
            {
                throw StorageError.emailTaken(email)
            }
            try db.execute(
                sql: """
                    INSERT INTO users (username, username_folded, email, email_folded, first_name, last_name,
                                       password_hash, is_active, is_admin, created_us)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    user.username, Identifier.folded(user.username), user.email, user.email.map(Identifier.foldedEmail),
                    user.firstName, user.lastName, user.passwordHash, user.isActive, user.isAdmin,
                    Columns.microseconds(user.created),
                ])
            return User(
                id: db.lastInsertedRowID, username: user.username, email: user.email, firstName: user.firstName,
                lastName: user.lastName, passwordHash: user.passwordHash, isActive: user.isActive,
                isAdmin: user.isAdmin,
                created: user.created)
        }
    }

    public func user(id: Int64) async throws -> User? {
        try await fetchUser(where: "id = ?", id)
    }

    public func user(username: String) async throws -> User? {
        // The name exactly as stored wins: two accounts from before NFKC folding may share a fold.
        try await fetchUser(
            where: "username = ? OR username_folded = ? ORDER BY username = ? DESC", username,
            Identifier.folded(username), username)
    }

    public func user(login: String) async throws -> User? {
        let (username, email) = (Identifier.folded(login), Identifier.foldedEmail(login))
        // The name exactly as stored wins, then a username over another account's email that
        // happens to be spelled the same.
        return try await fetchUser(
            where: """
                username = ? OR username_folded = ? OR email_folded = ?
                ORDER BY username = ? DESC, username_folded = ? DESC
                """, login, username, email, login, username)
    }

    public func users() async throws -> [User] {
        try await read { db in
            try UserRow.fetchAll(db, sql: "SELECT \(Schema.userColumns) FROM users ORDER BY id").map { $0.user() }
        }
    }

    public func userCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0 }
    }

    public func user(email: String) async throws -> User? {
        try await fetchUser(where: "email_folded = ?", Identifier.foldedEmail(email))
    }

    public func usernameCount(withPrefix prefix: String) async throws -> Int {
        guard Columns.isStorable(prefix) else { return 0 }
        let pattern = Columns.likePattern(prefix: Identifier.folded(prefix))
        return try await read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM users WHERE username_folded LIKE ? ESCAPE '\\'", arguments: [pattern])
                ?? 0
        }
    }

    public func linkedUser(provider: String, subject: String) async throws -> User? {
        guard Columns.isStorable(provider, subject) else { return nil }
        return try await read { db in
            try UserRow.fetchOne(
                db,
                sql: """
                    SELECT \(Schema.columns(Schema.users, of: "u")) FROM identities i JOIN users u ON u.id = i.user_id
                    WHERE i.provider = ? AND i.subject = ?
                    """, arguments: [provider, subject]
            )?.user()
        }
    }

    public func link(provider: String, subject: String, to userID: Int64, at date: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO identities (provider, subject, user_id, created_us) VALUES (?, ?, ?, ?)
                    ON CONFLICT (provider, subject) DO UPDATE SET user_id = excluded.user_id
                    """, arguments: [provider, subject, userID, Columns.microseconds(date)])
        }
    }

    public func setActive(userID: Int64, _ isActive: Bool) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE users SET is_active = ? WHERE id = ?", arguments: [isActive, userID])
        }
    }

    public func setPasswordHash(userID: Int64, _ hash: String?) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [hash, userID])
        }
    }

    private func fetchUser(where condition: String, _ values: any DatabaseValueConvertible & Sendable...) async throws
        -> User?
    {
        guard !values.contains(where: { ($0 as? String).map { !Columns.isStorable($0) } ?? false }) else { return nil }
        return try await read { db in
            try UserRow.fetchOne(
                db, sql: "SELECT \(Schema.userColumns) FROM users WHERE \(condition) LIMIT 1",
                arguments: StatementArguments(values)
            )?.user()
        }
    }
}
