import Foundation

/// An OpenID Connect provider whose ID tokens sign users in.
public struct OpenIDProvider: Sendable, Hashable {
    /// Exactly as the tokens' `iss` claim says it.
    public var issuer: String
    /// Client ids that tokens must be issued to (`aud`).
    public var audiences: [String]
    /// Where the provider publishes its signing keys; nil: read from the issuer's
    /// `/.well-known/openid-configuration`.
    public var jwksURL: String?
    /// Trust this provider to sign in to an existing (non-admin) account that has the
    /// identity's verified email, linking it. Off by default: otherwise such a sign-in is refused.
    public var linkByEmail: Bool

    public init(issuer: String, audiences: [String], jwksURL: String? = nil, linkByEmail: Bool = false) {
        self.issuer = issuer
        self.audiences = audiences
        self.jwksURL = jwksURL
        self.linkByEmail = linkByEmail
    }

    /// Google, which needs only the audiences (OAuth client ids).
    public static func google(audiences: [String], linkByEmail: Bool = false) -> OpenIDProvider {
        OpenIDProvider(
            issuer: "https://accounts.google.com", audiences: audiences,
            jwksURL: "https://www.googleapis.com/oauth2/v3/certs", linkByEmail: linkByEmail)
    }

    var discoveryURL: String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }
}

/// Why an ID token was refused, with Stencila Hub's messages.
public enum OpenIDError: Error, Equatable, CustomStringConvertible {
    case badToken(String)
    case expired
    case invalidIssuer
    case invalidAudience
    case notVerified
    case emailNotVerified
    /// The provider's keys could not be fetched (down, slow, or not answering JSON).
    case providerUnavailable(String)

    public var description: String {
        switch self {
        case .badToken(let reason): "Bad token: \(reason)"
        case .expired: "Token has expired"
        case .invalidIssuer: "Invalid token issuer"
        case .invalidAudience: "Invalid token audience"
        case .notVerified: "Token could not be verified"
        case .emailNotVerified: "Email address has not been verified"
        case .providerUnavailable(let reason): "The sign-in provider's keys could not be fetched: \(reason)"
        }
    }

    /// What a client is told when the provider is unavailable: never the provider's URLs.
    public static let publicUnavailableMessage =
        "The sign-in provider's keys could not be fetched; try again shortly."
}
