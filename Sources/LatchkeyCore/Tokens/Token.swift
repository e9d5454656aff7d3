import Foundation

public enum TokenKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Issued by a sign-in (password or OpenID Connect).
    case session
    /// Created explicitly by its owner, usually long-lived and titled.
    case app
}

/// A stored token. It never holds the secret itself, only facts about it.
public struct Token: Sendable, Hashable, Identifiable {
    public static let maxTitleLength = 255

    public var id: Int64
    public var uuid: UUID
    /// First characters of the secret: a public handle, not unique on its own.
    public var key: String
    public var ownerID: Int64
    public var title: String?
    public var kind: TokenKind
    public var scopes: [String]
    public var created: Date
    /// nil: never expires.
    public var expires: Date?
    /// When set, each use moves `expires` to now + this many seconds.
    public var slidingLifetime: TimeInterval?
    public var lastUsed: Date?
    public var lastUsedIP: String?
    public var digest: TokenDigest
    /// The secret sealed under the server key, for dialects that must show it again.
    public var sealedSecret: Data?
    public var lifecycle: TokenLifecycle

    public init(
        id: Int64, uuid: UUID, key: String, ownerID: Int64, title: String?, kind: TokenKind,
        scopes: [String], created: Date, expires: Date?, slidingLifetime: TimeInterval?,
        lastUsed: Date?, lastUsedIP: String?, digest: TokenDigest, sealedSecret: Data?,
        lifecycle: TokenLifecycle = TokenLifecycle()
    ) {
        self.id = id
        self.uuid = uuid
        self.key = key
        self.ownerID = ownerID
        self.title = title
        self.kind = kind
        self.scopes = scopes
        self.created = created
        self.expires = expires
        self.slidingLifetime = slidingLifetime
        self.lastUsed = lastUsed
        self.lastUsedIP = lastUsedIP
        self.digest = digest
        self.sealedSecret = sealedSecret
        self.lifecycle = lifecycle
    }

    public func isExpired(at now: Date) -> Bool {
        guard let expires else { return false }
        return expires <= now
    }

    public var isRecoverable: Bool { sealedSecret != nil }

    /// Rotated away and past its overlap: presenting it now is reuse.
    public func isRetired(at now: Date) -> Bool {
        guard let retires = lifecycle.retires else { return false }
        return retires <= now
    }

    /// Whether a use from `address` is allowed (nil: an address unknown, allowed only without an allowlist).
    public func allowsUse(from address: String?) -> Bool {
        guard !lifecycle.allowedIPs.isEmpty else { return true }
        guard let address else { return false }
        return lifecycle.allowedIPs.contains { $0.contains(address) }
    }
}

/// What Latchkey's own API adds to a token's life: usage limits, allowlists, metadata,
/// where it was used from, and rotation.
public struct TokenLifecycle: Sendable, Hashable {
    public static let maxAllowedIPs = 64
    public static let maxMetadataBytes = 4096
    public static let maxUses = 1_000_000_000
    public static let recentIPCount = 10
    public static let maxUserAgentLength = 256

    /// nil: unlimited.
    public var maxUses: Int?
    /// Counted down atomically in the database on each use; nil when unlimited.
    public var usesRemaining: Int?
    /// Empty: usable from anywhere.
    public var allowedIPs: [CIDR]
    /// A JSON object's text, kept as the API wrote it; opaque to the domain.
    public var metadata: String?
    public var lastUsedAgent: String?
    /// The last distinct addresses it was used from, newest first.
    public var recentIPs: [String]
    /// The token this one replaced by rotation.
    public var rotatedFrom: UUID?
    /// Set once rotated: it stops authenticating at this instant (the end of the overlap).
    public var retires: Date?

    public init(
        maxUses: Int? = nil, usesRemaining: Int? = nil, allowedIPs: [CIDR] = [], metadata: String? = nil,
        lastUsedAgent: String? = nil, recentIPs: [String] = [], rotatedFrom: UUID? = nil, retires: Date? = nil
    ) {
        self.maxUses = maxUses
        self.usesRemaining = usesRemaining
        self.allowedIPs = allowedIPs
        self.metadata = metadata
        self.lastUsedAgent = lastUsedAgent
        self.recentIPs = recentIPs
        self.rotatedFrom = rotatedFrom
        self.retires = retires
    }

    /// `recent` with `address` moved to the front, at most `recentIPCount` long.
    static func recent(_ recent: [String], adding address: String) -> [String] {
        Array(([address] + recent.filter { $0 != address }).prefix(recentIPCount))
    }
}

/// A token about to be stored; the store assigns the id.
public struct NewToken: Sendable, Hashable {
    public var uuid: UUID
    public var key: String
    public var ownerID: Int64
    public var title: String?
    public var kind: TokenKind
    public var scopes: [String]
    public var created: Date
    public var expires: Date?
    public var slidingLifetime: TimeInterval?
    public var digest: TokenDigest
    public var sealedSecret: Data?
    /// The app token that created this one: revoking it revokes this one too.
    public var parentID: Int64?
    /// Its usage limit, allowlist, metadata and predecessor (its use record starts empty).
    public var lifecycle: TokenLifecycle
    /// A rotation's successor, kept sealed for an idempotent retry until the overlap ends.
    public var retry: RotationRetry?

    public init(
        uuid: UUID, key: String, ownerID: Int64, title: String?, kind: TokenKind, scopes: [String],
        created: Date, expires: Date?, slidingLifetime: TimeInterval?, digest: TokenDigest,
        sealedSecret: Data?, parentID: Int64? = nil, lifecycle: TokenLifecycle = TokenLifecycle(),
        retry: RotationRetry? = nil
    ) {
        self.uuid = uuid
        self.key = key
        self.ownerID = ownerID
        self.title = title
        self.kind = kind
        self.scopes = scopes
        self.created = created
        self.expires = expires
        self.slidingLifetime = slidingLifetime
        self.digest = digest
        self.sealedSecret = sealedSecret
        self.parentID = parentID
        self.lifecycle = lifecycle
        self.retry = retry
    }

    public func stored(id: Int64) -> Token {
        var lifecycle = lifecycle
        lifecycle.lastUsedAgent = nil
        lifecycle.recentIPs = []
        return Token(
            id: id, uuid: uuid, key: key, ownerID: ownerID, title: title, kind: kind, scopes: scopes,
            created: created, expires: expires, slidingLifetime: slidingLifetime, lastUsed: nil,
            lastUsedIP: nil, digest: digest, sealedSecret: sealedSecret, lifecycle: lifecycle)
    }
}

/// The sealed secret of a rotation's successor, returned again to a retry that presents the
/// same idempotency key before `until` (the end of the overlap).
public struct RotationRetry: Sendable, Hashable {
    public var idempotencyKey: String
    public var sealedSecret: Data
    public var until: Date

    public init(idempotencyKey: String, sealedSecret: Data, until: Date) {
        self.idempotencyKey = idempotencyKey
        self.sealedSecret = sealedSecret
        self.until = until
    }
}

/// What `PATCH` may change; nil leaves a field as it is.
public struct TokenChange: Sendable, Hashable {
    /// `.some(nil)` clears the title.
    public var title: String??
    /// `.some(nil)` clears the metadata.
    public var metadata: String??
    public var allowedIPs: [CIDR]?
    /// Only ever narrower than the token's scopes.
    public var scopes: [String]?

    public init(title: String?? = nil, metadata: String?? = nil, allowedIPs: [CIDR]? = nil, scopes: [String]? = nil) {
        self.title = title
        self.metadata = metadata
        self.allowedIPs = allowedIPs
        self.scopes = scopes
    }
}

/// A change to a token's use record; nil fields stay as they are. The address, user agent
/// and recent addresses are written with `lastUsed`, as one record of the use.
public struct TokenUsage: Sendable, Hashable {
    public var expires: Date?
    public var lastUsed: Date?
    public var lastUsedIP: String?
    public var lastUsedAgent: String?
    public var recentIPs: [String] = []

    public init(
        expires: Date? = nil, lastUsed: Date? = nil, lastUsedIP: String? = nil, lastUsedAgent: String? = nil,
        recentIPs: [String] = []
    ) {
        self.expires = expires
        self.lastUsed = lastUsed
        self.lastUsedIP = lastUsedIP
        self.lastUsedAgent = lastUsedAgent
        self.recentIPs = recentIPs
    }

    public var isEmpty: Bool { expires == nil && lastUsed == nil }
}

/// Which tokens to list. Results are ordered oldest first.
public struct TokenQuery: Sendable, Hashable {
    public var ownerID: Int64?
    public var kind: TokenKind?
    public var key: String?
    /// Only tokens with `after < expires <= until`.
    public var expiringAfter: Date?
    public var expiringUntil: Date?
    /// Only tokens with a larger id: a cursor's position.
    public var afterID: Int64?
    public var limit: Int?
    public var offset: Int
    /// Newest first (the web pages' lists); else oldest first.
    public var newestFirst: Bool

    public init(
        ownerID: Int64? = nil, kind: TokenKind? = nil, key: String? = nil,
        expiringAfter: Date? = nil, expiringUntil: Date? = nil, afterID: Int64? = nil, limit: Int? = nil,
        offset: Int = 0, newestFirst: Bool = false
    ) {
        self.newestFirst = newestFirst
        self.afterID = afterID
        self.ownerID = ownerID
        self.kind = kind
        self.key = key
        self.expiringAfter = expiringAfter
        self.expiringUntil = expiringUntil
        self.limit = limit
        self.offset = offset
    }
}
