import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// Tokens: creation under the owner's limits, changes, rotation, counted uses, reads, recorded use and deletion.
extension PostgresStorage {
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
        var binds = PostgresBindings()
        for value in try TokenRow.insertValues(token) { try binds.append(value) }
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: Schema.insertToken + " RETURNING id", binds: binds), logger: logger)
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
        let rows = try await fetch(
            TokenRow.self, "SELECT \(unescaped: Schema.tokenColumns) FROM tokens WHERE rotated_from = \(uuid)")
        return try rows.first.map { (try $0.token(), $0.rotationRetry) }
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
}
