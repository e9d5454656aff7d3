import Foundation
import GRDB
import LatchkeyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded backend: one SQLite file in WAL mode through a GRDB `DatabasePool`
/// (concurrent readers, one writer).
public final class SQLiteStorage: BackendStorage {
    public let path: String
    let pool: DatabasePool
    /// Token creations, committed together when they arrive together.
    private let creations: SQLiteGroupCommit

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
            creations = SQLiteGroupCommit(pool: pool)
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

    // MARK: Tokens

    public func insertToken(_ token: NewToken, maxLivePerOwner: Int?, recording events: [AuditEvent]) async throws
        -> Token
    {
        try await creations.write { db in
            // One writer at a time: the count and the insert cannot interleave with another creation.
            // Counting stops at the limit: a creation costs no more for an owner of many tokens.
            if let maxLivePerOwner,
                try Int.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT COUNT(*) FROM (SELECT 1 FROM tokens
                            WHERE user_id = ? AND (expires_us IS NULL OR expires_us > ?)
                            AND (retired_us IS NULL OR retired_us > ?) LIMIT ?) AS live
                            """),
                    arguments: [
                        token.ownerID, Columns.microseconds(token.created), Columns.microseconds(token.created),
                        maxLivePerOwner,
                    ]) ?? 0
                    >= maxLivePerOwner
            {
                throw StorageError.tokenLimitReached
            }
            let stored = try Self.insert(token, into: db)
            try Self.insert(events, into: db)
            return stored
        }
    }

    private static func insert(_ token: NewToken, into db: Database) throws -> Token {
        // In the writing transaction (SQLite has one writer at a time: a rotation commits before
        // or after it): a creator rotated away (or revoked) since its request was authenticated
        // hands on nothing.
        if let parentID = token.parentID,
            try Bool.fetchOne(db.cachedStatement(sql: Schema.creatorIsLive), arguments: [parentID]) != true
        {
            throw StorageError.creatorRetired
        }
        try db.execute(
            sql: """
                INSERT INTO tokens (\(Schema.insertedTokenColumns.joined(separator: ", ")))
                VALUES (\(Array(repeating: "?", count: Schema.insertedTokenColumns.count).joined(separator: ", ")))
                """,
            arguments: [
                token.uuid.uuidString.lowercased(), token.key, token.ownerID, token.title, token.kind.rawValue,
                Columns.scopes(token.scopes), Columns.microseconds(token.created),
                token.expires.map(Columns.microseconds), token.slidingLifetime.map { Int64($0) },
                token.digest.bytes, token.sealedSecret, token.parentID, token.lifecycle.maxUses,
                token.lifecycle.usesRemaining, Columns.networks(token.lifecycle.allowedIPs), token.lifecycle.metadata,
                token.lifecycle.rotatedFrom?.uuidString.lowercased(), token.retry?.idempotencyKey,
                token.retry?.sealedSecret, token.retry.map { Columns.microseconds($0.until) },
            ])
        return token.stored(id: db.lastInsertedRowID)
    }

    public func consumeUse(tokenID: Int64) async throws -> Int? {
        try await pool.write { db in
            try Int.fetchOne(db.cachedStatement(sql: Schema.consumeUse), arguments: [tokenID])
        }
    }

    public func updateToken(id: Int64, _ change: TokenChange, recording events: [AuditEvent]) async throws -> Token? {
        try await pool.write { db in
            guard
                let token = try TokenRow.fetchOne(
                    db, sql: Schema.updateToken,
                    arguments: [
                        change.title != nil, change.title ?? nil, change.metadata != nil, change.metadata ?? nil,
                        change.allowedIPs.map(Columns.networks), change.scopes.map(Columns.scopes), id,
                    ])?.token()
            else { return nil }
            try Self.insert(events, into: db)
            return token
        }
    }

    public func rotateToken(id: Int64, retires: Date, successor: NewToken, recording events: [AuditEvent])
        async throws -> Token
    {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE tokens SET retired_us = ? WHERE id = ? AND retired_us IS NULL",
                arguments: [Columns.microseconds(retires), id])
            guard db.changesCount == 1 else { throw StorageError.alreadyRotated }
            let stored = try Self.insert(successor, into: db)
            // It takes the old one's creator and uses left; the old one's tokens go with it.
            try db.execute(sql: Schema.inheritFromPredecessor, arguments: [id, stored.id])
            try db.execute(sql: Schema.boundByCreator, arguments: [stored.id])
            try db.execute(
                sql: "UPDATE tokens SET parent_id = ? WHERE parent_id = ? AND id <> ?",
                arguments: [stored.id, id, stored.id])
            try db.execute(sql: Schema.untangleSuccessor, arguments: [id, stored.id])
            try Self.insert(events, into: db)
            return try TokenRow.fetchOne(
                db, sql: "SELECT \(Schema.tokenColumns) FROM tokens WHERE id = ?", arguments: [stored.id])?.token()
                ?? stored
        }
    }

    public func successor(of uuid: UUID) async throws -> (Token, RotationRetry?)? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT \(Schema.tokenColumns), idempotency_key, retry_secret, retry_until_us FROM tokens
                        WHERE rotated_from = ?
                        """, arguments: [uuid.uuidString.lowercased()])
            else { return nil }
            let count = Schema.tokens.count
            let retry: RotationRetry? =
                if let key: String = row[count], let sealed: Data = row[count + 1], let until: Int64 = row[count + 2] {
                    RotationRetry(idempotencyKey: key, sealedSecret: sealed, until: Columns.date(microseconds: until))
                } else { nil }
            return (try TokenRow(row: row).token(), retry)
        }
    }

    public func wipeRotationRetries(endedBefore cutoff: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE tokens SET idempotency_key = NULL, retry_secret = NULL, retry_until_us = NULL
                    WHERE retry_until_us <= ?
                    """, arguments: [Columns.microseconds(cutoff)])
        }
    }

    public func tokenAndOwner(digest: TokenDigest) async throws -> (Token, User)? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: Schema.tokenAndOwner + " WHERE t.digest = ?"), arguments: [digest.bytes],
                    adapter: Self.ownerScope),
                let owner = row.scopes["owner"]
            else { return nil }
            return (try TokenRow(row: row).token(), try UserRow(row: owner).user())
        }
    }

    public func token(uuid: UUID) async throws -> Token? {
        try await read { db in
            try TokenRow.fetchOne(
                db, sql: "SELECT \(Schema.tokenColumns) FROM tokens WHERE uuid = ?",
                arguments: [uuid.uuidString.lowercased()]
            )?.token()
        }
    }

    public func tokens(_ query: TokenQuery) async throws -> [Token] {
        guard Columns.isStorable(query.key ?? "") else { return [] }
        return try await read { db in try Self.tokens(query, db) }
    }

    public func countTokens(_ query: TokenQuery) async throws -> Int {
        guard Columns.isStorable(query.key ?? "") else { return 0 }
        return try await read { db in try Self.countTokens(query, db) }
    }

    public func tokenPage(_ query: TokenQuery) async throws -> TokenPage {
        guard Columns.isStorable(query.key ?? "") else { return TokenPage(tokens: [], total: 0) }
        // One read transaction: one snapshot for both, one hop to a reader and back.
        return try await read { db in
            TokenPage(tokens: try Self.tokens(query, db), total: try Self.countTokens(query, db))
        }
    }

    private static func tokens(_ query: TokenQuery, _ db: Database) throws -> [Token] {
        try tokensRequest(query).fetchAll(db).map { try $0.token() }
    }

    // Bound, so that each shape of query is compiled once and cached.
    private static func tokensRequest(_ query: TokenQuery) -> SQLRequest<TokenRow> {
        SQLRequest<TokenRow>(
            literal: """
                SELECT \(sql: Schema.tokenColumns) FROM tokens WHERE \(conditions: query.conditions)
                ORDER BY id\(sql: query.newestFirst ? " DESC" : "")
                LIMIT \(query.limit.map { max(0, $0) } ?? -1) OFFSET \(max(0, query.offset))
                """, cached: true)
    }

    private static func countTokens(_ query: TokenQuery, _ db: Database) throws -> Int {
        try SQLRequest<Int>(literal: "SELECT COUNT(*) FROM tokens WHERE \(conditions: query.conditions)", cached: true)
            .fetchOne(db) ?? 0
    }

    public func recordUsage(_ usage: [Int64: TokenUsage]) async throws {
        guard !usage.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: Schema.recordUsage)
            for (tokenID, usage) in usage {
                try statement.execute(arguments: [
                    usage.expires.map(Columns.microseconds), usage.lastUsed.map(Columns.microseconds),
                    usage.lastUsedIP, usage.lastUsedAgent, Columns.list(usage.recentIPs), tokenID,
                ])
            }
        }
    }

    /// The tokens matching every one of `conditions` and every token they created, down the `parent_id`
    /// chain, each reported: read first in the same transaction (SQLite's RETURNING leaves
    /// out the rows a foreign key's cascade removes). Parents come first.
    func deleteTokens(where conditions: [Condition], recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    {
        let select: SQLRequest<TokenRow> = """
            \(tokenFamily: conditions)
            SELECT \(sql: Schema.tokenColumns) FROM tokens WHERE id IN (SELECT id FROM family)
            """
        let delete: SQL = """
            \(tokenFamily: conditions)
            DELETE FROM tokens WHERE id IN (SELECT id FROM family)
            """
        return try await pool.write { db in
            let tokens = try select.fetchAll(db).map { try $0.token() }.sorted { $0.id < $1.id }
            guard !tokens.isEmpty else { return [] }
            try db.execute(literal: delete)
            try Self.insert(recording(tokens), into: db)
            return tokens
        }
    }

    public func markExpiryNotices(
        lead: TimeInterval, expiringAfter lower: Date, through upper: Date,
        recording: @escaping @Sendable ([Token]) -> [AuditEvent]
    ) async throws -> [Token] {
        try await pool.write { db in
            let tokens = try TokenRow.fetchAll(
                db, sql: WebhookSchema.markExpiryNotices,
                arguments: [
                    Int64(saturating: (lead * 1_000_000).rounded()), Columns.microseconds(lower),
                    Columns.microseconds(upper),
                ]
            ).map { try $0.token() }
            if !tokens.isEmpty { try Self.insert(recording(tokens), into: db) }
            return tokens
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
        try await read { db in
            try ClientRow.fetchAll(
                db, sql: "SELECT \(Schema.clientColumns) FROM clients WHERE \(condition) ORDER BY id", arguments: values
            ).map { $0.client() }
        }
    }

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await pool.write { db in try Self.insert(events, into: db) }
    }

    /// The events, and the outbox rows of those that webhooks hear of.
    static func insert(_ events: [AuditEvent], into db: Database) throws {
        for event in events {
            if let notification = event.notification {
                try db.cachedStatement(sql: WebhookSchema.insertMessage).execute(arguments: [
                    WebhookSchema.messageID(), event.kind, Columns.microseconds(event.at), event.userID,
                    notification.json,
                ])
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                Columns.microseconds(event.at), event.kind, event.tokenUUID?.uuidString.lowercased(),
                event.userID, event.origin.userID, event.origin.via, event.origin.address, event.detail,
            ])
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        let request: SQLRequest<EventRow> = """
            SELECT \(sql: Schema.eventColumns) FROM events WHERE \(conditions: query.conditions)
            ORDER BY id DESC LIMIT \(max(0, query.limit))
            """
        return try await read { db in try request.fetchAll(db).map { try $0.event() } }
    }

    public func deleteEvents(before cutoff: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM events WHERE at_us < ?", arguments: [Columns.microseconds(cutoff)])
            return db.changesCount
        }
    }

    public func checkHealth() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Another process's commits (the CLI, or a second server on the same file) move the
    /// writer connection's `data_version`; this process's own writes, all on that
    /// connection, do not. Polled four times a second; any move clears what the cache holds.
    public func observeChanges(_ onChange: @escaping @Sendable (StorageChange) -> Void) async throws {
        var seen = try await dataVersion()
        onChange(.anything)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(250))
            let version = try await dataVersion()
            if version != seen { onChange(.anything) }
            seen = version
        }
    }

    /// The writer connection's `data_version`: it moves with every other connection's commit.
    func dataVersion() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }

    /// Reads the owner of `Schema.tokenAndOwner`'s row by the users' own column names.
    private static let ownerScope = ScopeAdapter([
        "owner": ColumnMapping(Dictionary(uniqueKeysWithValues: Schema.users.map { ($0, Schema.ownerPrefix + $0) }))
    ])

    // MARK: Schema inspection

    /// Each of Latchkey's tables with its columns in order, without the migrator's own table.
    func tableColumns() async throws -> [String: [String]] {
        try await read { db in
            let tables = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master
                    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'
                    """)
            return try Dictionary(uniqueKeysWithValues: tables.map { ($0, try db.columns(in: $0).map(\.name)) })
        }
    }

    /// `pool.read`, through GRDB's callback API: its async API also hops through a Swift actor
    /// on each of its two queues, which cost about 45 µs of CPU per read here (`/readyz`,
    /// measured under `wrk`). Reads are short: they are not interrupted when a caller is cancelled.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.asyncRead { database in continuation.resume(with: Result { try body(database.get()) }) }
        }
    }

    /// How SQLite plans to read a page of tokens: one line per step.
    func plan(of query: TokenQuery) async throws -> [String] {
        try await read { db in
            let statement = try Self.tokensRequest(query).makePreparedRequest(db).statement
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments)
                .map { $0["detail"] }
        }
    }
}
