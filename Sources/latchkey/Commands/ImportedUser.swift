/// One account of an import file, by the column names Quay's and Django's exports use.
struct ImportedUser {
    struct RowError: Error, CustomStringConvertible {
        let description: String
    }

    var username: String
    var email: String?
    var firstName: String
    var lastName: String
    var passwordHash: String?
    var isActive: Bool
    var isAdmin: Bool

    init(_ fields: [String: String?]) throws {
        func value(_ names: String...) -> String? {
            for name in names { if let value = fields[name] ?? nil, !value.isEmpty { return value } }
            return nil
        }
        func flag(_ names: String..., default fallback: Bool) throws -> Bool {
            for name in names {
                guard let text = fields[name] ?? nil, !text.isEmpty else { continue }
                switch text.lowercased() {
                case "true", "t", "1", "yes": return true
                case "false", "f", "0", "no": return false
                default: throw RowError(description: "\(name) must be true or false, not '\(text)'")
                }
            }
            return fallback
        }
        guard let username = value("username") else { throw RowError(description: "the username is missing") }
        self.username = username
        email = value("email")
        firstName = value("first_name", "firstName") ?? ""
        lastName = value("last_name", "lastName") ?? ""
        // Django marks an account without a usable password with a hash starting with "!".
        passwordHash = value("password", "password_hash").flatMap { $0.hasPrefix("!") ? nil : $0 }
        isActive = try flag("is_active", "active", "enabled", default: true)
        isAdmin = try flag("is_admin", "admin", "is_superuser", "super_user", default: false)
    }
}
