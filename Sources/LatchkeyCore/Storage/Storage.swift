import Foundation

/// Persistence the domain needs; one implementation per database backend
/// (see LatchkeyStore), all held to one conformance suite.
public protocol LatchkeyStorage: Sendable {
    func insertUser(_ user: NewUser) async throws -> User
    func user(id: Int64) async throws -> User?
    /// Case-insensitive.
    func user(username: String) async throws -> User?
    /// Case-insensitive match on the username, else on the email.
    func user(login: String) async throws -> User?
    func users() async throws -> [User]
    func userCount() async throws -> Int
    /// Case-insensitive.
    func user(email: String) async throws -> User?
    /// How many usernames begin with `prefix` (case-insensitive); for deriving new names.
    func usernameCount(withPrefix prefix: String) async throws -> Int
    /// The user an external identity (an OpenID Connect issuer and subject) is linked to.
    func linkedUser(provider: String, subject: String) async throws -> User?
    /// Links an external identity to a user; linking it again to the same user changes nothing.
    func link(provider: String, subject: String, to userID: Int64, at date: Date) async throws
    /// An inactive user's tokens stop authenticating; nothing is deleted.
    func setActive(userID: Int64, _ isActive: Bool) async throws
    /// nil: the account cannot sign in with a password.
    func setPasswordHash(userID: Int64, _ hash: String?) async throws

    /// With `maxLivePerOwner`, counts the owner's live tokens (unexpired at `token.created`)
    /// in the same transaction as the insert and throws `StorageError.tokenLimitReached`
    /// at the limit, so concurrent creations cannot pass it. `events` are recorded in the
    /// same transaction: a token is never stored without its audit trail, and one commit
    /// costs one sync to disk, not two.
    func insertToken(_ token: NewToken, maxLivePerOwner: Int?, recording events: [AuditEvent]) async throws -> Token
    /// The hot path of every authenticated request: one indexed read.
    func tokenAndOwner(digest: TokenDigest) async throws -> (Token, User)?
    func token(uuid: UUID) async throws -> Token?
    func tokens(_ query: TokenQuery) async throws -> [Token]
    func countTokens(_ query: TokenQuery) async throws -> Int
    /// The tokens `query` selects (its limit and offset applied) and how many match in all
    /// (ignoring them), read together: one trip to the store, and a total that agrees with the page.
    func tokenPage(_ query: TokenQuery) async throws -> TokenPage
    /// Counts one use of a token with a usage limit, atomically across nodes and whatever
    /// any cache holds. - Returns: the uses left after this one; nil when none was left.
    func consumeUse(tokenID: Int64) async throws -> Int?
    /// Applies `change` and records `events` in one transaction.
    /// - Returns: the token as changed; nil if it is gone.
    func updateToken(id: Int64, _ change: TokenChange, recording events: [AuditEvent]) async throws -> Token?
    /// In one transaction: the token stops authenticating at `retires`, `successor` is stored,
    /// takes over the tokens the old one created, and `events` are recorded.
    /// - Throws: `StorageError.alreadyRotated` when the token was rotated before.
    func rotateToken(id: Int64, retires: Date, successor: NewToken, recording events: [AuditEvent]) async throws
        -> Token
    /// The token that replaced `uuid` by rotation, with its sealed copy while one is kept.
    func successor(of uuid: UUID) async throws -> (Token, RotationRetry?)?
    /// Forgets the sealed copies of successors whose overlap ended by `cutoff`.
    func wipeRotationRetries(endedBefore cutoff: Date) async throws
    /// Writes uses by token id in one transaction; ids no longer stored are skipped.
    func recordUsage(_ usage: [Int64: TokenUsage]) async throws
    /// Deleting a token deletes the tokens it created, and theirs, in the same statement.
    /// Each deletion records the events `recording` makes of the tokens deleted, in its transaction.
    /// - Returns: every token deleted, the named one first; empty if there was none.
    func deleteToken(id: Int64, recording: @escaping @Sendable ([Token]) -> [AuditEvent]) async throws -> [Token]
    /// - Returns: the tokens deleted (those that expired before `cutoff`, with the tokens they created).
    func deleteTokens(expiredBefore cutoff: Date, recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    /// - Returns: the tokens deleted (those rotated away before `cutoff`, with the tokens they created).
    func deleteTokens(retiredBefore cutoff: Date, recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    /// - Returns: the tokens deleted (every token of the owner, or only those of `kind`, with
    ///   the tokens they created).
    func deleteTokens(ownerID: Int64, kind: TokenKind?, recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    /// Marks, once per token, that its expiry notice for `lead` is due: app tokens still working
    /// that expire after `lower` and by `upper`, and have had no notice for `lead` or a shorter
    /// lead time. Records `recording`'s events of them in the same transaction.
    /// - Returns: the tokens marked.
    func markExpiryNotices(
        lead: TimeInterval, expiringAfter lower: Date, through upper: Date,
        recording: @escaping @Sendable ([Token]) -> [AuditEvent]
    ) async throws -> [Token]

    /// Stores a service client; `client.id` is ignored and assigned by the store.
    func insertClient(_ client: ServiceClient) async throws -> ServiceClient
    func client(clientID: String) async throws -> ServiceClient?
    func clients() async throws -> [ServiceClient]
    /// - Returns: whether a client was deleted.
    func deleteClient(clientID: String) async throws -> Bool

    /// Stores events in one transaction; each `id` is ignored and assigned by the store.
    func recordEvents(_ events: [AuditEvent]) async throws
    /// The newest events first.
    func events(_ query: AuditQuery) async throws -> [AuditEvent]
    /// - Returns: how many events were deleted.
    func deleteEvents(before cutoff: Date) async throws -> Int

    // Webhooks. Events with a `notification` are written to the outbox by `recordEvents` and by
    // every call above that records events, in the same transaction (when any endpoint is enabled).

    /// `endpoint.id` is ignored and assigned by the store.
    func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws -> WebhookEndpoint
    func webhookEndpoints() async throws -> [WebhookEndpoint]
    func webhookEndpoint(uuid: UUID) async throws -> WebhookEndpoint?
    /// Writes the `parts` of the endpoint. - Returns: whether it is still stored.
    func updateWebhookEndpoint(_ endpoint: WebhookEndpoint, writing parts: WebhookEndpointParts) async throws -> Bool
    /// Its deliveries go with it. - Returns: whether one was deleted.
    func deleteWebhookEndpoint(id: Int64) async throws -> Bool
    /// Makes the deliveries of up to `limit` outbox messages not yet handed out: one per enabled
    /// endpoint that hears the message's type, existed when it happened and may hear of its
    /// owner. Each message is handed out once, whichever node does it. - Returns: messages handled.
    func fanOutWebhookMessages(at now: Date, limit: Int) async throws -> Int
    /// Takes up to `limit` pending deliveries due by `now` (of enabled endpoints) for one attempt
    /// each, leasing them until `leaseEnd`: a node that dies meanwhile leaves them to be tried
    /// again once the lease has passed; no two nodes take the same delivery at once.
    func claimWebhookDeliveries(dueBy now: Date, leaseEnd: Date, limit: Int) async throws -> [DueDelivery]
    /// Records an attempt and its outcome in one transaction: a success is remembered on the
    /// endpoint; a delivery that failed for good disables an endpoint nothing has reached
    /// since that delivery was made.
    func recordWebhookAttempt(_ attempt: WebhookAttempt, of delivery: DueDelivery, outcome: WebhookAttemptOutcome)
        async throws
    /// Newest first; `endpointID` nil: every endpoint's.
    func webhookDeliveries(endpointID: Int64?, failedOnly: Bool, limit: Int) async throws -> [WebhookDelivery]
    func webhookDelivery(id: Int64) async throws -> (WebhookDelivery, endpointID: Int64)?
    /// The delivery, unless pending, is pending again, due at `now`, with its attempts counted
    /// afresh. - Returns: whether it was.
    func redeliverWebhook(id: Int64, at now: Date) async throws -> Bool
    /// Forgets messages that happened before `cutoff` and are no longer being delivered.
    /// - Returns: how many went.
    func deleteWebhookMessages(before cutoff: Date) async throws -> Int

    /// Throws when the database cannot answer a trivial query.
    func checkHealth() async throws

    /// Reports, until cancelled, the changes other processes (other nodes, the CLI) make to
    /// tokens and users: first `.anything` once it is watching, `.unobservable` while it cannot
    /// watch, and `.anything` again when it can. Changes are seen within a second.
    func observeChanges(_ onChange: @escaping @Sendable (StorageChange) -> Void) async throws
}

/// A page of tokens and how many tokens match its query in all.
public struct TokenPage: Equatable, Sendable {
    public var tokens: [Token]
    public var total: Int

    public init(tokens: [Token], total: Int) {
        self.tokens = tokens
        self.total = total
    }
}

extension LatchkeyStorage {
    public func insertToken(_ token: NewToken) async throws -> Token {
        try await insertToken(token, maxLivePerOwner: nil, recording: [])
    }

    /// Deletes without recording anything (tests, and tokens already accounted for).
    public func deleteToken(id: Int64) async throws -> [Token] {
        try await deleteToken(id: id, recording: { _ in [] })
    }
}

public enum StorageError: Error, Equatable, CustomStringConvertible {
    case usernameTaken(String)
    case emailTaken(String)
    case tokenLimitReached
    case alreadyRotated
    /// The token creating another was rotated away or revoked meanwhile.
    case creatorRetired

    public var description: String {
        switch self {
        case .alreadyRotated: "the token was already rotated"
        case .creatorRetired: "the creating token was rotated away or revoked"
        case .usernameTaken(let name): "the username '\(name)' is already taken"
        case .emailTaken(let email): "the email '\(email)' is already in use"
        case .tokenLimitReached: "the owner already has the most live tokens allowed"
        }
    }
}

/// The database cannot be reached (or is not ready yet). Answered as 503 in each
/// dialect's shape; a request that failed this way changed nothing.
public struct StorageUnavailable: Error, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "the database is unavailable: \(reason)" }

    /// What a client is told: nothing about the database's address or state.
    public static let publicMessage = "The service is temporarily unavailable; try again shortly."
}
