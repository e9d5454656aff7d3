import Foundation
import Hummingbird
import LatchkeyCore

/// A token as Hub lists and retrieves it: never the secret.
struct StencilaToken: ResponseEncodable {
    var user: Int64
    var id: String
    var created: String
    @NullWhenAbsent var expiry: String?

    init(_ token: Token) {
        user = token.ownerID
        id = token.key
        created = StencilaWire.date(token.created)
        expiry = token.expires.map(StencilaWire.date)
    }

}

/// The answer to a successful `POST /api/tokens/`: the secret, shown this once.
struct StencilaCreatedToken: ResponseEncodable {
    var token: String
    var id: String
    var created: String
    @NullWhenAbsent var expiry: String?
    var user: Int64
    var username: String
    var firstName: String
    var lastName: String

    init(_ issued: IssuedToken, owner: User) {
        token = issued.secret.value
        id = issued.token.key
        created = StencilaWire.date(issued.token.created)
        expiry = issued.token.expires.map(StencilaWire.date)
        user = owner.id
        username = owner.username
        (firstName, lastName) = StencilaWire.names(of: owner)
    }

}

/// `GET /api/tokens/`: Django REST Framework's limit/offset page.
struct StencilaTokenPage: ResponseEncodable {
    var count: Int
    @NullWhenAbsent var next: String?
    @NullWhenAbsent var previous: String?
    var results: [StencilaToken]

}

/// `GET /api/users/me`: Hub's `Me` object, the fields a token service knows.
struct StencilaMe: ResponseEncodable {
    struct PersonalAccount: Encodable {
        var id: Int64
        var tier: Int
    }

    var id: Int64
    var username: String
    var firstName: String
    var lastName: String
    var displayName: String
    var personalAccount: PersonalAccount
    var dateJoined: String
    @NullWhenAbsent var lastLogin: String? = nil
    var emailAddresses: [String] = []
    var linkedAccounts: [String] = []

    init(_ user: User) {
        id = user.id
        username = user.username
        firstName = user.firstName
        lastName = user.lastName
        let fullName = user.fullName
        displayName = fullName.isEmpty ? user.username : fullName
        personalAccount = PersonalAccount(id: user.id, tier: 1)
        dateJoined = StencilaWire.date(user.created)
    }

}
