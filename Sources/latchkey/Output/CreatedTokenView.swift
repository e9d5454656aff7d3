import Foundation
import LatchkeyCore
import LatchkeyServer

/// A token just created, with the secret that `token create --json` (or `token rotate
/// --json`) shows this once.
struct CreatedTokenView: Encodable {
    var token: String
    var uuid: String
    var key: String
    var title: String?
    var scopes: [String]
    @NullWhenAbsent var expires: Date?
    /// Only a rotation's successor names the token it replaced; a creation leaves the key out,
    /// so that `token create --json` prints what it always has.
    var rotatedFrom: String?

    enum CodingKeys: String, CodingKey {
        case token, uuid, key, title, scopes, expires
        case rotatedFrom = "rotated_from"
    }

    init(secret: TokenSecret, token: Token) {
        self.token = secret.value
        uuid = token.uuid.uuidString.lowercased()
        key = token.key
        title = token.title
        scopes = token.scopes
        expires = token.expires
        rotatedFrom = token.lifecycle.rotatedFrom?.uuidString.lowercased()
    }
}
