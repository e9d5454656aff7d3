import Foundation
import GRDB
import LatchkeyCore

/// A `clients` row as both backends read it, by column name: one property per column.
struct ClientRow: Decodable, FetchableRecord {
    var id: Int64
    var clientId: String
    var name: String
    var secretDigest: Data
    var createdUs: Int64

    /// The columns read, in `Schema.clients`'s order.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case clientId = "client_id"
        case name
        case secretDigest = "secret_digest"
        case createdUs = "created_us"
    }

    func client() -> ServiceClient {
        ServiceClient(
            id: id, clientID: clientId, name: name, secretDigest: TokenDigest(bytes: secretDigest),
            created: Columns.date(microseconds: createdUs))
    }
}
