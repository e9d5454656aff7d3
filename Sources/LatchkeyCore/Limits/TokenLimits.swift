import Foundation

/// Bounds on the tokens users hold: how many, how fast they are made, and how long they live.
public struct TokenLimits: Sendable, Hashable {
    /// Live (unexpired) tokens per user, sessions included: knox's `TOKEN_LIMIT_PER_USER`.
    public var maxLivePerUser: Int?
    /// Creations per user, by any route; nil: unlimited (the operator's CLI).
    public var creationRate: RateLimit?
    /// The longest a token of a kind may live from its creation, sliding renewals included;
    /// a kind not named may live up to `Lifetime.maximum`, or never expire.
    public var maxLifetime: [TokenKind: TimeInterval]
    /// Whether every token must expire.
    public var requireExpiry: Bool
    /// The longest a rotated token keeps working beside its successor.
    public var maxRotationOverlap: TimeInterval
    /// What presenting a token rotated away (after its overlap) does beyond refusing it.
    public var onReuse: ReuseResponse
    /// Scopes only an administrator's tokens may hold: `superuser` always, and any the operator
    /// names. A relying service that honours one from introspection must not be escalated by
    /// an account that gave it to itself.
    public let reservedScopes: Set<String>

    /// The scope every server reserves: administrators' tokens use it for every user's tokens.
    public static let superuserScope = "superuser"

    public init(
        maxLivePerUser: Int? = 1000, creationRate: RateLimit? = nil, maxLifetime: [TokenKind: TimeInterval] = [:],
        requireExpiry: Bool = false, maxRotationOverlap: TimeInterval = 7 * 86_400, onReuse: ReuseResponse = .notify,
        reservedScopes: Set<String> = []
    ) {
        self.maxLivePerUser = maxLivePerUser
        self.creationRate = creationRate
        self.maxLifetime = maxLifetime
        self.requireExpiry = requireExpiry
        self.maxRotationOverlap = maxRotationOverlap
        self.onReuse = onReuse
        self.reservedScopes = reservedScopes.union([Self.superuserScope])
    }

    /// The first of `scopes` that `owner` may not hold: a reserved one, unless an administrator's.
    public func reservedScope(in scopes: [String], for owner: User) -> String? {
        owner.isAdmin ? nil : scopes.first(where: reservedScopes.contains)
    }

    /// The scopes of `owner`'s token as others may rely on them: a reserved scope only while
    /// the owner is an administrator (one demoted since keeps none of them).
    public func effectiveScopes(_ scopes: [String], of owner: User) -> [String] {
        owner.isAdmin ? scopes : scopes.filter { !reservedScopes.contains($0) }
    }

    public static let `default` = TokenLimits()
    /// What `serve` applies unless configured otherwise.
    public static let server = TokenLimits(maxLivePerUser: 1000, creationRate: RateLimit(count: 300, window: 60))

    /// A lifetime the server chose (not the client), shortened to the longest `kind` may live.
    /// An expiry a client asks for is never shortened: beyond policy, it is refused.
    public func cappingDefault(_ expiry: TokenRequest.Expiry, kind: TokenKind, now: Date) -> TokenRequest.Expiry {
        guard let longest = maxLifetime[kind] else { return expiry }
        switch expiry {
        case .never: return .after(longest)
        case .at(let date): return .at(min(date, now.addingTimeInterval(longest)))
        case .after(let interval): return .after(min(interval, longest))
        case .sliding(let interval): return .sliding(min(interval, longest))
        }
    }

    /// Whether a token created at `now` and expiring at `expires` (nil: never) is within policy.
    func violation(kind: TokenKind, expires: Date?, now: Date) -> PolicyViolation? {
        if let longest = maxLifetime[kind] {
            guard let expires, expires.timeIntervalSince(now) <= longest else {
                return .lifetimeTooLong(kind, longest: longest)
            }
        }
        if requireExpiry && expires == nil { return .expiryRequired }
        return nil
    }

    /// The latest a sliding renewal may move a token's expiry to.
    func renewalCeiling(of token: Token) -> Date? {
        maxLifetime[token.kind].map { token.created.addingTimeInterval($0) }
    }
}

/// How a token request goes beyond the server's policy.
public enum PolicyViolation: Sendable, Hashable, CustomStringConvertible {
    case expiryRequired
    case lifetimeTooLong(TokenKind, longest: TimeInterval)

    public var description: String {
        switch self {
        case .expiryRequired: "this server requires every token to expire"
        case .lifetimeTooLong(let kind, let longest):
            "on this server a\(kind == .app ? "n" : "") \(kind.rawValue) token may live at most \(Lifetime.describe(longest))"
        }
    }
}

/// What reuse of a rotated-away token does besides its refusal and a `token.reuse_detected` event.
public enum ReuseResponse: String, Sendable, Hashable, CaseIterable {
    /// Nothing more: the event is the notification (revoking killed CI jobs at GitLab).
    case notify
    /// Revokes the token's successors too: whoever holds the stolen one may hold them.
    case revokeFamily = "revoke-family"
}
