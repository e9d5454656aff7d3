import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// The backend for several Latchkey nodes sharing one PostgreSQL database,
/// through PostgresNIO's `PostgresClient` (which must be running: see `client`).
public final class PostgresStorage: LatchkeyStorage {
    public let location: PostgresLocation
    /// The connection pool; run it (as a service of the application) while the storage is in use.
    public let client: PostgresClient
    private let logger: Logger
    /// Set once the schema is migrated; until then every call answers `StorageUnavailable`.
    private let isPrepared = Mutex(false)

    public init(location: PostgresLocation, logger: Logger) {
        self.location = location
        self.logger = logger
        client = PostgresClient(configuration: location.clientConfiguration, backgroundLogger: logger)
    }

    /// Applies pending migrations. Safe when several nodes start at once: they take
    /// turns under an advisory lock.
    public func prepare() async throws {
        try await location.probe(logger: logger)
        // Migrations may wait for another node's turn, or rewrite a large table: a longer deadline.
        try await withDeadline(Self.migrationDeadline) {
            try await PostgresMigrations.migrate(self.client, logger: self.logger)
        }
        isPrepared.withLock { $0 = true }
    }

    // MARK: Users

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
        try await fetchUsers(
            PostgresQuery(unsafeSQL: "SELECT \(Self.userColumns) FROM users WHERE id = $1", binds: try binds(id))
        )
        .first
    }

    public func user(username: String) async throws -> User? {
        guard Columns.isStorable(username) else { return nil }
        return try await fetchUsers(
            PostgresQuery(
                // The name exactly as stored wins: two accounts from before NFKC folding may share a fold.
                unsafeSQL: """
                    SELECT \(Self.userColumns) FROM users WHERE username = $1 OR username_folded = $2
                    ORDER BY (username = $1) DESC LIMIT 1
                    """, binds: try binds(username, Identifier.folded(username)))
        ).first
    }

    public func user(login: String) async throws -> User? {
        guard Columns.isStorable(login) else { return nil }
        // A username wins over another account's email that happens to be spelled the same.
        return try await fetchUsers(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.userColumns) FROM users
                    WHERE username = $3 OR username_folded = $1 OR email_folded = $2
                    ORDER BY (username = $3) DESC, (username_folded = $1) DESC LIMIT 1
                    """, binds: try binds(Identifier.folded(login), Identifier.foldedEmail(login), login))
        ).first
    }

    public func users() async throws -> [User] {
        try await fetchUsers(PostgresQuery(unsafeSQL: "SELECT \(Self.userColumns) FROM users ORDER BY id"))
    }

    public func userCount() async throws -> Int {
        try await run { [self] in
            var count: Int64 = 0
            for try await (value) in try await client.query("SELECT COUNT(*) FROM users", logger: logger)
                .decode(Int64.self)
            { count = value }
            return Int(count)
        }
    }

    public func user(email: String) async throws -> User? {
        guard Columns.isStorable(email) else { return nil }
        return try await fetchUsers(
            PostgresQuery(
                unsafeSQL: "SELECT \(Self.userColumns) FROM users WHERE email_folded = $1",
                binds: try binds(Identifier.foldedEmail(email)))
        ).first
    }

    public func usernameCount(withPrefix prefix: String) async throws -> Int {
        guard Columns.isStorable(prefix) else { return 0 }
        let pattern = Columns.likePattern(prefix: Identifier.folded(prefix))
        return try await run { [self] in
            var count: Int64 = 0
            let rows = try await client.query(
                "SELECT COUNT(*) FROM users WHERE username_folded LIKE \(pattern) ESCAPE '\\'", logger: logger)
            for try await (value) in rows.decode(Int64.self) { count = value }
            return Int(count)
        }
    }

    public func linkedUser(provider: String, subject: String) async throws -> User? {
        guard Columns.isStorable(provider, subject) else { return nil }
        return try await fetchUsers(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.userColumnNames.map { "u." + $0 }.joined(separator: ", "))
                    FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2
                    """, binds: try binds(provider, subject))
        ).first
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

    private func fetchUsers(_ query: PostgresQuery) async throws -> [User] {
        try await run { [self] in
            var users: [User] = []
            for try await row in try await client.query(query, logger: logger) {
                var reader = ColumnReader(row)
                users.append(try reader.user())
            }
            return users
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: NewToken, maxLivePerOwner: Int?) async throws -> Token {
        try await run { [self] in
            try await inTransaction { transaction in
                if let maxLivePerOwner {
                    // The owner's row lock makes concurrent creations on every node take turns.
                    try await transaction.query(
                        "SELECT 1 FROM users WHERE id = \(token.ownerID) FOR UPDATE", logger: logger)
                    var live: Int64 = 0
                    for try await (count) in try await transaction.query(
                        """
                        SELECT COUNT(*) FROM tokens WHERE user_id = \(token.ownerID)
                        AND (expires_us IS NULL OR expires_us > \(Columns.microseconds(token.created)))
                        """, logger: logger
                    ).decode(Int64.self) {
                        live = count
                    }
                    guard live < maxLivePerOwner else { throw StorageError.tokenLimitReached }
                }
                return try await insert(token, on: transaction)
            }
        }
    }

    private func insert(_ token: NewToken, on connection: PostgresConnection) async throws -> Token {
        let rows = try await connection.query(
            """
            INSERT INTO tokens (uuid, key, user_id, title, kind, scopes, created_us, expires_us,
                                sliding_lifetime_s, digest, sealed_secret, parent_id)
            VALUES (\(token.uuid), \(token.key), \(token.ownerID), \(token.title), \(token.kind.rawValue),
                    \(Columns.scopes(token.scopes)), \(Columns.microseconds(token.created)),
                    \(token.expires.map(Columns.microseconds)), \(token.slidingLifetime.map { Int64($0) }),
                    \(token.digest.bytes), \(token.sealedSecret), \(token.parentID))
            RETURNING id
            """, logger: logger)
        var id: Int64 = 0
        for try await (value) in rows.decode(Int64.self) { id = value }
        return token.stored(id: id)
    }

    public func tokenAndOwner(digest: TokenDigest) async throws -> (Token, User)? {
        try await run { [self] in
            var found: (Token, User)?
            for try await pair in try await client.execute(TokenAndOwnerByDigest(digest: digest.bytes), logger: logger)
            {
                found = pair
            }
            return found
        }
    }

    public func token(uuid: UUID) async throws -> Token? {
        try await fetchTokens(
            PostgresQuery(
                unsafeSQL: "SELECT \(Self.tokenColumns("")) FROM tokens WHERE uuid = $1", binds: try binds(uuid))
        ).first
    }

    public func tokens(_ query: TokenQuery) async throws -> [Token] {
        guard Columns.isStorable(query.key ?? "") else { return [] }
        var (sql, bindings) = Self.filter(query)
        sql = "SELECT \(Self.tokenColumns("")) FROM tokens WHERE \(sql) ORDER BY id"
        if let limit = query.limit { sql += " LIMIT \(max(0, limit))" }
        if query.offset > 0 { sql += " OFFSET \(query.offset)" }
        return try await fetchTokens(PostgresQuery(unsafeSQL: sql, binds: bindings))
    }

    public func countTokens(_ query: TokenQuery) async throws -> Int {
        guard Columns.isStorable(query.key ?? "") else { return 0 }
        let (condition, bindings) = Self.filter(query)
        return try await run { [self] in
            var count: Int64 = 0
            let rows = try await client.query(
                PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM tokens WHERE \(condition)", binds: bindings),
                logger: logger)
            for try await (value) in rows.decode(Int64.self) { count = value }
            return Int(count)
        }
    }

    public func recordUsage(tokenID: Int64, _ usage: TokenUsage) async throws {
        guard !usage.isEmpty else { return }
        try await run { [self] in
            for try await _ in try await client.execute(
                RecordUsage(
                    tokenID: tokenID, expires: usage.expires.map(Columns.microseconds),
                    lastUsed: usage.lastUsed.map(Columns.microseconds), lastUsedIP: usage.lastUsedIP),
                logger: logger)
            {}
        }
    }

    public func deleteToken(id: Int64) async throws -> [Token] {
        try await deleteTokens(where: "id = $1", try binds(id))
    }

    public func deleteTokens(expiredBefore cutoff: Date) async throws -> [Token] {
        try await deleteTokens(where: "expires_us < $1", try binds(Columns.microseconds(cutoff)))
    }

    public func deleteTokens(ownerID: Int64) async throws -> [Token] {
        try await deleteTokens(where: "user_id = $1", try binds(ownerID))
    }

    /// The tokens matching `condition` and every token they created, each reported (see
    /// `Columns.tokenFamily`); parents first.
    private func deleteTokens(where condition: String, _ bindings: PostgresBindings) async throws -> [Token] {
        try await fetchTokens(
            PostgresQuery(
                unsafeSQL: Columns.tokenFamily(matching: condition)
                    + " DELETE FROM tokens WHERE id IN (SELECT id FROM family) RETURNING \(Self.tokenColumns(""))",
                binds: bindings)
        ).sorted { $0.id < $1.id }
    }

    // MARK: Service clients and events

    public func insertClient(_ serviceClient: ServiceClient) async throws -> ServiceClient {
        try await run { [self] in
            var stored = serviceClient
            let rows = try await client.query(
                """
                INSERT INTO clients (client_id, name, secret_digest, created_us)
                VALUES (\(stored.clientID), \(stored.name), \(stored.secretDigest.bytes),
                        \(Columns.microseconds(stored.created)))
                RETURNING id
                """, logger: logger)
            for try await (id) in rows.decode(Int64.self) { stored.id = id }
            return stored
        }
    }

    public func client(clientID: String) async throws -> ServiceClient? {
        guard Columns.isStorable(clientID) else { return nil }
        return try await fetchClients(
            PostgresQuery(
                unsafeSQL: "SELECT id, client_id, name, secret_digest, created_us FROM clients WHERE client_id = $1",
                binds: try binds(clientID))
        ).first
    }

    public func clients() async throws -> [ServiceClient] {
        try await fetchClients(
            PostgresQuery(unsafeSQL: "SELECT id, client_id, name, secret_digest, created_us FROM clients ORDER BY id"))
    }

    public func deleteClient(clientID: String) async throws -> Bool {
        guard Columns.isStorable(clientID) else { return false }
        return try await run { [self] in
            var deleted = false
            for try await _ in try await client.query(
                "DELETE FROM clients WHERE client_id = \(clientID) RETURNING id", logger: logger)
            {
                deleted = true
            }
            return deleted
        }
    }

    private func fetchClients(_ query: PostgresQuery) async throws -> [ServiceClient] {
        try await run { [self] in
            var clients: [ServiceClient] = []
            for try await (id, clientID, name, digest, created) in try await client.query(query, logger: logger)
                .decode((Int64, String, String, Data, Int64).self)
            {
                clients.append(
                    ServiceClient(
                        id: id, clientID: clientID, name: name, secretDigest: TokenDigest(bytes: digest),
                        created: Columns.date(microseconds: created)))
            }
            return clients
        }
    }

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await run { [self] in
            try await inTransaction { transaction in
                for event in events {
                    try await transaction.query(
                        """
                        INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                        VALUES (\(Columns.microseconds(event.at)), \(event.kind), \(event.tokenUUID), \(event.userID),
                                \(event.origin.userID), \(event.origin.via), \(event.origin.address), \(event.detail))
                        """, logger: logger)
                }
            }
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        var conditions = ["TRUE"]
        var bindings = PostgresBindings()
        if let userID = query.userID {
            bindings.append(userID)
            conditions.append("user_id = $\(bindings.count)")
        }
        if let since = query.since {
            bindings.append(Columns.microseconds(since))
            conditions.append("at_us >= $\(bindings.count)")
        }
        bindings.append(Int64(max(0, query.limit)))
        let sql = """
            SELECT id, at_us, kind, token_uuid, user_id, actor_id, via, address, detail FROM events
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT $\(bindings.count)
            """
        return try await run { [self, bindings] in
            var events: [AuditEvent] = []
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            for try await (id, at, kind, uuid, userID, actorID, via, address, detail) in rows.decode(
                (Int64, Int64, String, UUID?, Int64?, Int64?, String, String?, String).self)
            {
                events.append(
                    AuditEvent(
                        id: id, at: Columns.date(microseconds: at), kind: kind, userID: userID, tokenUUID: uuid,
                        origin: Origin(userID: actorID, via: via, address: address), detail: detail))
            }
            return events
        }
    }

    public func deleteEvents(before cutoff: Date) async throws -> Int {
        try await run { [self] in
            var count = 0
            for try await _ in try await client.query(
                "DELETE FROM events WHERE at_us < \(Columns.microseconds(cutoff)) RETURNING id", logger: logger)
            {
                count += 1
            }
            return count
        }
    }

    public func checkHealth() async throws {
        try await run { [self] in
            for try await _ in try await client.query("SELECT 1", logger: logger) {}
        }
    }

    // MARK: Plumbing

    /// How long a call may wait for the database (a connection, then its answer).
    static let callDeadline = Duration.seconds(5)
    static let migrationDeadline = Duration.seconds(120)

    /// Runs a call once the schema is ready, turning lost connections and calls
    /// that cannot get a connection in time into `StorageUnavailable`.
    private func run<T: Sendable>(_ body: @Sendable @escaping () async throws -> T) async throws -> T {
        guard isPrepared.withLock({ $0 }) else {
            throw StorageUnavailable(reason: "the schema of \(location) is not ready yet")
        }
        return try await withDeadline(Self.callDeadline, body)
    }

    private func withDeadline<T: Sendable>(
        _ deadline: Duration, _ body: @Sendable @escaping () async throws -> T
    ) async throws -> T {
        let location = self.location
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask {
                do {
                    return try await body()
                } catch let error as PSQLError where Self.isConnectivity(error) {
                    throw StorageUnavailable(reason: "\(location): \(location.explain(error))")
                }
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                throw StorageUnavailable(reason: "\(location): no answer within \(deadline)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Errors of reaching the server, as opposed to errors in a statement.
    static func isConnectivity(_ error: PSQLError) -> Bool {
        guard error.code == .server else { return true }
        let state = error.serverInfo?[.sqlState] ?? ""
        // 08: connection exception; 57P: operator intervention (shutdown); 28: authentication; 3D000: no such database.
        return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("28") || state == "3D000"
    }

    /// One transaction on one connection; its errors come out as they were thrown (not wrapped
    /// in `PostgresTransactionError`), so that lost connections still read as `StorageUnavailable`.
    private func inTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> sending T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error
        }
    }

    private func fetchTokens(_ query: PostgresQuery) async throws -> [Token] {
        try await run { [self] in
            var tokens: [Token] = []
            for try await row in try await client.query(query, logger: logger) {
                var reader = ColumnReader(row)
                tokens.append(try reader.token())
            }
            return tokens
        }
    }

    private func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { try bindings.append(value) }
        return bindings
    }

    static let userColumnNames = [
        "id", "username", "email", "first_name", "last_name", "password_hash", "is_active", "is_admin", "created_us",
    ]
    static let tokenColumnNames = [
        "id", "uuid", "key", "user_id", "title", "kind", "scopes", "created_us", "expires_us", "sliding_lifetime_s",
        "last_used_us", "last_used_ip", "digest", "sealed_secret",
    ]
    static let userColumns = userColumnNames.joined(separator: ", ")

    static func tokenColumns(_ prefix: String) -> String {
        tokenColumnNames.map { prefix + $0 }.joined(separator: ", ")
    }

    private static func filter(_ query: TokenQuery) -> (String, PostgresBindings) {
        var conditions = ["TRUE"]
        var bindings = PostgresBindings()
        func add(_ condition: String, _ value: some PostgresNonThrowingEncodable) {
            bindings.append(value)
            conditions.append(condition.replacingOccurrences(of: "?", with: "$\(bindings.count)"))
        }
        if let ownerID = query.ownerID { add("user_id = ?", ownerID) }
        if let kind = query.kind { add("kind = ?", kind.rawValue) }
        if let key = query.key { add("key = ?", key) }
        if let after = query.expiringAfter { add("expires_us > ?", Columns.microseconds(after)) }
        if let until = query.expiringUntil { add("expires_us <= ?", Columns.microseconds(until)) }
        return (conditions.joined(separator: " AND "), bindings)
    }
}

/// The hot path of every authenticated request, prepared once per connection.
struct TokenAndOwnerByDigest: PostgresPreparedStatement {
    static let sql = """
        SELECT \(PostgresStorage.tokenColumns("t.")), \(PostgresStorage.userColumnNames.map { "u." + $0 }.joined(separator: ", "))
        FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = $1
        """
    static let bindingDataTypes: [PostgresDataType] = [.bytea]
    typealias Row = (Token, User)

    var digest: Data

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(digest)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        var reader = ColumnReader(row)
        return (try reader.token(), try reader.user())
    }
}

/// Moves a token's expiry and last use; a NULL leaves that column as it is.
struct RecordUsage: PostgresPreparedStatement {
    static let sql = """
        UPDATE tokens SET expires_us = COALESCE($1, expires_us),
                          last_used_us = COALESCE($2, last_used_us),
                          last_used_ip = CASE WHEN $2 IS NULL THEN last_used_ip ELSE $3 END
        WHERE id = $4
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8, .int8, .text, .int8]
    typealias Row = Void

    var tokenID: Int64
    var expires: Int64?
    var lastUsed: Int64?
    var lastUsedIP: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(expires)
        bindings.append(lastUsed)
        bindings.append(lastUsedIP)
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}

/// Reads a row's columns in order, as `userColumnNames` and `tokenColumnNames` list them.
struct ColumnReader {
    private let row: PostgresRandomAccessRow
    private var index = 0

    init(_ row: PostgresRow) {
        self.row = row.makeRandomAccess()
    }

    private mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        defer { index += 1 }
        return try row[index].decode(T.self)
    }

    mutating func user() throws -> User {
        User(
            id: try next(), username: try next(), email: try next(), firstName: try next(), lastName: try next(),
            passwordHash: try next(), isActive: try next(), isAdmin: try next(),
            created: Columns.date(microseconds: try next()))
    }

    mutating func token() throws -> Token {
        let id: Int64 = try next()
        let uuid: UUID = try next()
        let key: String = try next()
        let ownerID: Int64 = try next()
        let title: String? = try next()
        let kindText: String = try next()
        guard let kind = TokenKind(rawValue: kindText) else {
            throw StorageUnavailable(reason: "token \(id) has an unknown kind '\(kindText)'")
        }
        let scopes: String = try next()
        let created: Int64 = try next()
        let expires: Int64? = try next()
        let sliding: Int64? = try next()
        let lastUsed: Int64? = try next()
        let lastUsedIP: String? = try next()
        let digest: Data = try next()
        let sealed: Data? = try next()
        return Token(
            id: id, uuid: uuid, key: key, ownerID: ownerID, title: title, kind: kind, scopes: Columns.scopes(scopes),
            created: Columns.date(microseconds: created), expires: expires.map(Columns.date(microseconds:)),
            slidingLifetime: sliding.map(TimeInterval.init), lastUsed: lastUsed.map(Columns.date(microseconds:)),
            lastUsedIP: lastUsedIP, digest: TokenDigest(bytes: digest), sealedSecret: sealed)
    }
}
