import Foundation
import LatchkeyCore

/// A token as the CLI lists it: never its secret.
struct TokenView: Encodable {
    var uuid: String
    var owner: String?
    var key: String
    var kind: String
    var title: String?
    var scopes: [String]
    var created: Date
    var expires: Date?
    var lastUsed: Date?

    init(_ token: Token, owner: String?) {
        uuid = token.uuid.uuidString.lowercased()
        self.owner = owner
        key = token.key
        kind = token.kind.rawValue
        title = token.title
        scopes = token.scopes
        created = token.created
        expires = token.expires
        lastUsed = token.lastUsed
    }
}
