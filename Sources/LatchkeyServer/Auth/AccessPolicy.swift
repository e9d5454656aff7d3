import LatchkeyCore

/// Who may call what: the authorization table of docs/security.md, in code, and the only place
/// that decides it. Every route names its operation; its controller calls
/// `authorize(_:)` and answers a denial in its dialect's shape.
///
/// Creating a token is bounded a second time by `TokenGrant`: whatever a route allows,
/// no token can create a token with a broader kind, a scope it lacks, or a later expiry.
public enum Operation: String, CaseIterable, Sendable {
    /// Sign in with a username and password, or an OpenID Connect ID token.
    case signIn
    /// A new sign-in session from the credentials on the request.
    case mintSession
    /// Who am I: `/api/users/me`, `/api/v1/user/`.
    case readAccount
    /// List, create, read, refresh and revoke one's own tokens by id or uuid.
    case manageTokens
    /// Read or rotate the very token the request presents (`/v1/tokens/self`).
    case useOwnToken
    /// Webhook endpoints and their deliveries (`/v1/webhooks`): an administrator's are the
    /// operator's, which hear of every account; anyone else's hear of their own account.
    case manageWebhooks
    /// Every user's tokens (Quay's superuser listing).
    case listAllTokens
    /// The web pages of one's own account (`/tokens`): a browser's sign-in session only.
    case usePages
    /// The administrators' pages: accounts (activate, deactivate), every user's tokens
    /// (revoke any), the audit log.
    case administer
    /// Retrieve, refresh or delete a token by presenting its full secret in the path.
    case presentSecret
    /// Introspection and revocation for the services that rely on Latchkey.
    case serviceCall
    /// A leaked-token report.
    case reportLeak
    /// Health, readiness, metrics, the API description.
    case operations

    /// What the operation requires of the request's credentials.
    public var requirement: Requirement {
        switch self {
        case .signIn, .presentSecret, .reportLeak, .operations: .nothing
        case .serviceCall: .serviceClientOrHolder
        case .readAccount, .useOwnToken: .anyToken
        case .mintSession, .manageWebhooks, .usePages: .session
        case .manageTokens: .scope(Principal.accountAdminScope)
        case .listAllTokens, .administer: .administrator(scope: Principal.superuserScope)
        }
    }
}

public enum Requirement: Sendable, Equatable {
    /// Anyone; the body or path carries the proof where one is needed.
    case nothing
    /// A service client's credentials (or, for revocation, the token itself): checked by the OAuth controller.
    case serviceClientOrHolder
    /// Any valid token of an active user.
    case anyToken
    /// A sign-in session token: an app token never mints a session.
    case session
    /// A session, or an app token holding the scope.
    case scope(String)
    /// An administrator's session, or an administrator's app token holding the scope.
    case administrator(scope: String)
}

/// Why a request may not do what it asks.
public enum AccessDenial: Error, Equatable {
    /// No credentials at all.
    case notAuthenticated
    /// Credentials that do not carry the right (missing scope, not a session, not an administrator).
    case forbidden(String)
}

extension Principal {
    /// The scope that grants managing the account itself (its tokens), as in Quay.
    public static let accountAdminScope = "user:admin"
    /// The scope an administrator's app token needs for every user's tokens.
    public static let superuserScope = TokenLimits.superuserScope

    /// What this principal may hand on to tokens it creates.
    public var grant: TokenGrant { TokenGrant(of: token) }
}

/// Checks `operation` for the request's principal (nil: no credentials).
public func authorize(_ operation: Operation, _ principal: Principal?) throws(AccessDenial) {
    let requirement = operation.requirement
    switch requirement {
    case .nothing, .serviceClientOrHolder: return
    default: break
    }
    guard let principal else { throw .notAuthenticated }
    switch requirement {
    case .nothing, .serviceClientOrHolder, .anyToken:
        return
    case .session:
        guard principal.token.kind == .session else {
            throw .forbidden("only a sign-in session may do this, not an app token")
        }
    case .scope(let scope):
        // The grant's own rule: a session holds every scope, an app token only its own.
        guard principal.grant.holds(scope) else { throw .forbidden("this token does not hold the scope '\(scope)'") }
    case .administrator(let scope):
        guard principal.user.isAdmin else { throw .forbidden("only administrators may do this") }
        guard principal.grant.holds(scope) else { throw .forbidden("this token does not hold the scope '\(scope)'") }
    }
}
