import Foundation
import LatchkeyCore

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
    /// How the web pages sign people in with this provider (the authorization-code flow with
    /// PKCE); nil: only ID tokens presented to the API sign in.
    public var webClient: OpenIDWebClient?

    public init(
        issuer: String, audiences: [String], jwksURL: String? = nil, linkByEmail: Bool = false,
        webClient: OpenIDWebClient? = nil
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.jwksURL = jwksURL
        self.linkByEmail = linkByEmail
        self.webClient = webClient
    }

    /// Google, which needs only the audiences (OAuth client ids).
    public static func google(audiences: [String], linkByEmail: Bool = false) -> OpenIDProvider {
        OpenIDProvider(
            issuer: "https://accounts.google.com", audiences: audiences,
            jwksURL: "https://www.googleapis.com/oauth2/v3/certs", linkByEmail: linkByEmail)
    }

    public var discoveryURL: String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }
}

/// This service as a client of an OpenID Connect provider, for sign-in from a browser.
public struct OpenIDWebClient: Sendable, Hashable, CustomStringConvertible {
    /// The client id registered with the provider; ID tokens are issued to it, so it is
    /// one of the provider's audiences.
    public var clientID: String
    /// nil: a public client, which PKCE alone protects.
    public var clientSecret: String?
    /// What the sign-in button says: "Sign in with <name>".
    public var name: String

    public init(clientID: String, clientSecret: String? = nil, name: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.name = name
    }

    /// Never the secret, wherever a provider is printed.
    public var description: String {
        "OpenIDWebClient(clientID: \(clientID), clientSecret: \(clientSecret == nil ? "none" : "<redacted>"), name: \(name))"
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
}

extension OpenIDError: IdentityVerificationError {
    /// An unreachable provider is the operator's to fix; anything else is the token's fault.
    public var signInFailure: OpenIDSignInFailure {
        if case .providerUnavailable(let reason) = self { return .providerUnavailable(reason: reason) }
        return .invalidToken(description)
    }
}
