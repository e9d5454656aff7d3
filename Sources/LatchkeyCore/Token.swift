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

    public init(
        id: Int64, uuid: UUID, key: String, ownerID: Int64, title: String?, kind: TokenKind,
        scopes: [String], created: Date, expires: Date?, slidingLifetime: TimeInterval?,
        lastUsed: Date?, lastUsedIP: String?, digest: TokenDigest, sealedSecret: Data?
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
    }

    public func isExpired(at now: Date) -> Bool {
        guard let expires else { return false }
        return expires <= now
    }

    public var isRecoverable: Bool { sealedSecret != nil }
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

    public init(
        uuid: UUID, key: String, ownerID: Int64, title: String?, kind: TokenKind, scopes: [String],
        created: Date, expires: Date?, slidingLifetime: TimeInterval?, digest: TokenDigest,
        sealedSecret: Data?, parentID: Int64? = nil
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
    }

    public func stored(id: Int64) -> Token {
        Token(
            id: id, uuid: uuid, key: key, ownerID: ownerID, title: title, kind: kind, scopes: scopes,
            created: created, expires: expires, slidingLifetime: slidingLifetime, lastUsed: nil,
            lastUsedIP: nil, digest: digest, sealedSecret: sealedSecret)
    }
}

/// A change to a token's use record; nil fields stay as they are.
public struct TokenUsage: Sendable, Hashable {
    public var expires: Date?
    public var lastUsed: Date?
    public var lastUsedIP: String?

    public init(expires: Date? = nil, lastUsed: Date? = nil, lastUsedIP: String? = nil) {
        self.expires = expires
        self.lastUsed = lastUsed
        self.lastUsedIP = lastUsedIP
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
    public var limit: Int?
    public var offset: Int

    public init(
        ownerID: Int64? = nil, kind: TokenKind? = nil, key: String? = nil,
        expiringAfter: Date? = nil, expiringUntil: Date? = nil, limit: Int? = nil, offset: Int = 0
    ) {
        self.ownerID = ownerID
        self.kind = kind
        self.key = key
        self.expiringAfter = expiringAfter
        self.expiringUntil = expiringUntil
        self.limit = limit
        self.offset = offset
    }
}
