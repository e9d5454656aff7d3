import Foundation

/// What a verified OpenID Connect ID token says about its holder.
public struct VerifiedIdentity: Sendable, Hashable {
    /// The issuer: which provider vouches for this identity.
    public var provider: String
    public var subject: String
    /// Only set when the provider says it verified the address.
    public var email: String?
    public var givenName: String?
    public var familyName: String?
    /// Whether the provider is trusted to sign in to an existing account that has this
    /// email (its `link_by_email` setting); off by default.
    public var mayLinkByEmail: Bool

    public init(
        provider: String, subject: String, email: String?, givenName: String?, familyName: String?,
        mayLinkByEmail: Bool = false
    ) {
        self.provider = provider
        self.subject = subject
        self.email = email
        self.givenName = givenName
        self.familyName = familyName
        self.mayLinkByEmail = mayLinkByEmail
    }
}

/// Why an OpenID Connect sign-in signed no one in, decided here once for every dialect, which
/// answers it through its own error mapping.
public enum OpenIDSignInFailure: Error, Equatable, CustomStringConvertible {
    /// The provider could not be reached. `reason` names its internal URLs: for the log only.
    case providerUnavailable(reason: String)
    /// The ID token (or the provider's answer carrying it) is not acceptable; says why.
    case invalidToken(String)
    /// The identity may not sign in: its email belongs to an account it may not take, it is
    /// spelled so that it would be taken for another, or another sign-in took its name meanwhile.
    case notPermitted(String)
    /// What the identity says cannot make an account here (a name no account may have).
    case unfitForAnAccount(String)
    /// The account it signs in to is deactivated.
    case inactiveAccount

    public var description: String {
        switch self {
        case .providerUnavailable(let reason): "The sign-in provider's keys could not be fetched: \(reason)"
        case .invalidToken(let reason), .notPermitted(let reason), .unfitForAnAccount(let reason): reason
        case .inactiveAccount: "This account is deactivated."
        }
    }

    /// What a client is told when the provider is unavailable: never the provider's URLs.
    public static let publicUnavailableMessage = "The sign-in provider's keys could not be fetched; try again shortly."
}

/// An error of the verifier that checks ID tokens (in the server, which speaks HTTP and JOSE),
/// as the sign-in failure it is.
public protocol IdentityVerificationError: Error {
    var signInFailure: OpenIDSignInFailure { get }
}

extension AccountService {
    /// Signs in with the identity `identify` verifies (an ID token checked, after whatever
    /// exchange with the provider brought it), as `signIn(with:by:)` does; counted once,
    /// succeeded or failed. Failures of verification and refusals of the identity are thrown
    /// as `OpenIDSignInFailure`; anything else (the database unavailable) as it is.
    public func signIn(
        identifiedBy identify: () async throws -> VerifiedIdentity, by origin: Origin
    ) async throws -> User {
        do {
            let identity: VerifiedIdentity
            do {
                identity = try await identify()
            } catch let error as any IdentityVerificationError {
                throw error.signInFailure
            }
            guard let user = try await signIn(with: identity, by: origin) else {
                throw OpenIDSignInFailure.inactiveAccount
            }
            metrics.openIDLogin(succeeded: true)
            return user
        } catch {
            metrics.openIDLogin(succeeded: false)
            throw Self.signInFailure(error)
        }
    }

    private static func signInFailure(_ error: any Error) -> any Error {
        switch error {
        case AccountError.accountExists, AccountError.unusableEmail, AccountError.unusableIdentity:
            OpenIDSignInFailure.notPermitted("\(error)")
        case let error as AccountError: OpenIDSignInFailure.unfitForAnAccount("\(error)")
        // Another sign-in took the name or email a moment ago.
        case let error as StorageError: OpenIDSignInFailure.notPermitted("\(error)")
        default: error
        }
    }
}

extension AccountService {
    /// The user an OpenID Connect identity signs in as: the account already linked to
    /// its provider and subject (even if the email changed since); else, only where the
    /// provider is trusted to link by email, the non-admin account with its verified
    /// email (NFKC case-fold), which is then linked; else a new account, named as
    /// Stencila Hub names them. An email that belongs to an account the identity may
    /// not sign in to is refused (`AccountError.accountExists`): never a takeover.
    public func signIn(with identity: VerifiedIdentity, by origin: Origin) async throws -> User? {
        // A subject or email with control characters names nobody (PostgreSQL could not even store it).
        guard !Identifier.hasControlOrFormatCharacters(identity.provider + identity.subject + (identity.email ?? ""))
        else {
            throw AccountError.unusableIdentity
        }
        if let linked = try await storage.linkedUser(provider: identity.provider, subject: identity.subject) {
            return try await signedIn(linked, identity, by: origin)
        }
        // Compatibility spellings (the Kelvin sign for K) fold onto other people's addresses:
        // such an email neither links nor names a new account.
        if let email = identity.email, !Identifier.isNormalized(email) { throw AccountError.unusableEmail(email) }
        let user: User
        if let email = identity.email, let existing = try await storage.user(email: email) {
            // Uniqueness folds fully (ß is ss), but a link needs the same address up to plain case.
            guard identity.mayLinkByEmail, !existing.isAdmin, let stored = existing.email,
                Identifier.isSameAddressIgnoringCase(stored, email)
            else {
                try await audit.record(
                    .signInFailed, user: existing.id, by: origin,
                    detail: "openid \(identity.provider): the email belongs to an account it may not sign in to")
                throw AccountError.accountExists(email: email)
            }
            user = existing
            try await storage.link(provider: identity.provider, subject: identity.subject, to: user.id, at: clock.now)
            try await audit.record(.openIDAccountLinked, user: user.id, by: origin, detail: identity.provider)
        } else {
            let username = try await UsernameDerivation(storage: storage).username(
                email: identity.email, givenName: identity.givenName, familyName: identity.familyName)
            user = try await insertUser(
                username: username, email: identity.email,
                firstName: String(
                    Identifier.withoutControlOrFormatCharacters(identity.givenName ?? "").prefix(Self.maxNameLength)),
                lastName: String(
                    Identifier.withoutControlOrFormatCharacters(identity.familyName ?? "").prefix(Self.maxNameLength)),
                passwordHash: nil, isAdmin: false)
            try await storage.link(provider: identity.provider, subject: identity.subject, to: user.id, at: clock.now)
            try await audit.record(.openIDAccountCreated, user: user.id, by: origin, detail: identity.provider)
        }
        return try await signedIn(user, identity, by: origin)
    }

    private func signedIn(_ user: User, _ identity: VerifiedIdentity, by origin: Origin) async throws -> User? {
        guard user.isActive else {
            try await audit.record(
                .signInFailed, user: user.id, by: origin, detail: "openid \(identity.provider): inactive account")
            return nil
        }
        try await audit.record(.signInSucceeded, user: user.id, by: origin, detail: "openid \(identity.provider)")
        return user
    }
}

/// Stencila Hub's `generate_username`: the email's local part, else the given name,
/// else given-family, else the whole email, each slugified and taken only if free;
/// else `user-N`.
public struct UsernameDerivation: Sendable {
    let storage: any LatchkeyStorage

    public init(storage: any LatchkeyStorage) {
        self.storage = storage
    }

    public func username(email: String?, givenName: String?, familyName: String?) async throws -> String {
        var candidates: [String] = []
        if let email { candidates.append(String(email.split(separator: "@", omittingEmptySubsequences: false)[0])) }
        if let givenName { candidates.append(givenName) }
        if let givenName, let familyName { candidates.append(givenName + "-" + familyName) }
        if let email { candidates.append(email) }
        for candidate in candidates {
            let slug = Self.slugify(candidate)
            if !slug.isEmpty, try await storage.user(username: slug) == nil { return slug }
        }
        var number = try await storage.usernameCount(withPrefix: "user-") + 1
        while try await storage.user(username: "user-\(number)") != nil { number += 1 }
        return "user-\(number)"
    }

    /// Django's `slugify`: ASCII-folded, lowercased, only letters, digits, `_` and `-`,
    /// runs of spaces and hyphens made one hyphen; at most 150 characters.
    public static func slugify(_ text: String) -> String {
        // NFKD, then drop what is not ASCII: "Márta" becomes "Marta".
        var kept = ""
        for scalar in text.decomposedStringWithCompatibilityMapping.lowercased().unicodeScalars where scalar.isASCII {
            let character = Character(scalar)
            if character.isLetter || character.isNumber || character == "_" || character == "-"
                || character.isWhitespace
            {
                kept.append(character)
            }
        }
        var slug = ""
        var inSeparator = false
        for character in kept.trimmingCharacters(in: .whitespaces) {
            if character == "-" || character.isWhitespace {
                inSeparator = true
            } else {
                if inSeparator { slug.append("-") }
                inSeparator = false
                slug.append(character)
            }
        }
        if inSeparator && !slug.isEmpty { slug.append("-") }
        return String(slug.trimmingCharacters(in: CharacterSet(charactersIn: "-_")).prefix(150))
    }
}
