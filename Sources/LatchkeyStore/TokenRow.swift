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

    /// - Throws: `StoreError.unreadableRow` for a uuid or kind this node cannot read.
    func token() throws -> Token {
        guard let parsedUUID = UUID(uuidString: uuid) else {
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
