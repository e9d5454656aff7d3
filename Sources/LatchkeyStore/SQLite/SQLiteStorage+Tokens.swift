import Foundation
import GRDB
import LatchkeyCore

/// Tokens: creation under the owner's limits, changes, rotation, counted uses, reads, recorded use and deletion.
extension SQLiteStorage {
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
        try db.cachedStatement(sql: Schema.insertToken).execute(
            arguments: StatementArguments(try TokenRow.insertValues(token).map(\.databaseValue)))
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
            let row = try TokenRow.fetchOne(
                db, sql: "SELECT \(Schema.tokenColumns) FROM tokens WHERE rotated_from = ?",
                arguments: [uuid.uuidString.lowercased()])
            return try row.map { (try $0.token(), $0.rotationRetry) }
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
    static func tokensRequest(_ query: TokenQuery) -> SQLRequest<TokenRow> {
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

    /// Reads the owner of `Schema.tokenAndOwner`'s row by the users' own column names.
    static let ownerScope = ScopeAdapter([
        "owner": ColumnMapping(Dictionary(uniqueKeysWithValues: Schema.users.map { ($0, Schema.ownerPrefix + $0) }))
    ])
}
