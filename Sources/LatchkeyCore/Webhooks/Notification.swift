import Foundation

/// The events webhooks hear of: audit kinds whose events are also written to the webhook
/// outbox, in the same transaction as the change they describe.
public enum NotificationType: String, Sendable, CaseIterable, Codable {
    case tokenCreated = "token.created"
    case tokenRotated = "token.rotated"
    case tokenRevoked = "token.revoked"
    case tokenExpired = "token.expired"
    case tokenExpiring = "token.expiring"
    case tokenReuseDetected = "token.reuse_detected"
    case tokenLeaked = "token.leaked"
    case signInThrottled = "signin.throttled"

    /// What an endpoint lists to hear every type.
    public static let everything = "*"
}

/// What a webhook says of an event (the `data` of its payload): the token by uuid, key and
/// title, its owner and who acted. Never a secret. Stored as JSON in the outbox; the owner's
/// username is added when it is delivered.
public struct NotificationData: Sendable, Hashable, Codable {
    public struct TokenFacts: Sendable, Hashable, Codable {
        /// Lowercase, as every other place shows a uuid.
        public var uuid: String
        public var key: String
        public var title: String?
        public var kind: TokenKind
        public var scopes: [String]
        public var createdAt: Date
        public var expiresAt: Date?

        public init(_ token: Token) {
            uuid = token.uuid.uuidString.lowercased()
            key = token.key
            // Redacted as the audit log's copy is: a title is the owner's text, sent onwards.
            title = token.title.map(SecretRedaction.redact)
            kind = token.kind
            scopes = token.scopes
            createdAt = token.created
            expiresAt = token.expires
        }

        enum CodingKeys: String, CodingKey {
            case uuid, key, title, kind, scopes
            case createdAt = "created_at"
            case expiresAt = "expires_at"
        }
    }

    public struct Owner: Sendable, Hashable, Codable {
        public var id: Int64
        public var username: String?
    }

    public struct Actor: Sendable, Hashable, Codable {
        public var via: String
        public var userID: Int64?
        public var address: String?

        enum CodingKeys: String, CodingKey {
            case via
            case userID = "user_id"
            case address
        }
    }

    public var token: TokenFacts?
    public var owner: Owner?
    public var actor: Actor
    public var reason: String?
    /// token.rotated: the new token, and when the old one stops working.
    public var successor: TokenFacts?
    public var retiresAt: Date?
    /// token.expiring: the lead time this notice is for.
    public var leadTimeSeconds: Int64?

    enum CodingKeys: String, CodingKey {
        case token, owner, actor, reason, successor
        case retiresAt = "retires_at"
        case leadTimeSeconds = "lead_time_seconds"
    }

    /// As stored in the outbox and sent: dates in RFC 3339 (UTC, whole seconds), keys sorted.
    public var json: String {
        // A value of these types always encodes.
        String(decoding: (try? Self.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public init?(json: String) {
        guard let data = try? Self.decoder.decode(Self.self, from: Data(json.utf8)) else { return nil }
        self = data
    }

    init(token: TokenFacts?, owner: Int64?, actor: Origin, reason: String) {
        self.token = token
        self.owner = owner.map { Owner(id: $0) }
        self.actor = Actor(via: actor.via, userID: actor.userID, address: actor.address)
        self.reason = reason.isEmpty ? nil : reason
    }

    /// Dates in RFC 3339 (UTC, whole seconds), keys sorted: for the outbox and for payloads.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

extension AuditLog {
    /// An event about `token` (its owner's) as `events` stores it, that webhooks hear of too.
    func notice(
        _ kind: AuditKind, about token: Token, detail: String, by origin: Origin, successor: Token? = nil,
        retires: Date? = nil, leadTime: TimeInterval? = nil
    ) -> AuditEvent {
        events([(kind, token.ownerID, token.uuid, detail)], by: origin)[0]
            .notifying(about: token, successor: successor, retires: retires, leadTime: leadTime)
    }
}

extension AuditEvent {
    /// This event, also told to the webhooks that listen for its kind (which must be a
    /// `NotificationType`), about `token` as it was.
    func notifying(
        about token: Token?, successor: Token? = nil, retires: Date? = nil, leadTime: TimeInterval? = nil
    ) -> AuditEvent {
        var event = self
        var data = NotificationData(
            token: token.map(NotificationData.TokenFacts.init), owner: userID, actor: origin, reason: detail)
        data.successor = successor.map(NotificationData.TokenFacts.init)
        data.retiresAt = retires
        data.leadTimeSeconds = leadTime.map { Int64($0.rounded()) }
        event.notification = data
        return event
    }
}
