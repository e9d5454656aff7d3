import Foundation
import GRDB
import LatchkeyCore

/// A `tokens` row, the one description of the table: one property per column, in the order
/// `Schema.tokens` selects them. Both backends read it (`ColumnOrderDecoder`,
/// `PostgresRowDecoder`) and insert it (`ColumnValue.values(of:)`), so a new column is a
/// property here, its coding key, a line in each conversion below, and its migration.
struct TokenRow: Codable, FetchableRecord {
    /// nil until inserted: the database numbers rows.
    var id: Int64?
    var uuid: UUID
    var key: String
    var userId: Int64
    var title: String?
    var kind: String
    var scopes: String
    var createdUs: Int64
    var expiresUs: Int64?
    var slidingLifetimeS: Int64?
    var lastUsedUs: Int64?
    var lastUsedIp: String?
    var digest: Data
    var sealedSecret: Data?
    /// The token that created this one (revocation follows it in SQL; the domain never reads it).
    var parentId: Int64?
    var maxUses: Int64?
    var usesRemaining: Int64?
    var allowedIps: String
    var metadata: String?
    var lastUsedAgent: String?
    var recentIps: String
    var rotatedFrom: UUID?
    var retiredUs: Int64?
    /// A rotation's successor, sealed for an idempotent retry until its overlap ends.
    var idempotencyKey: String?
    var retrySecret: Data?
    var retryUntilUs: Int64?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, uuid, key
        case userId = "user_id"
        case title, kind, scopes
        case createdUs = "created_us"
        case expiresUs = "expires_us"
        case slidingLifetimeS = "sliding_lifetime_s"
        case lastUsedUs = "last_used_us"
        case lastUsedIp = "last_used_ip"
        case digest
        case sealedSecret = "sealed_secret"
        case parentId = "parent_id"
        case maxUses = "max_uses"
        case usesRemaining = "uses_remaining"
        case allowedIps = "allowed_ips"
        case metadata
        case lastUsedAgent = "last_used_agent"
        case recentIps = "recent_ips"
        case rotatedFrom = "rotated_from"
        case retiredUs = "retired_us"
        case idempotencyKey = "idempotency_key"
        case retrySecret = "retry_secret"
        case retryUntilUs = "retry_until_us"
    }
}

extension TokenRow {
    /// A SQLite row selected with `Schema.tokenColumns` first (alone, or before its owner's).
    init(row: Row) throws {
        try self.init(from: ColumnOrderDecoder(row, table: "tokens", columns: Schema.tokens))
    }

    /// The row a new token is inserted as: its use record empty, not retired.
    init(_ token: NewToken) {
        let lifecycle = token.lifecycle
        self.init(
            id: nil, uuid: token.uuid, key: token.key, userId: token.ownerID, title: token.title,
            kind: token.kind.rawValue, scopes: Columns.scopes(token.scopes),
            createdUs: Columns.microseconds(token.created), expiresUs: token.expires.map(Columns.microseconds),
            slidingLifetimeS: token.slidingLifetime.map { Int64($0) }, lastUsedUs: nil, lastUsedIp: nil,
            digest: token.digest.bytes, sealedSecret: token.sealedSecret, parentId: token.parentID,
            maxUses: lifecycle.maxUses.map { Int64($0) }, usesRemaining: lifecycle.usesRemaining.map { Int64($0) },
            allowedIps: Columns.networks(lifecycle.allowedIPs), metadata: lifecycle.metadata, lastUsedAgent: nil,
            recentIps: "", rotatedFrom: lifecycle.rotatedFrom, retiredUs: nil,
            idempotencyKey: token.retry?.idempotencyKey, retrySecret: token.retry?.sealedSecret,
            retryUntilUs: token.retry.map { Columns.microseconds($0.until) })
    }

    /// The values `Schema.insertToken` binds, in `Schema.insertedTokenColumns`'s order.
    static func insertValues(_ token: NewToken) throws -> [ColumnValue] {
        let values = try ColumnValue.values(of: TokenRow(token))
        return Schema.insertedTokenColumns.map { values[$0] ?? .null }
    }

    /// The sealed successor kept for a retry of its rotation, while it is kept.
    var rotationRetry: RotationRetry? {
        guard let idempotencyKey, let retrySecret, let retryUntilUs else { return nil }
        return RotationRetry(
            idempotencyKey: idempotencyKey, sealedSecret: retrySecret,
            until: Columns.date(microseconds: retryUntilUs))
    }

    /// - Throws: `StoreError.unreadableRow` for a kind or allowlist this node cannot read.
    func token() throws -> Token {
        let id = id ?? 0
        guard let parsedKind = TokenKind(rawValue: kind) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "unknown kind '\(kind)'")
        }
        guard let allowedIPs = Columns.networks(allowedIps) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "'\(allowedIps)' are not IP networks")
        }
        let lifecycle = TokenLifecycle(
            maxUses: maxUses.map { Int($0) }, usesRemaining: usesRemaining.map { Int($0) }, allowedIPs: allowedIPs,
            metadata: metadata, lastUsedAgent: lastUsedAgent, recentIPs: Columns.list(recentIps),
            rotatedFrom: rotatedFrom, retires: retiredUs.map(Columns.date(microseconds:)))
        return Token(
            id: id, uuid: uuid, key: key, ownerID: userId, title: title, kind: parsedKind,
            scopes: Columns.scopes(scopes), created: Columns.date(microseconds: createdUs),
            expires: expiresUs.map(Columns.date(microseconds:)),
            slidingLifetime: slidingLifetimeS.map(TimeInterval.init),
            lastUsed: lastUsedUs.map(Columns.date(microseconds:)), lastUsedIP: lastUsedIp,
            digest: TokenDigest(bytes: digest), sealedSecret: sealedSecret, lifecycle: lifecycle)
    }
}
