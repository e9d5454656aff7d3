import Foundation
import GRDB
import LatchkeyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded backend: one SQLite file in WAL mode through a GRDB `DatabasePool`
/// (concurrent readers, one writer).
public final class SQLiteStorage: LatchkeyStorage {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating if needed, mode 0600) the database at `path` and applies pending migrations.
    public init(path: String) throws {
        self.path = path
        // Tokens' digests and sealed secrets live here: a file Latchkey creates is its owner's
        // alone. SQLite gives the -wal and -shm files the database file's mode.
        let created = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { close(created) }
        var configuration = Configuration()
        // Another process (the CLI beside a running server) may hold the write lock briefly.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // FULL: a commit is on disk before it is acknowledged. In WAL mode NORMAL would
            // survive a crash of the process (SIGKILL) but may lose the last commits on power
            // loss, and an acknowledged revocation of a leaked token must never come undone.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteMigrations.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(location: path, reason: error.message ?? "\(error.resultCode)")
        }
    }

    // MARK: Users

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
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.userColumns) FROM users ORDER BY id").map(Self.user(from:))
        }
    }

    public func userCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0 }
    }

    public func user(email: String) async throws -> User? {
        try await fetchUser(where: "email_folded = ?", Identifier.foldedEmail(email))
    }

    public func usernameCount(withPrefix prefix: String) async throws -> Int {
        guard Columns.isStorable(prefix) else { return 0 }
        let pattern = Columns.likePattern(prefix: Identifier.folded(prefix))
        return try await pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM users WHERE username_folded LIKE ? ESCAPE '\\'", arguments: [pattern])
                ?? 0
        }
    }

    public func linkedUser(provider: String, subject: String) async throws -> User? {
        guard Columns.isStorable(provider, subject) else { return nil }
        return try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.userColumns(prefix: "u.")) FROM identities i JOIN users u ON u.id = i.user_id
                    WHERE i.provider = ? AND i.subject = ?
                    """, arguments: [provider, subject]
            ).map(Self.user(from:))
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
        return try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.userColumns) FROM users WHERE \(condition) LIMIT 1",
                arguments: StatementArguments(values)
            )
            .map(Self.user(from:))
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: NewToken, maxLivePerOwner: Int?) async throws -> Token {
        try await pool.write { db in
            // One writer at a time: the count and the insert cannot interleave with another creation.
            if let maxLivePerOwner,
                try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM tokens WHERE user_id = ? AND (expires_us IS NULL OR expires_us > ?)",
                    arguments: [token.ownerID, Columns.microseconds(token.created)]) ?? 0 >= maxLivePerOwner
            {
                throw StorageError.tokenLimitReached
            }
            try db.execute(
                sql: """
                    INSERT INTO tokens (uuid, key, user_id, title, kind, scopes, created_us, expires_us,
                                        sliding_lifetime_s, digest, sealed_secret, parent_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.uuid.uuidString.lowercased(), token.key, token.ownerID, token.title, token.kind.rawValue,
                    Columns.scopes(token.scopes), Columns.microseconds(token.created),
                    token.expires.map(Columns.microseconds), token.slidingLifetime.map { Int64($0) },
                    token.digest.bytes, token.sealedSecret, token.parentID,
                ])
            return token.stored(id: db.lastInsertedRowID)
        }
    }

    public func tokenAndOwner(digest: TokenDigest) async throws -> (Token, User)? {
        try await pool.read { db in
            let sql = """
                SELECT \(Self.tokenColumns(prefix: "t.")), \(Self.userColumns(prefix: "u."))
                FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = ?
                """
            guard let row = try Row.fetchOne(db, sql: sql, arguments: [digest.bytes]) else { return nil }
            return (try Self.token(from: row), Self.user(from: row, offset: Self.tokenColumnCount))
        }
    }

    public func token(uuid: UUID) async throws -> Token? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.tokenColumns(prefix: "")) FROM tokens WHERE uuid = ?",
                arguments: [uuid.uuidString.lowercased()]
            ).map(Self.token(from:))
        }
    }

    public func tokens(_ query: TokenQuery) async throws -> [Token] {
        guard Columns.isStorable(query.key ?? "") else { return [] }
        let (condition, arguments) = Self.filter(query)
        var sql = "SELECT \(Self.tokenColumns(prefix: "")) FROM tokens WHERE \(condition) ORDER BY id"
        if let limit = query.limit {
            sql += " LIMIT \(max(0, limit)) OFFSET \(max(0, query.offset))"
        } else if query.offset > 0 {
            sql += " LIMIT -1 OFFSET \(query.offset)"
        }
        return try await pool.read { [sql] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.token(from:))
        }
    }

    public func countTokens(_ query: TokenQuery) async throws -> Int {
        guard Columns.isStorable(query.key ?? "") else { return 0 }
        let (condition, arguments) = Self.filter(query)
        return try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tokens WHERE \(condition)", arguments: arguments) ?? 0
        }
    }

    public func recordUsage(tokenID: Int64, _ usage: TokenUsage) async throws {
        var assignments: [String] = []
        var arguments = StatementArguments()
        if let expires = usage.expires {
            assignments.append("expires_us = ?")
            arguments += [Columns.microseconds(expires)]
        }
        if let lastUsed = usage.lastUsed {
            assignments.append("last_used_us = ?, last_used_ip = ?")
            arguments += [Columns.microseconds(lastUsed), usage.lastUsedIP]
        }
        guard !assignments.isEmpty else { return }
        arguments += [tokenID]
        let sql = "UPDATE tokens SET \(assignments.joined(separator: ", ")) WHERE id = ?"
        try await pool.write { [arguments] db in try db.execute(sql: sql, arguments: arguments) }
    }

    public func deleteToken(id: Int64) async throws -> [Token] {
        try await deleteTokens(where: "id = ?", [id])
    }

    public func deleteTokens(expiredBefore cutoff: Date) async throws -> [Token] {
        try await deleteTokens(where: "expires_us < ?", [Columns.microseconds(cutoff)])
    }

    public func deleteTokens(ownerID: Int64) async throws -> [Token] {
        try await deleteTokens(where: "user_id = ?", [ownerID])
    }

    /// The tokens matching `condition` and every token they created, down the `parent_id`
    /// chain, each reported: read first in the same transaction (SQLite's RETURNING leaves
    /// out the rows a foreign key's cascade removes). Parents come first.
    private func deleteTokens(where condition: String, _ arguments: StatementArguments) async throws -> [Token] {
        try await pool.write { db in
            let family = Columns.tokenFamily(matching: condition)
            let tokens = try Row.fetchAll(
                db,
                sql: family
                    + " SELECT \(Self.tokenColumns(prefix: "")) FROM tokens WHERE id IN (SELECT id FROM family)",
                arguments: arguments
            ).map(Self.token(from:))
            try db.execute(
                sql: family + " DELETE FROM tokens WHERE id IN (SELECT id FROM family)", arguments: arguments)
            return tokens.sorted { $0.id < $1.id }
        }
    }

    // MARK: Service clients and events

    public func insertClient(_ client: ServiceClient) async throws -> ServiceClient {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO clients (client_id, name, secret_digest, created_us) VALUES (?, ?, ?, ?)",
                arguments: [
                    client.clientID, client.name, client.secretDigest.bytes, Columns.microseconds(client.created),
                ])
            var stored = client
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func client(clientID: String) async throws -> ServiceClient? {
        guard Columns.isStorable(clientID) else { return nil }
        return try await fetchClients(where: "client_id = ?", [clientID]).first
    }

    public func clients() async throws -> [ServiceClient] {
        try await fetchClients(where: "1 = 1", [])
    }

    public func deleteClient(clientID: String) async throws -> Bool {
        guard Columns.isStorable(clientID) else { return false }
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM clients WHERE client_id = ?", arguments: [clientID])
            return db.changesCount > 0
        }
    }

    private func fetchClients(where condition: String, _ values: StatementArguments) async throws -> [ServiceClient] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT id, client_id, name, secret_digest, created_us FROM clients WHERE \(condition) ORDER BY id",
                arguments: values
            ).map { row in
                ServiceClient(
                    id: row[0], clientID: row[1], name: row[2], secretDigest: TokenDigest(bytes: row[3]),
                    created: Columns.date(microseconds: row[4]))
            }
        }
    }

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await pool.write { db in
            for event in events {
                try db.execute(
                    sql: """
                        INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        Columns.microseconds(event.at), event.kind, event.tokenUUID?.uuidString.lowercased(),
                        event.userID, event.origin.userID, event.origin.via, event.origin.address, event.detail,
                    ])
            }
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        var conditions = ["1 = 1"]
        var arguments = StatementArguments()
        if let userID = query.userID {
            conditions.append("user_id = ?")
            arguments += [userID]
        }
        if let since = query.since {
            conditions.append("at_us >= ?")
            arguments += [Columns.microseconds(since)]
        }
        arguments += [max(0, query.limit)]
        let sql = """
            SELECT id, at_us, kind, token_uuid, user_id, actor_id, via, address, detail FROM events
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?
            """
        return try await pool.read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AuditEvent(
                    id: row["id"], at: Columns.date(microseconds: row["at_us"]), kind: row["kind"],
                    userID: row["user_id"], tokenUUID: (row["token_uuid"] as String?).flatMap(UUID.init(uuidString:)),
                    origin: Origin(userID: row["actor_id"], via: row["via"], address: row["address"]),
                    detail: row["detail"])
            }
        }
    }

    public func deleteEvents(before cutoff: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM events WHERE at_us < ?", arguments: [Columns.microseconds(cutoff)])
            return db.changesCount
        }
    }

    public func checkHealth() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Row mapping

    private static let userColumnNames = [
        "id", "username", "email", "first_name", "last_name", "password_hash", "is_active", "is_admin", "created_us",
    ]
    private static let tokenColumnNames = [
        "id", "uuid", "key", "user_id", "title", "kind", "scopes", "created_us", "expires_us", "sliding_lifetime_s",
        "last_used_us", "last_used_ip", "digest", "sealed_secret",
    ]
    static let tokenColumnCount = tokenColumnNames.count
    private static let userColumns = userColumns(prefix: "")

    private static func userColumns(prefix: String) -> String {
        userColumnNames.map { prefix + $0 }.joined(separator: ", ")
    }

    private static func tokenColumns(prefix: String) -> String {
        tokenColumnNames.map { prefix + $0 }.joined(separator: ", ")
    }

    private static func user(from row: Row) -> User {
        user(from: row, offset: 0)
    }

    private static func user(from row: Row, offset: Int) -> User {
        User(
            id: row[offset], username: row[offset + 1], email: row[offset + 2], firstName: row[offset + 3],
            lastName: row[offset + 4], passwordHash: row[offset + 5], isActive: row[offset + 6],
            isAdmin: row[offset + 7], created: Columns.date(microseconds: row[offset + 8]))
    }

    private static func token(from row: Row) throws -> Token {
        let uuidText: String = row[1]
        let kindText: String = row[5]
        guard let uuid = UUID(uuidString: uuidText), let kind = TokenKind(rawValue: kindText) else {
            throw DatabaseError(message: "token row \(row[0] as Int64) holds an unreadable uuid or kind")
        }
        let slidingSeconds: Int64? = row[9]
        return Token(
            id: row[0], uuid: uuid, key: row[2], ownerID: row[3], title: row[4], kind: kind,
            scopes: Columns.scopes(row[6] as String), created: Columns.date(microseconds: row[7]),
            expires: (row[8] as Int64?).map(Columns.date(microseconds:)),
            slidingLifetime: slidingSeconds.map(TimeInterval.init),
            lastUsed: (row[10] as Int64?).map(Columns.date(microseconds:)), lastUsedIP: row[11],
            digest: TokenDigest(bytes: row[12]), sealedSecret: row[13])
    }

    private static func filter(_ query: TokenQuery) -> (String, StatementArguments) {
        var conditions = ["1 = 1"]
        var arguments = StatementArguments()
        if let ownerID = query.ownerID {
            conditions.append("user_id = ?")
            arguments += [ownerID]
        }
        if let kind = query.kind {
            conditions.append("kind = ?")
            arguments += [kind.rawValue]
        }
        if let key = query.key {
            conditions.append("key = ?")
            arguments += [key]
        }
        if let after = query.expiringAfter {
            conditions.append("expires_us > ?")
            arguments += [Columns.microseconds(after)]
        }
        if let until = query.expiringUntil {
            conditions.append("expires_us <= ?")
            arguments += [Columns.microseconds(until)]
        }
        return (conditions.joined(separator: " AND "), arguments)
    }
}
