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
    /// An imported password hash of a kind or cost Latchkey does not verify.
    case unusablePasswordHash

    public var description: String {
        switch self {
        case .invalidUsername(let name):
            "'\(name)' is not a valid username: use 1 to 150 letters, digits and @ . + - _"
        case .invalidEmail(let email): "'\(email)' is not a valid email address"
        case .emptyPassword: "the password must not be empty"
        case .nameTooLong: "first and last names must be at most \(AccountService.maxNameLength) characters"
        case .nameHasControlCharacters:
            "first and last names must not contain control or invisible formatting characters"
        case .mixedScripts(let name, let scripts):
            "'\(name)' mixes letters of different scripts (\(scripts.joined(separator: ", "))): use one script"
        case .unusableEmail(let email):
            "The email address \(email) is spelled with compatibility characters; it cannot sign in."
        case .unusableIdentity:
            "The identity's subject or email address holds control or invisible formatting characters; it cannot sign in."
        case .unusablePasswordHash:
            "the password hash is not bcrypt ($2a$/$2b$/$2y$, cost 4 to 16), Django pbkdf2_sha256 (1,000 to 5,000,000 iterations) or Latchkey scrypt"
        case .accountExists(let email):
            "For security reasons, please verify your email address first: an account with \(email) already exists; sign in to it another way."
        }
    }
}

/// How often password sign-in may fail before it is refused without checking: per
/// account (whatever the address) and per client address (whatever the account).
public struct SignInLimits: Sendable, Hashable {
    public var perAccount: RateLimit
    public var perAddress: RateLimit

    public init(perAccount: RateLimit, perAddress: RateLimit) {
        self.perAccount = perAccount
        self.perAddress = perAddress
    }

    public static let `default` = SignInLimits(
        perAccount: RateLimit(count: 10, window: 900)!, perAddress: RateLimit(count: 100, window: 900)!)
}

/// Users and password sign-in.
public struct AccountService: Sendable {
    /// Django's limit, which clients of both dialects validate.
    public static let maxNameLength = 150

    package let storage: any LatchkeyStorage
    public let hasher: PasswordHasher
    public let clock: any WallClock
    public let metrics: LatchkeyMetrics
    public let audit: AuditLog
    /// The verified tokens to evict when an account changes.
    public let tokenCache: TokenCache?
    let accountLimiter: SlidingWindowLimiter
    let addressLimiter: SlidingWindowLimiter

    public init(
        storage: any LatchkeyStorage, hasher: PasswordHasher = PasswordHasher(), clock: any WallClock = SystemClock(),
        metrics: LatchkeyMetrics = .none, signInLimits: SignInLimits = .default, tokenCache: TokenCache? = nil
    ) {
        self.storage = storage
        self.tokenCache = tokenCache
        self.hasher = hasher
        self.clock = clock
        self.metrics = metrics
        audit = AuditLog(storage: storage, clock: clock)
        accountLimiter = SlidingWindowLimiter(signInLimits.perAccount, clock: clock)
        addressLimiter = SlidingWindowLimiter(signInLimits.perAddress, clock: clock)
    }

    /// - Parameter password: nil for an account that cannot sign in with a password.
    /// - Parameter username: stored in NFKC; unique by its NFKC case-fold (`Identifier.folded`).
    public func createUser(
        username requested: String, email: String? = nil, firstName: String = "", lastName: String = "",
        password: String?, isAdmin: Bool = false, by origin: Origin
    ) async throws -> User {
        var passwordHash: String?
        if let password {
            guard !password.isEmpty else { throw AccountError.emptyPassword }
            passwordHash = try await hasher.hash(password)
        }
        let user = try await insertUser(
            username: requested, email: email, firstName: firstName, lastName: lastName, passwordHash: passwordHash,
            isAdmin: isAdmin)
        try await audit.record(.userCreated, user: user.id, by: origin, detail: user.isAdmin ? "administrator" : "")
        return user
    }

    /// Checks and stores a new account; no audit event (the callers record their own).
    func insertUser(
        username requested: String, email: String?, firstName: String, lastName: String, passwordHash: String?,
        isAdmin: Bool, isActive: Bool = true
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
        guard !Identifier.hasControlOrFormatCharacters(firstName + lastName) else {
            throw AccountError.nameHasControlCharacters
        }
        return try await storage.insertUser(
            NewUser(
                username: username, email: email, firstName: firstName, lastName: lastName,
                passwordHash: passwordHash, isAdmin: isAdmin, isActive: isActive, created: clock.now))
    }

    /// An account brought from Quay or Stencila Hub with its password hash (bcrypt, Django
    /// PBKDF2 or scrypt), replaced by scrypt at its next successful sign-in. One write: a
    /// row is imported whole or not at all.
    public func importUser(
        username: String, email: String?, firstName: String, lastName: String, passwordHash: String?,
        isActive: Bool, isAdmin: Bool, by origin: Origin
    ) async throws -> User {
        if let passwordHash, !PasswordHasher.isImportable(passwordHash) { throw AccountError.unusablePasswordHash }
        let user = try await insertUser(
            username: username, email: email, firstName: firstName, lastName: lastName, passwordHash: passwordHash,
            isAdmin: isAdmin, isActive: isActive)
        try await audit.record(
            .userImported, user: user.id, by: origin,
            detail: [isAdmin ? "administrator" : nil, isActive ? nil : "inactive"].compactMap { $0 }.joined(
                separator: ", "))
        return user
    }

    /// The active user whose username or email is `login` and whose password is `password`;
    /// nil otherwise. Throttled per login and per address (`SignInLimits`): past a limit it
    /// throws `LimitExceeded` without checking the password. A correct sign-in takes its
    /// attempt back. An unknown login is counted and timed exactly like a wrong password:
    /// one scrypt verification in every case, and the login (NFKC case-folded) is the key
    /// whether or not it names an account, so the throttle cannot tell which logins exist.
    /// - Parameter isWanted: asked just before the password work starts (false: the client left).
    public func authenticate(
        login: String, password: String, by origin: Origin, isWanted: @Sendable () -> Bool = { true }
    ) async throws -> User? {
        let user = try await storage.user(login: login)
        // A digest: the typed login is never kept (people type passwords there), and every key is small.
        let accountKey = TokenDigest(of: Identifier.folded(login)).bytes.base64EncodedString()
        let addressKey = origin.address.map(CIDR.limitKey(for:)) ?? "unknown"
        if case .refused(let retryAfter, let first) = accountLimiter.acquire(accountKey) {
            try await throttled(user, by: origin, first: first, detail: "too many failures for this account")
            throw LimitExceeded(.signIn, retryAfter: retryAfter)
        }
        if case .refused(let retryAfter, let first) = addressLimiter.acquire(addressKey) {
            accountLimiter.refund(accountKey)
            try await throttled(user, by: origin, first: first, detail: "too many failures from this address")
            throw LimitExceeded(.signIn, retryAfter: retryAfter)
        }
        let matches: Bool
        do {
            matches = try await hasher.verify(password, against: user?.passwordHash, isWanted: isWanted)
        } catch {
            // Nothing was checked (the server is busy, or the client left): no attempt is counted.
            accountLimiter.refund(accountKey)
            addressLimiter.refund(addressKey)
            throw error
        }
        guard matches, let user, user.isActive else {
            metrics.login(method: "password", succeeded: false)
            let reason =
                switch (user, matches) {
                case (nil, _): "unknown account"
                case (let user?, _) where user.passwordHash == nil: "no password set"
                case (_, true): "inactive account"
                case (_, false): "wrong password"
                }
            try await audit.record(.signInFailed, user: user?.id, by: origin, detail: "password: \(reason)")
            return nil
        }
        accountLimiter.refund(accountKey)
        addressLimiter.refund(addressKey)
        metrics.login(method: "password", succeeded: true)
        try await audit.record(.signInSucceeded, user: user.id, by: origin, detail: "password")
        if let stored = user.passwordHash, hasher.needsRehash(stored) {
            // An imported or older hash becomes scrypt at today's parameters. Best effort: if
            // the server is busy now, the next sign-in does it.
            if let rehashed = try? await hasher.hash(password, isWanted: isWanted) {
                try await storage.setPasswordHash(userID: user.id, rehashed)
                tokenCache?.apply(.userChanged(user.id))
            }
        }
        return user
    }

    private func throttled(_ user: User?, by origin: Origin, first: Bool, detail: String) async throws {
        metrics.login(method: "password", succeeded: false)
        // Once when the limit engages, not once per refused attempt.
        guard first else { return }
        try await audit.record(.signInThrottled, user: user?.id, by: origin, detail: detail, notifying: true)
    }

    /// The account with this username (case-insensitive, the exact spelling first).
    public func user(named username: String) async throws -> User? {
        try await storage.user(username: username)
    }

    /// Every account, oldest first.
    public func user(id: Int64) async throws -> User? {
        try await storage.user(id: id)
    }

    public func users() async throws -> [User] {
        try await storage.users()
    }

    public func userCount() async throws -> Int {
        try await storage.userCount()
    }

    /// Every account's username by id, for naming owners and actors in listings.
    public func usernames() async throws -> [Int64: String] {
        try await storage.users().reduce(into: [:]) { $0[$1.id] = $1.username }
    }

    /// Deactivating refuses the account's tokens and sign-ins at once; nothing is deleted.
    public func setActive(_ user: User, _ isActive: Bool, by origin: Origin) async throws {
        try await storage.setActive(userID: user.id, isActive)
        tokenCache?.apply(.userChanged(user.id))
        try await audit.record(isActive ? .userActivated : .userDeactivated, user: user.id, by: origin)
    }

    /// Sets `user`'s password and ends the account's sign-in sessions through `tokens`, as
    /// GitHub and GitLab do: whoever signed in with the old password is signed out. Its app
    /// tokens stay (they were made to outlive a password).
    /// - Returns: the sessions ended.
    @discardableResult
    public func setPassword(
        _ user: User, to password: String, by origin: Origin, endingSessionsWith tokens: TokenService
    )
        async throws -> [Token]
    {
        guard !password.isEmpty else { throw AccountError.emptyPassword }
        try await storage.setPasswordHash(userID: user.id, try await hasher.hash(password))
        tokenCache?.apply(.userChanged(user.id))
        try await audit.record(.passwordChanged, user: user.id, by: origin)
        return try await tokens.revokeAll(of: user, kind: .session, by: origin, because: "the password was changed")
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
            && !Identifier.hasControlOrFormatCharacters(email)
    }
}
