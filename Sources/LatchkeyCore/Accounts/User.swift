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

    /// "First Last" without surrounding spaces or tabs (Django's `get_full_name()`); empty
    /// for a user without names. Read on every `/api/users/me`: no Foundation on the way.
    public var fullName: String {
        let joined = firstName.isEmpty ? lastName : lastName.isEmpty ? firstName : "\(firstName) \(lastName)"
        // Foundation's `.whitespaces`: the space separators and the tab.
        let isSpace = { (scalar: Unicode.Scalar) in
            scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
        }
        let scalars = joined.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
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
