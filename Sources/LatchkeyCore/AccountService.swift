import Foundation

public enum AccountError: Error, Equatable, CustomStringConvertible {
    case invalidUsername(String)
    case invalidEmail(String)
    case emptyPassword
    case nameTooLong
    case nameHasControlCharacters
    /// Letters of scripts that can be mistaken for each other (Cyrillic `А` beside Latin `dmin`).
    case mixedScripts(String, scripts: [String])
    /// An OpenID Connect identity whose email belongs to an account it may not sign in to.
    case accountExists(email: String)
    /// An email spelled with compatibility characters (the Kelvin sign for K), which would
    /// be taken for another address.
    case unusableEmail(String)
    /// An OpenID Connect identity whose subject or email holds control characters.
    case unusableIdentity

    public var description: String {
        switch self {
        case .invalidUsername(let name):
            "'\(name)' is not a valid username: use 1 to 150 letters, digits and @ . + - _"
        case .invalidEmail(let email): "'\(email)' is not a valid email address"
        case .emptyPassword: "the password must not be empty"
        case .nameTooLong: "first and last names must be at most \(AccountService.maxNameLength) characters"
        case .nameHasControlCharacters: "first and last names must not contain control characters"
        case .mixedScripts(let name, let scripts):
            "'\(name)' mixes letters of different scripts (\(scripts.joined(separator: ", "))): use one script"
        case .unusableEmail(let email):
            "The email address \(email) is spelled with compatibility characters; it cannot sign in."
        case .unusableIdentity: "The identity's subject or email address holds control characters; it cannot sign in."
        case .accountExists(let email):
            "For security reasons, please verify your email address first: an account with \(email) already exists; sign in to it another way."
        }
    }
}

/// Users and password sign-in.
public struct AccountService: Sendable {
    /// Django's limit, which clients of both dialects validate.
    public static let maxNameLength = 150

    public let storage: any LatchkeyStorage
    public let hasher: PasswordHasher
    public let clock: any WallClock
    public let metrics: LatchkeyMetrics

    public init(
        storage: any LatchkeyStorage, hasher: PasswordHasher = PasswordHasher(), clock: any WallClock = SystemClock(),
        metrics: LatchkeyMetrics = .none
    ) {
        self.storage = storage
        self.hasher = hasher
        self.clock = clock
        self.metrics = metrics
    }

    /// - Parameter password: nil for an account that cannot sign in with a password.
    /// - Parameter username: stored in NFKC; unique by its NFKC case-fold (`Identifier.folded`).
    public func createUser(
        username requested: String, email: String? = nil, firstName: String = "", lastName: String = "",
        password: String?, isAdmin: Bool = false
    ) async throws -> User {
        let username = Identifier.normalized(requested)
        guard Self.isValidUsername(username) else { throw AccountError.invalidUsername(requested) }
        let scripts = Identifier.mixedScripts(in: username)
        guard scripts.isEmpty else { throw AccountError.mixedScripts(requested, scripts: scripts) }
        let email = email.flatMap { $0.isEmpty ? nil : Identifier.normalized($0) }
        if let email, !Self.isValidEmail(email) { throw AccountError.invalidEmail(email) }
        guard firstName.count <= Self.maxNameLength, lastName.count <= Self.maxNameLength else {
            throw AccountError.nameTooLong
        }
        guard !Identifier.hasControlCharacters(firstName + lastName) else {
            throw AccountError.nameHasControlCharacters
        }
        var passwordHash: String?
        if let password {
            guard !password.isEmpty else { throw AccountError.emptyPassword }
            passwordHash = try await hasher.hash(password)
        }
        return try await storage.insertUser(
            NewUser(
                username: username, email: email, firstName: firstName, lastName: lastName,
                passwordHash: passwordHash, isAdmin: isAdmin, created: clock.now))
    }

    /// The active user whose username or email is `login` and whose password is
    /// `password`; nil otherwise. Does one scrypt verification in every case so
    /// the time taken does not tell whether the account exists.
    public func authenticate(login: String, password: String) async throws -> User? {
        let user = try await storage.user(login: login)
        let matches = try await hasher.verify(password, against: user?.passwordHash)
        guard matches, let user, user.isActive else {
            metrics.login(method: "password", succeeded: false)
            return nil
        }
        metrics.login(method: "password", succeeded: true)
        return user
    }

    /// Django's rule, which both dialects' users already follow.
    static func isValidUsername(_ name: String) -> Bool {
        (1...150).contains(name.count)
            && name.allSatisfy { $0.isLetter || $0.isNumber || "@.+-_".contains($0) }
            && !Identifier.hasInvisibleCharacters(name)
    }

    static func isValidEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return email.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !email.contains(where: \.isWhitespace) && !Identifier.hasInvisibleCharacters(email)
            && !Identifier.hasControlCharacters(email)
    }
}
