import Foundation
import Hummingbird
import LatchkeyCore

/// An app-specific token as Quay shows it; `token_code` only where Quay shows the secret.
struct QuayToken: Encodable {
    var uuid: String
    var title: String
    var created: String
    @NullWhenAbsent var lastAccessed: String?
    @NullWhenAbsent var expiration: String?
    var tokenCode: String?
    /// Only in the administrators' listing: whose token it is (an extension).
    var owner: String?

    init(_ token: Token, code: TokenSecret? = nil, owner: String? = nil) {
        uuid = token.uuid.uuidString.lowercased()
        title = token.title ?? ""
        created = QuayWire.date(token.created)
        lastAccessed = token.lastUsed.map(QuayWire.date)
        expiration = token.expires.map(QuayWire.date)
        tokenCode = code?.value
        self.owner = owner
    }

    enum CodingKeys: String, CodingKey {
        case uuid, title, created, owner
        case lastAccessed = "last_accessed"
        case expiration
        case tokenCode = "token_code"
    }
}

struct QuayTokenEnvelope: ResponseEncodable {
    var token: QuayToken
}

struct QuayTokenList: ResponseEncodable {
    var tokens: [QuayToken]
    @NullWhenAbsent var onlyExpiring: Bool?

    enum CodingKeys: String, CodingKey {
        case tokens
        case onlyExpiring = "only_expiring"
    }
}

/// `GET /api/v1/user/`: Quay's current-user object, the fields a token service knows.
struct QuayUser: ResponseEncodable {
    var anonymous = false
    var username: String
    @NullWhenAbsent var email: String?
    var verified: Bool
    var superUser: Bool

    init(_ user: User) {
        username = user.username
        email = user.email
        // Emails are set by an operator or proven by an OpenID Connect provider.
        verified = user.email != nil
        superUser = user.isAdmin
    }

    enum CodingKeys: String, CodingKey {
        case anonymous, username, email, verified
        case superUser = "super_user"
    }
}
