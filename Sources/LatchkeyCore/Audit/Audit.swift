import Foundation

/// Who did something and through what, for the audit log: the acting user (nil for an
/// anonymous caller or the system itself), the dialect, command or client, and the address.
public struct Origin: Sendable, Hashable {
    public var userID: Int64?
    /// `stencila`, `quay`, `oauth`, `client:<client id>`, `cli`, `system`, …
    public var via: String
    public var address: String?

    public init(userID: Int64? = nil, via: String, address: String? = nil) {
        self.userID = userID
        self.via = via
        self.address = address
    }

    /// The operator at the command line.
    public static let cli = Origin(via: "cli")
    /// The server itself (garbage collection).
    public static let system = Origin(via: "system")
}

/// The kinds of audit event; raw values are stable (stored and queried).
public enum AuditKind: String, Sendable, CaseIterable {
    case tokenCreated = "token.created"
    case tokenRevoked = "token.revoked"
    case tokenExpired = "token.expired"
    /// An expiry notice was sent (a webhook's lead time was reached).
    case tokenExpiring = "token.expiring"
    case tokenLeaked = "token.leaked"
    case tokenCreationThrottled = "token.creation_throttled"
    case tokenRotated = "token.rotated"
    case tokenUpdated = "token.updated"
    /// A token rotated away was presented after its overlap.
    case tokenReuseDetected = "token.reuse_detected"
    /// A stored token was refused: expired, used up, or from an address not allowed.
    case tokenUseRefused = "token.use_refused"
    case webhookCreated = "webhook.created"
    /// Its events, description or disabled state changed.
    case webhookUpdated = "webhook.updated"
    case webhookSecretRotated = "webhook.secret_rotated"
    case webhookDeleted = "webhook.deleted"
    case signInSucceeded = "signin.succeeded"
    case signInFailed = "signin.failed"
    case signInThrottled = "signin.throttled"
    case openIDAccountCreated = "openid.account_created"
    case openIDAccountLinked = "openid.account_linked"
    case userCreated = "user.created"
    case userImported = "user.imported"
    case userDeactivated = "user.deactivated"
    case userActivated = "user.activated"
    case passwordChanged = "user.password_changed"
}

/// Something that happened, kept for auditing. Never holds a secret or a password.
public struct AuditEvent: Sendable, Hashable {
    public var id: Int64
    public var at: Date
    /// An `AuditKind` raw value (kept as text: a newer node may write kinds this one does not know).
    public var kind: String
    /// The account the event is about.
    public var userID: Int64?
    public var tokenUUID: UUID?
    public var origin: Origin
    public var detail: String
    /// Set when webhooks hear of this event: what they are told. Written to the outbox with
    /// the event; not part of the audit log itself.
    public var notification: NotificationData?

    public init(
        id: Int64 = 0, at: Date, kind: String, userID: Int64?, tokenUUID: UUID? = nil, origin: Origin,
        detail: String = ""
    ) {
        self.id = id
        self.at = at
        self.kind = kind
        self.userID = userID
        self.tokenUUID = tokenUUID
        self.origin = origin
        self.detail = detail
    }
}

/// Which events to read, newest first.
public struct AuditQuery: Sendable, Hashable {
    public var userID: Int64?
    public var kind: AuditKind?
    public var since: Date?
    public var limit: Int

    public init(userID: Int64? = nil, kind: AuditKind? = nil, since: Date? = nil, limit: Int = 1000) {
        self.userID = userID
        self.kind = kind
        self.since = since
        self.limit = limit
    }
}

/// Writes and reads the audit log.
public struct AuditLog: Sendable {
    public static let maxDetailLength = 1000

    package let storage: any LatchkeyStorage
    public let clock: any WallClock

    public init(storage: any LatchkeyStorage, clock: any WallClock = SystemClock()) {
        self.storage = storage
        self.clock = clock
    }

    /// Records an event now. The detail is redacted of anything shaped like a secret and
    /// cut to `maxDetailLength`, so no caller can put a secret in the log by mistake.
    /// - Parameter notifying: webhooks hear of it too (`kind` is a `NotificationType`).
    public func record(
        _ kind: AuditKind, user: Int64?, token: UUID? = nil, by origin: Origin, detail: String = "",
        notifying: Bool = false
    ) async throws {
        let events = events([(kind, user, token, detail)], by: origin)
        try await storage.recordEvents(notifying ? events.map { $0.notifying(about: nil) } : events)
    }

    /// Records several events at once, in one write.
    public func record(_ items: [(AuditKind, user: Int64?, token: UUID?, detail: String)], by origin: Origin)
        async throws
    {
        guard !items.isEmpty else { return }
        try await storage.recordEvents(events(items, by: origin))
    }

    /// Events as `record` would store them (bounded, cleaned, redacted, stamped now), for a
    /// storage call that records them in the same transaction as the change they describe.
    public func events(_ items: [(AuditKind, user: Int64?, token: UUID?, detail: String)], by origin: Origin)
        -> [AuditEvent]
    {
        var origin = origin
        origin.address = origin.address.map { String($0.prefix(64)) }
        origin.via = String(Self.clean(origin.via).prefix(100))
        let now = clock.now
        return items.map { kind, user, token, detail in
            AuditEvent(
                at: now, kind: kind.rawValue, userID: user, tokenUUID: token, origin: origin,
                detail: String(Self.clean(detail).prefix(Self.maxDetailLength)))
        }
    }

    private static func clean(_ text: String) -> String {
        SecretRedaction.redact(Identifier.withoutControlOrFormatCharacters(text))
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await storage.events(query)
    }

    /// Deletes events older than `retention`; how many went.
    public func collect(olderThan retention: TimeInterval) async throws -> Int {
        try await storage.deleteEvents(before: clock.now.addingTimeInterval(-retention))
    }
}
