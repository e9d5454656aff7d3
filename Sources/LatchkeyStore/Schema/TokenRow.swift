import Foundation
import GRDB
import LatchkeyCore

/// A `tokens` row as both backends read it, by column name: one property per column.
struct TokenRow: Decodable, FetchableRecord {
    var id: Int64
    /// Text on SQLite, `UUID` on PostgreSQL: read as text on both, parsed in `token()`.
    var uuid: String
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
    var maxUses: Int64?
    var usesRemaining: Int64?
    var allowedIps: String
    var metadata: String?
    var lastUsedAgent: String?
    var recentIps: String
    /// Text on both backends, as `uuid`.
    var rotatedFrom: String?
    var retiredUs: Int64?

    /// The columns read, in `Schema.tokens`'s order (`parent_id` is only ever written).
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
        case maxUses = "max_uses"
        case usesRemaining = "uses_remaining"
        case allowedIps = "allowed_ips"
        case metadata
        case lastUsedAgent = "last_used_agent"
        case recentIps = "recent_ips"
        case rotatedFrom = "rotated_from"
        case retiredUs = "retired_us"
    }

    /// GRDB reads by position, in `CodingKeys` order (as `Schema.tokenColumns` selects them, and
    /// first in `Schema.tokenAndOwner`): the `Decodable` path looked every column up by name and
    /// was most of the cost of reading a page of tokens.
    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        uuid = try row.decode(atIndex: 1)
        key = try row.decode(atIndex: 2)
        userId = try row.decode(atIndex: 3)
        title = try row.decode(atIndex: 4)
        kind = try row.decode(atIndex: 5)
        scopes = try row.decode(atIndex: 6)
        createdUs = try row.decode(atIndex: 7)
        expiresUs = try row.decode(atIndex: 8)
        slidingLifetimeS = try row.decode(atIndex: 9)
        lastUsedUs = try row.decode(atIndex: 10)
        lastUsedIp = try row.decode(atIndex: 11)
        digest = try row.decode(atIndex: 12)
        sealedSecret = try row.decode(atIndex: 13)
        maxUses = try row.decode(atIndex: 14)
        usesRemaining = try row.decode(atIndex: 15)
        allowedIps = try row.decode(atIndex: 16)
        metadata = try row.decode(atIndex: 17)
        lastUsedAgent = try row.decode(atIndex: 18)
        recentIps = try row.decode(atIndex: 19)
        rotatedFrom = try row.decode(atIndex: 20)
        retiredUs = try row.decode(atIndex: 21)
    }

    /// - Throws: `StoreError.unreadableRow` for a uuid or kind this node cannot read.
    func token() throws -> Token {
        guard let parsedUUID = Columns.uuid(uuid) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "'\(uuid)' is not a uuid")
        }
        guard let parsedKind = TokenKind(rawValue: kind) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "unknown kind '\(kind)'")
        }
        var predecessor: UUID?
        if let rotatedFrom {
            guard let parsed = Columns.uuid(rotatedFrom) else {
                throw StoreError.unreadableRow(table: "tokens", id: id, reason: "'\(rotatedFrom)' is not a uuid")
            }
            predecessor = parsed
        }
        guard let allowedIPs = Columns.networks(allowedIps) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "'\(allowedIps)' are not IP networks")
        }
        let lifecycle = TokenLifecycle(
            maxUses: maxUses.map { Int($0) }, usesRemaining: usesRemaining.map { Int($0) }, allowedIPs: allowedIPs,
            metadata: metadata, lastUsedAgent: lastUsedAgent, recentIPs: Columns.list(recentIps),
            rotatedFrom: predecessor, retires: retiredUs.map(Columns.date(microseconds:)))
        return Token(
            id: id, uuid: parsedUUID, key: key, ownerID: userId, title: title, kind: parsedKind,
            scopes: Columns.scopes(scopes), created: Columns.date(microseconds: createdUs),
            expires: expiresUs.map(Columns.date(microseconds:)),
            slidingLifetime: slidingLifetimeS.map(TimeInterval.init),
            lastUsed: lastUsedUs.map(Columns.date(microseconds:)), lastUsedIP: lastUsedIp,
            digest: TokenDigest(bytes: digest), sealedSecret: sealedSecret, lifecycle: lifecycle)
    }
}
