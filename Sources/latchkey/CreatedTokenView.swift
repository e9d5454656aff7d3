import Foundation
import LatchkeyCore
import LatchkeyServer

/// A token just created, with the secret that `token create --json` shows this once.
struct CreatedTokenView: Encodable {
    var token: String
    var uuid: String
    var key: String
    var title: String?
    var scopes: [String]
    @NullWhenAbsent var expires: Date?

    init(secret: TokenSecret, token: Token) {
        self.token = secret.value
        uuid = token.uuid.uuidString.lowercased()
        key = token.key
        title = token.title
        scopes = token.scopes
        expires = token.expires
    }
}
