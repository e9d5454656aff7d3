import Foundation

public enum TokenError: Error, Equatable, CustomStringConvertible {
    case titleTooLong
    case titleHasControlCharacters
    case invalidScope(String)
    case expiryInPast
    /// Later than `Lifetime.maximum` from now, or a lifetime that is not a finite positive number.
    case expiryTooFar
    case recoveryUnavailable
    /// The request asks for more than its creator holds.
    case exceedsGrant(GrantViolation)
    /// The owner already holds `TokenLimits.maxLivePerUser` live tokens.
    case tooManyTokens(limit: Int)
    /// Beyond the server's policy (`TokenLimits.maxLifetime`, `requireExpiry`).
    case beyondPolicy(PolicyViolation)
    case invalidMaxUses
    case tooManyAllowedIPs
    case metadataTooLarge
    /// Rotated before: rotate its successor instead.
    case alreadyRotated
    /// Sessions are renewed by signing in, not rotated.
    case notRotatable
    case overlapTooLong(longest: TimeInterval)
    /// An idempotency key that is empty, too long or not printable.
    case invalidIdempotencyKey
    /// A retry with an idempotency key needs the server key to keep the successor's secret.
    case retryUnavailable
    /// A retry with an idempotency key needs an overlap in which the old token still works.
    case retryNeedsOverlap
    case rotatingExpired
    /// A change may only narrow a token's scopes.
    case scopesWidened(String)

    public var description: String {
        switch self {
        case .titleTooLong: "the title must be at most \(Token.maxTitleLength) characters"
        case .titleHasControlCharacters: "the title must not contain control or invisible formatting characters"
        case .invalidScope(let scope): "'\(scope)' is not a valid scope"
        case .expiryInPast: "the expiry must be in the future"
        case .expiryTooFar: "a token may live at most 100 years"
        case .recoveryUnavailable: "recoverable tokens are turned off on this server"
        case .exceedsGrant(let violation): "\(violation)"
        case .tooManyTokens(let limit):
            "Maximum amount of tokens allowed per user exceeded (\(limit)); revoke some first."
        case .beyondPolicy(let violation): "\(violation)"
        case .invalidMaxUses: "max_uses must be a whole number from 1 to \(TokenLifecycle.maxUses)"
        case .tooManyAllowedIPs: "a token may name at most \(TokenLifecycle.maxAllowedIPs) allowed networks"
        case .metadataTooLarge: "metadata may be at most \(TokenLifecycle.maxMetadataBytes) bytes"
        case .alreadyRotated: "the token was already rotated; rotate its successor"
        case .notRotatable: "a session token is renewed by signing in, not rotated"
        case .overlapTooLong(let longest): "the overlap may be at most \(Lifetime.describe(longest))"
        case .invalidIdempotencyKey: "an idempotency key is 1 to 255 printable ASCII characters"
        case .retryUnavailable: "idempotent rotation needs the server key (recoverable tokens are turned off)"
        case .retryNeedsOverlap: "an idempotent rotation needs an overlap: a retry is made with the old token"
        case .rotatingExpired: "an expired token cannot be rotated; create a new one"
        case .scopesWidened(let scope): "a change may only remove scopes; the token does not hold '\(scope)'"
        }
    }
}

/// How a token request asks for more than its creator holds.
public enum GrantViolation: Sendable, Hashable, CustomStringConvertible {
    case kind(TokenKind)
    case scope(String)
    case expiry
    /// Usable from an address the creator's allowlist does not hold.
    case addresses
    /// More uses than the creator has left.
    case uses
    /// The creator is rotated away (in its overlap): its successor creates instead.
    case retiring
    /// A scope the server reserves for administrators' tokens (`TokenLimits.reservedScopes`).
    case reservedScope(String)

    public var description: String {
        switch self {
        case .addresses: "a token cannot be usable from addresses the requesting token's allowlist does not hold"
        case .uses: "a token cannot allow more uses than the requesting token has left"
        case .kind(let kind): "the requesting token cannot create a \(kind.rawValue) token"
        case .scope(let scope): "the requesting token does not hold the scope '\(scope)'"
        case .expiry: "a token cannot outlive the token that creates it"
        case .reservedScope(let scope): "only administrators' tokens may hold the scope '\(scope)'"
        case .retiring: "the requesting token has been rotated or revoked; use its successor"
        }
    }
}

/// Why a presented secret does not authenticate. Raw values are stable: they
/// name outcomes in logs and metrics.
public enum TokenRejection: String, Sendable, Hashable, CaseIterable {
    /// Wrong shape or checksum: rejected without a database read.
    case malformed
    /// Well-formed but not stored (never issued, revoked or collected).
    case unknown
    case expired
    case inactiveUser = "inactive_user"
    /// Its usage limit is spent.
    case exhausted
    /// Presented from an address its allowlist does not hold.
    case addressNotAllowed = "address_not_allowed"
    /// Rotated away, and its overlap has ended: reuse, recorded as `token.reuse_detected`.
    case rotatedAway = "rotated_away"
}
