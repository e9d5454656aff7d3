import Foundation

public struct User: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var username: String
    public var email: String?
    public var firstName: String
    public var lastName: String
    /// PHC string; nil for accounts that can only sign in some other way (OpenID Connect).
    public var passwordHash: String?
    public var isActive: Bool
    public var isAdmin: Bool
    public var created: Date

    public init(
        id: Int64, username: String, email: String?, firstName: String, lastName: String,
        passwordHash: String?, isActive: Bool, isAdmin: Bool, created: Date
    ) {
        self.id = id
        self.username = username
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.passwordHash = passwordHash
        self.isActive = isActive
        self.isAdmin = isAdmin
        self.created = created
    }
}

/// A user about to be stored; the store assigns the id.
public struct NewUser: Sendable, Hashable {
    public var username: String
    public var email: String?
    public var firstName: String
    public var lastName: String
    public var passwordHash: String?
    public var isAdmin: Bool
    public var isActive: Bool
    public var created: Date

    public init(
        username: String, email: String? = nil, firstName: String = "", lastName: String = "",
        passwordHash: String?, isAdmin: Bool = false, isActive: Bool = true, created: Date
    ) {
        self.username = username
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.isActive = isActive
        self.created = created
    }
}
