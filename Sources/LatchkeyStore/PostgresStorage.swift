import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// The backend for several Latchkey nodes sharing one PostgreSQL database,
/// through PostgresNIO's `PostgresClient` (which must be running: see `client`).
public final class PostgresStorage: BackendStorage {
    public let location: PostgresLocation
    /// The connection pool; run it (as a service of the application) while the storage is in use.
    public let client: PostgresClient
    let logger: Logger
    /// Set once the schema is migrated; until then every call answers `StorageUnavailable`.
    private let isPrepared = Mutex(false)
    /// Calls under way, counting those whose callers were answered at their deadline but that
    /// still wait for a connection or an answer: bounded, so that an unreachable database
    /// does not pile them up at the rate requests arrive.
    private let callsUnderWay = Atomic<Int>(0)
    static let maximumCallsUnderWay = 1_000

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

    // MARK: Tokens

    public func insertToken(_ token: NewToken, maxLivePerOwner: Int?, recording events: [AuditEvent]) async throws
        -> Token
    {
        try await run { [self] in
            try await inTransaction { transaction in
                if let parentID = token.parentID {
                    guard try await lockCreator(parentID, on: transaction) else { throw StorageError.creatorRetired }
                }
                if let maxLivePerOwner {
                    // The owner's row lock makes concurrent creations on every node take turns.
                    // Counting stops at the limit: a creation costs no more for an owner of many tokens.
                    try await transaction.query(
                        "SELECT 1 FROM users WHERE id = \(token.ownerID) FOR UPDATE", logger: logger)
                    var live: Int64 = 0
                    for try await (count) in try await transaction.query(
                        """
                        SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE user_id = \(token.ownerID)
                        AND (expires_us IS NULL OR expires_us > \(Columns.microseconds(token.created)))
                        AND (retired_us IS NULL OR retired_us > \(Columns.microseconds(token.created)))
                        LIMIT \(Int64(maxLivePerOwner))) AS live
                        """, logger: logger
                    ).decode(Int64.self) {
                        live = count
                    }
                    guard live < maxLivePerOwner else { throw StorageError.tokenLimitReached }
                }
                let stored = try await insert(token, on: transaction)
                try await insert(events, on: transaction)
                return stored
            }
        }
    }

    /// Locks the token a new token will hang from until the transaction ends, and answers
    /// whether it may still hand on rights (`Schema.creatorIsLive`). A rotation of it then waits
    /// for this transaction, and re-parents what it made, or committed first and is seen here.
    /// Taken before any other lock of the transaction: creations and rotations lock in one order.
    private func lockCreator(_ id: Int64, on connection: PostgresConnection) async throws -> Bool {
        var isLive = false
        for try await (live) in try await connection.query(
            PostgresQuery(unsafeSQL: Schema.creatorIsLive + " FOR SHARE", binds: Self.binds(id)), logger: logger
        ).decode(Bool.self) {
            isLive = live
        }
        return isLive
    }

    private func insert(_ token: NewToken, on connection: PostgresConnection) async throws -> Token {
        let lifecycle = token.lifecycle
        let rows = try await connection.query(
            """
            INSERT INTO tokens (\(unescaped: Schema.insertedTokenColumns.joined(separator: ", ")))
            VALUES (\(token.uuid), \(token.key), \(token.ownerID), \(token.title), \(token.kind.rawValue),
                    \(Columns.scopes(token.scopes)), \(Columns.microseconds(token.created)),
                    \(token.expires.map(Columns.microseconds)), \(token.slidingLifetime.map { Int64($0) }),
                    \(token.digest.bytes), \(token.sealedSecret), \(token.parentID),
                    \(lifecycle.maxUses.map { Int64($0) }), \(lifecycle.usesRemaining.map { Int64($0) }),
                    \(Columns.networks(lifecycle.allowedIPs)), \(lifecycle.metadata), \(lifecycle.rotatedFrom),
                    \(token.retry?.idempotencyKey), \(token.retry?.sealedSecret),
                    \(token.retry.map { Columns.microseconds($0.until) }))
            RETURNING id
            """, logger: logger)
        var id: Int64 = 0
        for try await (value) in rows.decode(Int64.self) { id = value }
        return token.stored(id: id)
    }

    public func consumeUse(tokenID: Int64) async throws -> Int? {
        try await run { [self] in
            var remaining: Int64?
            for try await (value) in try await client.execute(ConsumeUse(tokenID: tokenID), logger: logger) {
                remaining = value
            }
            return remaining.map { Int($0) }
        }
    }

    public func updateToken(id: Int64, _ change: TokenChange, recording events: [AuditEvent]) async throws -> Token? {
        var bindings = PostgresBindings()
        bindings.append(change.title != nil)
        bindings.append(change.title ?? nil)
        bindings.append(change.metadata != nil)
        bindings.append(change.metadata ?? nil)
        bindings.append(change.allowedIPs.map(Columns.networks))
        bindings.append(change.scopes.map(Columns.scopes))
        bindings.append(id)
        return try await run { [self, bindings] in
            try await inTransaction { transaction in
                var token: Token?
                for try await row in try await transaction.query(
                    PostgresQuery(unsafeSQL: Schema.updateToken, binds: bindings), logger: logger)
                {
                    token = try TokenRow(from: PostgresRowDecoder(row)).token()
                }
                guard let token else { return nil }
                try await insert(events, on: transaction)
                return token
            }
        }
    }

    public func rotateToken(id: Int64, retires: Date, successor: NewToken, recording events: [AuditEvent])
        async throws -> Token
    {
        try await run { [self] in
            try await inTransaction { transaction in
                if let rotator = successor.parentID {
                    guard try await lockCreator(rotator, on: transaction) else { throw StorageError.creatorRetired }
                }
                // The old token's creator, which the successor inherits: locked too, so that a
                // rotation of it meanwhile re-parents the successor with the rest of its family.
                for try await (creator) in try await transaction.query(
                    "SELECT parent_id FROM tokens WHERE id = \(id) AND parent_id IS NOT NULL", logger: logger
                ).decode(Int64.self) {
                    _ = try await lockCreator(creator, on: transaction)
                }
                var retired = false
                for try await _ in try await transaction.query(
                    """
                    UPDATE tokens SET retired_us = \(Columns.microseconds(retires))
                    WHERE id = \(id) AND retired_us IS NULL RETURNING id
                    """, logger: logger)
                {
                    retired = true
                }
                guard retired else { throw StorageError.alreadyRotated }
                let stored = try await insert(successor, on: transaction)
                // It takes the old one's creator and uses left; the old one's tokens go with it.
                try await transaction.query(
                    PostgresQuery(
                        unsafeSQL: Schema.inheritFromPredecessor, binds: Self.binds(id, stored.id)),
                    logger: logger)
                try await transaction.query(
                    PostgresQuery(unsafeSQL: Schema.boundByCreator, binds: Self.binds(stored.id)), logger: logger)
                try await transaction.query(
                    "UPDATE tokens SET parent_id = \(stored.id) WHERE parent_id = \(id) AND id <> \(stored.id)",
                    logger: logger)
                try await transaction.query(
                    PostgresQuery(unsafeSQL: Schema.untangleSuccessor, binds: Self.binds(id, stored.id)), logger: logger
                )
                var successor = stored
                for try await row in try await transaction.query(
                    "SELECT \(unescaped: Schema.tokenColumns) FROM tokens WHERE id = \(stored.id)", logger: logger)
                {
                    successor = try TokenRow(from: PostgresRowDecoder(row)).token()
                }
                try await insert(events, on: transaction)
                return successor
            }
        }
    }

    public func successor(of uuid: UUID) async throws -> (Token, RotationRetry?)? {
        try await run { [self] in
            var found: (Token, RotationRetry?)?
            for try await row in try await client.query(
                """
                SELECT \(unescaped: Schema.tokenColumns), idempotency_key, retry_secret, retry_until_us FROM tokens
                WHERE rotated_from = \(uuid)
                """, logger: logger)
            {
                let cells = row.makeRandomAccess()
                let key = try cells["idempotency_key"].decode(String?.self)
                let sealed = try cells["retry_secret"].decode(Data?.self)
                let until = try cells["retry_until_us"].decode(Int64?.self)
                let retry: RotationRetry? =
                    if let key, let sealed, let until {
                        RotationRetry(
                            idempotencyKey: key, sealedSecret: sealed,
                            until: Columns.date(microseconds: until))
                    } else { nil }
                found = (try TokenRow(from: PostgresRowDecoder(cells)).token(), retry)
            }
            return found
        }
    }

    public func wipeRotationRetries(endedBefore cutoff: Date) async throws {
        try await run { [self] in
            try await client.query(
                """
                UPDATE tokens SET idempotency_key = NULL, retry_secret = NULL, retry_until_us = NULL
                WHERE retry_until_us <= \(Columns.microseconds(cutoff))
                """, logger: logger)
        }
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
        try await fetch(TokenRow.self, "SELECT \(unescaped: Schema.tokenColumns) FROM tokens WHERE uuid = \(uuid)")
            .first?.token()
    }

    public func tokens(_ query: TokenQuery) async throws -> [Token] {
        guard Columns.isStorable(query.key ?? "") else { return [] }
        var page = ""
        if let limit = query.limit { page += " LIMIT \(max(0, limit))" }
        if query.offset > 0 { page += " OFFSET \(query.offset)" }
        return try await fetch(
            TokenRow.self,
            """
            SELECT \(unescaped: Schema.tokenColumns) FROM tokens WHERE \(conditions: query.conditions)
            ORDER BY id\(unescaped: query.newestFirst ? " DESC" : "")\(unescaped: page)
            """
        ).map { try $0.token() }
    }

    public func countTokens(_ query: TokenQuery) async throws -> Int {
        guard Columns.isStorable(query.key ?? "") else { return 0 }
        return try await count("SELECT COUNT(*) FROM tokens WHERE \(conditions: query.conditions)")
    }

    /// Two statements, one after the other: a page past the end has no row to carry a window
    /// function's total. A token created between them can make the total one more than the
    /// page shows, as two requests would.
    public func tokenPage(_ query: TokenQuery) async throws -> TokenPage {
        let total = try await countTokens(query)
        return TokenPage(tokens: try await tokens(query), total: total)
    }

    /// In chunks of `usageChunk`, each its own transaction within the call deadline, in id
    /// order (two nodes flushing at once take row locks in the same order: no deadlock).
    public func recordUsage(_ usage: [Int64: TokenUsage]) async throws {
        let ordered = usage.sorted { $0.key < $1.key }
        for start in stride(from: 0, to: ordered.count, by: Self.usageChunk) {
            let chunk = ordered[start..<min(start + Self.usageChunk, ordered.count)]
            try await run { [self] in
                try await inTransaction { transaction in
                    for (tokenID, usage) in chunk {
                        for try await _ in try await transaction.execute(
                            RecordUsage(
                                tokenID: tokenID, expires: usage.expires.map(Columns.microseconds),
                                lastUsed: usage.lastUsed.map(Columns.microseconds), lastUsedIP: usage.lastUsedIP,
                                lastUsedAgent: usage.lastUsedAgent, recentIPs: Columns.list(usage.recentIPs)),
                            logger: logger)
                        {}
                    }
                }
            }
        }
    }

    static let usageChunk = 500

    static func binds(_ values: Int64...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }

    /// The tokens matching every one of `conditions` and every token they created, each reported (see
    /// `SQLWriter.appendInterpolation(tokenFamily:)`); parents first. Other nodes hear of the
    /// deletion when it commits (migration 7's trigger, `observeChanges`).
    func deleteTokens(where conditions: [Condition], recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    {
        try await run { [self] in
            try await inTransaction { transaction in
                var tokens: [Token] = []
                for try await row in try await transaction.query(
                    """
                    \(tokenFamily: conditions)
                    DELETE FROM tokens WHERE id IN (SELECT id FROM family) RETURNING \(unescaped: Schema.tokenColumns)
                    """, logger: logger)
                {
                    tokens.append(try TokenRow(from: PostgresRowDecoder(row)).token())
                }
                tokens.sort { $0.id < $1.id }
                if !tokens.isEmpty { try await insert(recording(tokens), on: transaction) }
                return tokens
            }
        }
    }

    public func markExpiryNotices(
        lead: TimeInterval, expiringAfter lower: Date, through upper: Date,
        recording: @escaping @Sendable ([Token]) -> [AuditEvent]
    ) async throws -> [Token] {
        var bindings = PostgresBindings()
        bindings.append(Int64(saturating: (lead * 1_000_000).rounded()))
        bindings.append(Columns.microseconds(lower))
        bindings.append(Columns.microseconds(upper))
        return try await run { [self, bindings] in
            try await inTransaction { transaction in
                var tokens: [Token] = []
                for try await row in try await transaction.query(
                    PostgresQuery(unsafeSQL: WebhookSchema.markExpiryNotices, binds: bindings), logger: logger)
                {
                    tokens.append(try TokenRow(from: PostgresRowDecoder(row)).token())
                }
                if !tokens.isEmpty { try await insert(recording(tokens), on: transaction) }
                return tokens
            }
        }
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
        return try await fetch(
            ClientRow.self, "SELECT \(unescaped: Schema.clientColumns) FROM clients WHERE client_id = \(clientID)"
        ).first?.client()
    }

    public func clients() async throws -> [ServiceClient] {
        try await fetch(ClientRow.self, "SELECT \(unescaped: Schema.clientColumns) FROM clients ORDER BY id")
            .map { $0.client() }
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

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await run { [self] in
            try await inTransaction { transaction in try await insert(events, on: transaction) }
        }
    }

    /// The events, and the outbox rows of those that webhooks hear of.
    func insert(_ events: [AuditEvent], on connection: PostgresConnection) async throws {
        for event in events {
            if let notification = event.notification {
                var bindings = PostgresBindings()
                bindings.append(WebhookSchema.messageID())
                bindings.append(event.kind)
                bindings.append(Columns.microseconds(event.at))
                bindings.append(event.userID)
                bindings.append(notification.json)
                try await connection.query(
                    PostgresQuery(unsafeSQL: WebhookSchema.insertMessage, binds: bindings), logger: logger)
            }
            try await connection.query(
                """
                INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                VALUES (\(Columns.microseconds(event.at)), \(event.kind), \(event.tokenUUID), \(event.userID),
                        \(event.origin.userID), \(event.origin.via), \(event.origin.address), \(event.detail))
                """, logger: logger)
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await fetch(
            EventRow.self,
            """
            SELECT \(unescaped: Schema.eventColumns) FROM events WHERE \(conditions: query.conditions)
            ORDER BY id DESC LIMIT \(Int64(max(0, query.limit)))
            """
        ).map { try $0.event() }
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

    // MARK: Changes

    /// The `application_name` of this storage's listening connection.
    let listenerName = "latchkey changes " + UUID().uuidString.prefix(8).lowercased()

    /// How often the listener sends itself a heartbeat; how long it may go without hearing one
    /// before it gives its connection up, checked every `heartbeatCheck`: a connection that went
    /// deaf is found within 9 s (the README's "within 10 s", with a second to spare).
    static let heartbeatInterval = Duration.seconds(3)
    static let heartbeatTimeout = Duration.seconds(8)
    static let heartbeatCheck = Duration.seconds(1)

    /// Listens on a connection of its own; returns or throws when that connection is lost.
    /// A connection can also die silently (a NAT's idle timeout, a pooler that drops LISTEN):
    /// every `heartbeatInterval` a notification is sent through the pool, and a listener that
    /// has not heard its own for `heartbeatTimeout` closes its connection.
    public func observeChanges(_ onChange: @escaping @Sendable (StorageChange) -> Void) async throws {
        try await location.withConnection(logger: logger, name: listenerName) { [self] connection in
            try await connection.listen(on: ChangeNotification.channel) { notifications in
                try await connection.listen(on: ChangeNotification.newTokensChannel) { newTokens in
                    try await follow(notifications, newTokens, on: connection, onChange)
                }
            }
        }
    }

    private func follow(
        _ notifications: PostgresNotificationSequence, _ newTokens: PostgresNotificationSequence,
        on connection: PostgresConnection, _ onChange: @escaping @Sendable (StorageChange) -> Void
    ) async throws {
        // Commands run in order: once this answers, LISTEN is in force on both channels.
        var current = ""
        for try await (name) in try await connection.query("SELECT current_schema()", logger: logger)
            .decode(String.self)
        {
            current = name
        }
        let schema = current
        let heartbeat = ChangeNotification.heartbeat(of: listenerName, in: schema)
        let heard = LastHeard()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Sent from a task of its own: a send may wait out a call's deadline on a silent pool.
            group.addTask { [self] in
                while true {
                    try await Task.sleep(for: Self.heartbeatInterval)
                    _ = try? await run { [self] in
                        try await client.query(
                            "SELECT pg_notify(\(ChangeNotification.channel), \(heartbeat))", logger: logger)
                    }
                }
            }
            // Checked every second, not every heartbeat: found one check after the timeout at most.
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.heartbeatCheck)
                    if ContinuousClock.now - heard.instant.withLock({ $0 }) > Self.heartbeatTimeout {
                        try await connection.close()
                        return
                    }
                }
            }
            group.addTask {
                for try await notification in newTokens {
                    if let change = ChangeNotification.change(from: notification.payload, in: schema) {
                        onChange(change)
                    }
                }
            }
            onChange(.anything)
            for try await notification in notifications {
                if notification.payload == heartbeat {
                    heard.instant.withLock { $0 = ContinuousClock.now }
                } else if let change = ChangeNotification.change(from: notification.payload, in: schema) {
                    onChange(change)
                }
            }
            group.cancelAll()
        }
    }

    // MARK: Plumbing

    /// How long a call may wait for the database (a connection, then its answer). Under the
    /// README's "503 within 5 s": the answer still has to be made and sent after it.
    static let callDeadline = Duration.milliseconds(4_500)
    static let migrationDeadline = Duration.seconds(120)

    /// Runs a call once the schema is ready, turning lost connections and calls
    /// that cannot get a connection in time into `StorageUnavailable`.
    @discardableResult
    func run<T: Sendable>(_ body: @Sendable @escaping () async throws -> T) async throws -> T {
        guard isPrepared.withLock({ $0 }) else {
            throw StorageUnavailable(reason: "the schema of \(location) is not ready yet")
        }
        return try await withDeadline(Self.callDeadline, body)
    }

    private func withDeadline<T: Sendable>(
        _ deadline: Duration, _ body: @Sendable @escaping () async throws -> T
    ) async throws -> T {
        let location = self.location
        return try await answer(
            within: deadline, orThrow: StorageUnavailable(reason: "\(location): no answer within \(deadline)")
        ) { [self] in
            defer { callsUnderWay.subtract(1, ordering: .relaxed) }
            guard callsUnderWay.add(1, ordering: .relaxed).newValue <= Self.maximumCallsUnderWay else {
                throw StorageUnavailable(reason: "\(location): \(Self.maximumCallsUnderWay) calls are already waiting")
            }
            do {
                do {
                    return try await body()
                } catch let error as PSQLError where Self.isLockConflict(error) {
                    // Nothing of it was written: once more. (Two transactions took row locks in
                    // turn, such as a flush of last uses and a rotation by one of those tokens.)
                    return try await body()
                }
            } catch let error as PSQLError where Self.isConnectivity(error) || Self.isLockConflict(error) {
                throw StorageUnavailable(reason: "\(location): \(location.explain(error))")
            }
        }
    }

    /// Errors of reaching the server, as opposed to errors in a statement.
    static func isConnectivity(_ error: PSQLError) -> Bool {
        guard error.code == .server else { return true }
        let state = error.serverInfo?[.sqlState] ?? ""
        // 08: connection exception; 57P: operator intervention (shutdown); 28: authentication; 3D000: no such database.
        return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("28") || state == "3D000"
    }

    /// PostgreSQL ended the transaction to break a deadlock (40P01) or a serialization conflict
    /// (40001): it wrote nothing, and the same call may succeed at once.
    static func isLockConflict(_ error: PSQLError) -> Bool {
        let state = error.serverInfo?[.sqlState] ?? ""
        return error.code == .server && (state == "40P01" || state == "40001")
    }

    /// One transaction on one connection; its errors come out as they were thrown (not wrapped
    /// in `PostgresTransactionError`), so that lost connections still read as `StorageUnavailable`.
    func inTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> sending T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error
        }
    }

    /// Runs `query` and reads each row into a `Record` by column name.
    func fetch<Record: Decodable & Sendable>(_: Record.Type, _ query: PostgresQuery) async throws -> [Record] {
        try await run { [self] in
            var records: [Record] = []
            for try await row in try await client.query(query, logger: logger) {
                records.append(try Record(from: PostgresRowDecoder(row)))
            }
            return records
        }
    }

    /// The single number a `SELECT COUNT(*)` answers.
    private func count(_ query: PostgresQuery) async throws -> Int {
        try await run { [self] in
            var count: Int64 = 0
            for try await (value) in try await client.query(query, logger: logger).decode(Int64.self) { count = value }
            return Int(count)
        }
    }

    // MARK: Schema inspection

    /// Each of Latchkey's tables with its columns in order, without the migrations' own table.
    func tableColumns() async throws -> [String: [String]] {
        try await run { [self] in
            var tables: [String: [String]] = [:]
            for try await (table, column) in try await client.query(
                """
                SELECT table_name::text, column_name::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name <> 'latchkey_migrations'
                ORDER BY table_name, ordinal_position
                """, logger: logger
            ).decode((String, String).self) {
                tables[table, default: []].append(column)
            }
            return tables
        }
    }

    /// Runs one statement of the caller's as it is (tests that need a row Latchkey would never write).
    func execute(unsafeSQL sql: String) async throws {
        try await run { [self] in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }
}

/// When a listener last heard its own heartbeat.
private final class LastHeard: Sendable {
    let instant = Mutex(ContinuousClock.now)
}
