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
    }

    /// - Throws: `StoreError.unreadableRow` for a uuid or kind this node cannot read.
    func token() throws -> Token {
        guard let parsedUUID = Columns.uuid(uuid) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "'\(uuid)' is not a uuid")
        }
        guard let parsedKind = TokenKind(rawValue: kind) else {
            throw StoreError.unreadableRow(table: "tokens", id: id, reason: "unknown kind '\(kind)'")
        }
        return Token(
            id: id, uuid: parsedUUID, key: key, ownerID: userId, title: title, kind: parsedKind,
            scopes: Columns.scopes(scopes), created: Columns.date(microseconds: createdUs),
            expires: expiresUs.map(Columns.date(microseconds:)),
            slidingLifetime: slidingLifetimeS.map(TimeInterval.init),
            lastUsed: lastUsedUs.map(Columns.date(microseconds:)), lastUsedIP: lastUsedIp,
            digest: TokenDigest(bytes: digest), sealedSecret: sealedSecret)
    }
}
