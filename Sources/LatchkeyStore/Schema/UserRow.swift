import GRDB
import LatchkeyCore

/// A `users` row as both backends read it, by column name: one property per column.
struct UserRow: Decodable, FetchableRecord {
    var id: Int64
    var username: String
    var email: String?
    var firstName: String
    var lastName: String
    var passwordHash: String?
    var isActive: Bool
    var isAdmin: Bool
    var createdUs: Int64

    /// The columns read, in `Schema.users`'s order.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, username, email
        case firstName = "first_name"
        case lastName = "last_name"
        case passwordHash = "password_hash"
        case isActive = "is_active"
        case isAdmin = "is_admin"
        case createdUs = "created_us"
    }

    func user() -> User {
        User(
            id: id, username: username, email: email, firstName: firstName, lastName: lastName,
            passwordHash: passwordHash, isActive: isActive, isAdmin: isAdmin,
            created: Columns.date(microseconds: createdUs))
    }
}
