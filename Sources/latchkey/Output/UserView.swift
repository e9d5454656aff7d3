import Foundation
import LatchkeyCore

/// A user as the CLI prints it: never the password hash.
struct UserView: Encodable {
    var id: Int64
    var username: String
    var email: String?
    var firstName: String
    var lastName: String
    var admin: Bool
    var active: Bool
    var created: Date

    init(_ user: User) {
        id = user.id
        username = user.username
        email = user.email
        firstName = user.firstName
        lastName = user.lastName
        admin = user.isAdmin
        active = user.isActive
        created = user.created
    }
}
