import Foundation
import Hummingbird
import LatchkeyCore

/// A token as Hub lists and retrieves it: never the secret.
struct StencilaToken: JSONWritable {
    var user: Int64
    var id: String
    var created: UTCTimestamp
    @NullWhenAbsent var expiry: UTCTimestamp?

    init(_ token: Token) {
        user = token.ownerID
        id = token.key
        created = UTCTimestamp(token.created)
        expiry = token.expires.map(UTCTimestamp.init)
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("user", user)
        json.field("id", id)
        json.field("created", created)
        json.field("expiry", expiry)
        json.endObject()
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
struct StencilaTokenPage: JSONWritable {
    var count: Int
    @NullWhenAbsent var next: String?
    @NullWhenAbsent var previous: String?
    var results: [StencilaToken]

    var sizeHint: Int { 256 + results.count * 128 }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("count", count)
        json.field("next", next)
        json.field("previous", previous)
        json.field("results", results)
        json.endObject()
    }
}

/// `GET /api/users/me`: Hub's `Me` object, the fields a token service knows.
struct StencilaMe: JSONWritable {
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
    var dateJoined: UTCTimestamp
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
        dateJoined = UTCTimestamp(user.created)
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("id", id)
        json.field("username", username)
        json.field("firstName", firstName)
        json.field("lastName", lastName)
        json.field("displayName", displayName)
        json.key("personalAccount")
        json.beginObject()
        json.field("id", personalAccount.id)
        json.field("tier", personalAccount.tier)
        json.endObject()
        json.field("dateJoined", dateJoined)
        json.field("lastLogin", lastLogin)
        json.field("emailAddresses", emailAddresses)
        json.field("linkedAccounts", linkedAccounts)
        json.endObject()
    }
}
