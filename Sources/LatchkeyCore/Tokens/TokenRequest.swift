import Foundation

/// What a new token should be.
public struct TokenRequest: Sendable, Hashable {
    public enum Expiry: Sendable, Hashable {
        case never
        case at(Date)
        case after(TimeInterval)
        /// Expires this long after its last use.
        case sliding(TimeInterval)
    }

    public var kind: TokenKind
    public var title: String?
    public var scopes: [String]
    public var expiry: Expiry
    /// Keep a sealed copy of the secret so that it can be shown again.
    public var recoverable: Bool
    /// nil: unlimited (or, from a creator with a usage limit, the uses it has left).
    public var maxUses: Int?
    /// Empty: anywhere (or, from a creator with an allowlist, that allowlist).
    public var allowedIPs: [CIDR]
    /// A JSON object's text, at most `TokenLifecycle.maxMetadataBytes`.
    public var metadata: String?

    public init(
        kind: TokenKind, title: String? = nil, scopes: [String] = [], expiry: Expiry = .never,
        recoverable: Bool = false, maxUses: Int? = nil, allowedIPs: [CIDR] = [], metadata: String? = nil
    ) {
        self.kind = kind
        self.title = title
        self.scopes = scopes
        self.expiry = expiry
        self.recoverable = recoverable
        self.maxUses = maxUses
        self.allowedIPs = allowedIPs
        self.metadata = metadata
    }
}

/// A token just created, with the secret that is shown to its owner this once.
public struct IssuedToken: Sendable {
    public let token: Token
    public let secret: TokenSecret
}
