import Foundation
import GRDB
import LatchkeyCore

/// An `events` row as both backends read it, by column name: one property per column.
struct EventRow: Decodable, FetchableRecord {
    var id: Int64
    var atUs: Int64
    var kind: String
    /// Text on SQLite, `UUID` on PostgreSQL: read as text on both, parsed in `event()`.
    var tokenUuid: String?
    var userId: Int64?
    var actorId: Int64?
    var via: String
    var address: String?
    var detail: String

    /// The columns read, in `Schema.events`'s order.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case atUs = "at_us"
        case kind
        case tokenUuid = "token_uuid"
        case userId = "user_id"
        case actorId = "actor_id"
        case via, address, detail
    }

    /// - Throws: `StoreError.unreadableRow` for a token uuid that is not one.
    func event() throws -> AuditEvent {
        let tokenUUID = try tokenUuid.map { text in
            guard let uuid = Columns.uuid(text) else {
                throw StoreError.unreadableRow(table: "events", id: id, reason: "'\(text)' is not a uuid")
            }
            return uuid
        }
        return AuditEvent(
            id: id, at: Columns.date(microseconds: atUs), kind: kind, userID: userId, tokenUUID: tokenUUID,
            origin: Origin(userID: actorId, via: via, address: address), detail: detail)
    }
}
