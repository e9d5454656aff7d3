import Foundation

/// What a creator may hand on to the tokens it creates. A token never creates a token
/// with a broader kind, a scope it lacks, or a later expiry than its own; the account
/// itself (a password or OpenID sign-in, the operator's CLI, a sign-in session acting
/// for its user) is bounded only by what the request asks. A token an app token creates
/// lives no longer than its creator: revoking the creator revokes it.
public struct TokenGrant: Sendable, Hashable {
    /// The kinds of token it may create.
    public var kinds: Set<TokenKind>
    /// The scopes it may give; nil: every scope (it acts as the account).
    public var scopes: Set<String>?
    /// The latest expiry it may give; nil: no limit.
    public var expires: Date?
    /// The app token whose grant this is: tokens it creates are revoked with it.
    public var tokenID: Int64?
    /// The networks its tokens may be used from; nil: anywhere.
    public var allowedIPs: [CIDR]?
    /// The most uses its tokens may allow; nil: unlimited.
    public var maxUses: Int?
    /// Its token is being replaced by rotation: it hands on nothing (whatever it made now would
    /// not fall with its successor's family).
    public var isRetiring = false

    public init(
        kinds: Set<TokenKind>, scopes: Set<String>?, expires: Date?, tokenID: Int64? = nil,
        allowedIPs: [CIDR]? = nil, maxUses: Int? = nil
    ) {
        self.kinds = kinds
        self.scopes = scopes
        self.expires = expires
        self.tokenID = tokenID
        self.allowedIPs = allowedIPs
        self.maxUses = maxUses
    }

    /// The account itself: any kind, any scope, any lifetime within `Lifetime.maximum`.
    public static let account = TokenGrant(kinds: Set(TokenKind.allCases), scopes: nil, expires: nil)

    /// What `token` may hand on. A session carries every right of its user; an app
    /// token only its own kind, scopes and expiry, and nothing once it is rotated away (in its
    /// overlap it still authenticates, but a token being retired creates no tokens).
    public init(of token: Token) {
        switch token.kind {
        case .session: self = .account
        case .app:
            self.init(
                kinds: [.app], scopes: Set(token.scopes), expires: token.expires, tokenID: token.id,
                allowedIPs: token.lifecycle.allowedIPs.isEmpty ? nil : token.lifecycle.allowedIPs,
                maxUses: token.lifecycle.usesRemaining)
            isRetiring = token.lifecycle.retires != nil
        }
    }

    /// The allowlist a new token gets: the one requested, each network within this grant's;
    /// none requested, this grant's own.
    public func allowlist(_ requested: [CIDR]) throws(TokenError) -> [CIDR] {
        guard let allowedIPs else { return requested }
        guard !requested.isEmpty else { return allowedIPs }
        for network in requested where !allowedIPs.contains(where: { $0.contains(network) }) {
            throw .exceedsGrant(.addresses)
        }
        return requested
    }

    /// The usage limit a new token gets: the one requested, no more than this grant's; none
    /// requested, this grant's own.
    public func usageLimit(_ requested: Int?) throws(TokenError) -> Int? {
        guard let maxUses else { return requested }
        let limit = requested ?? maxUses
        guard limit <= maxUses, limit > 0 else { throw .exceedsGrant(.uses) }
        return limit
    }

    public func holds(_ scope: String) -> Bool {
        scopes?.contains(scope) ?? true
    }

    /// Whether `token` is within this grant: showing its secret hands on no more than this grant holds.
    public func covers(_ token: Token) -> Bool {
        violation(by: token) == nil
    }

    /// What `token` holds beyond this grant, the first thing found; nil: the grant covers it.
    public func violation(by token: Token) -> GrantViolation? {
        if let violation = violation(kind: token.kind, scopes: token.scopes, expires: token.expires) {
            return violation
        }
        let allowedIPs = token.lifecycle.allowedIPs
        if (try? allowlist(allowedIPs)) != allowedIPs { return .addresses }
        let uses = token.lifecycle.usesRemaining
        if (try? usageLimit(uses)) != uses { return .uses }
        return nil
    }

    /// The kind, scopes and expiry a token would have, beyond this grant; nil: within it.
    func violation(kind: TokenKind, scopes: [String], expires: Date?) -> GrantViolation? {
        guard !isRetiring else { return .retiring }
        guard kinds.contains(kind) else { return .kind(kind) }
        if let missing = scopes.first(where: { !holds($0) }) { return .scope(missing) }
        return within(expiry: expires) ? nil : .expiry
    }

    /// Whether an expiry (nil: never) is no later than this grant's.
    public func within(expiry: Date?) -> Bool {
        guard let limit = expires else { return true }
        guard let expiry else { return false }
        return expiry <= limit
    }

    /// A default expiry, shortened to this grant's where it would outlive it. Used only
    /// where the client did not choose an expiry; an explicit one beyond the grant is refused.
    public func capping(_ expiry: TokenRequest.Expiry, now: Date) -> TokenRequest.Expiry {
        guard let limit = expires else { return expiry }
        switch expiry {
        case .never: return .at(limit)
        case .at(let date): return .at(min(date, limit))
        case .after(let interval):
            return Lifetime.isAcceptable(interval) && now.addingTimeInterval(interval) > limit ? .at(limit) : expiry
        case .sliding: return expiry
        }
    }
}
