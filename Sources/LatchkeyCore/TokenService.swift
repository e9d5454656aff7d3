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

public enum TokenVerification: Sendable {
    case valid(Token, User)
    case rejected(TokenRejection)
}

/// The domain API over tokens that every dialect calls.
public struct TokenService: Sendable {
    /// Use records (last used, sliding expiry) are written at most this often per token.
    public static let usageWriteInterval: TimeInterval = 60
    /// How long a token rotated away is kept after its overlap, to recognise its reuse.
    public static let reuseMemory: TimeInterval = 90 * 86_400

    package let storage: any LatchkeyStorage
    public let clock: any WallClock
    /// nil: recoverable tokens are turned off.
    public let secretBox: SecretBox?
    public let metrics: LatchkeyMetrics
    public let limits: TokenLimits
    public let audit: AuditLog
    /// nil: every verification reads the database.
    public let cache: TokenCache?
    /// nil: every list of tokens reads the database.
    public let listCache: TokenListCache?
    /// nil: uses are written as they happen; otherwise by `flushUsage()`.
    public let pendingUsage: PendingTokenUsage?
    private let creationLimiter: SlidingWindowLimiter?
    /// A refused stored token is recorded in the audit log once a minute per token and reason:
    /// a client retrying in a loop must not fill the log.
    private let refusals: SlidingWindowLimiter

    public init(
        storage: any LatchkeyStorage, clock: any WallClock = SystemClock(), secretBox: SecretBox?,
        metrics: LatchkeyMetrics = .none, limits: TokenLimits = .default, cache: TokenCache? = nil,
        listCache: TokenListCache? = nil, pendingUsage: PendingTokenUsage? = nil
    ) {
        self.storage = storage
        self.clock = clock
        self.secretBox = secretBox
        self.metrics = metrics
        self.limits = limits
        self.cache = cache
        self.listCache = listCache
        self.pendingUsage = pendingUsage
        audit = AuditLog(storage: storage, clock: clock)
        creationLimiter = limits.creationRate.map { SlidingWindowLimiter($0, clock: clock) }
        refusals = SlidingWindowLimiter(RateLimit(count: 1, window: 60)!, clock: clock)
    }

    /// Creates a token for `owner`. Every lifetime and expiry is bounded by `Lifetime.maximum`
    /// here, for every dialect and the CLI, and nothing exceeds what `grant` holds.
    /// `origin` says who asked, and through what, for the audit log.
    public func create(
        for owner: User, _ request: TokenRequest, grantedBy grant: TokenGrant = .account, by origin: Origin
    ) async throws -> IssuedToken {
        try Self.check(title: request.title)
        for scope in request.scopes where !Self.isValidScope(scope) { throw TokenError.invalidScope(scope) }
        if let reserved = limits.reservedScope(in: request.scopes, for: owner) {
            throw TokenError.exceedsGrant(.reservedScope(reserved))
        }
        let now = clock.now
        let (expires, sliding) = try Self.resolve(request.expiry, now: now)
        if let violation = limits.violation(kind: request.kind, expires: expires, now: now) {
            throw TokenError.beyondPolicy(violation)
        }
        if let violation = grant.violation(kind: request.kind, scopes: request.scopes, expires: expires) {
            throw TokenError.exceedsGrant(violation)
        }
        let lifecycle = try Self.lifecycle(
            maxUses: request.maxUses, allowedIPs: request.allowedIPs, metadata: request.metadata, within: grant)
        var sealed: Data?
        let secret = TokenSecret.generate()
        if request.recoverable {
            guard let secretBox else { throw TokenError.recoveryUnavailable }
            sealed = try secretBox.seal(secret)
        }
        let scopes = request.scopes.withoutRepeats
        try await throttleCreation(for: owner.id, by: origin)
        let draft = NewToken(
            uuid: UUID(), key: secret.key, ownerID: owner.id, title: request.title, kind: request.kind,
            scopes: scopes, created: now, expires: expires, slidingLifetime: sliding,
            digest: secret.digest, sealedSecret: sealed, parentID: grant.tokenID, lifecycle: lifecycle)
        let token: Token
        let stored = draft.stored(id: 0)
        do {
            token = try await storage.insertToken(
                draft, maxLivePerOwner: limits.maxLivePerUser,
                recording: [audit.notice(.tokenCreated, about: stored, detail: Self.describe(stored), by: origin)])
        } catch StorageError.tokenLimitReached {
            throw TokenError.tooManyTokens(limit: limits.maxLivePerUser ?? 0)
        } catch StorageError.creatorRetired {
            throw TokenError.exceedsGrant(.retiring)
        }
        cache?.issued(secret.digest)
        written(.tokensAdded(ownerIDs: [owner.id]))
        metrics.tokenCreated(request.kind)
        return IssuedToken(token: token, secret: secret)
    }

    static func check(title: String?) throws(TokenError) {
        guard let title else { return }
        if title.count > Token.maxTitleLength { throw .titleTooLong }
        if Identifier.hasControlOrFormatCharacters(title) { throw .titleHasControlCharacters }
    }

    /// An expiry and sliding lifetime from what a request asks, bounded by `Lifetime.maximum`.
    static func resolve(_ expiry: TokenRequest.Expiry, now: Date) throws(TokenError) -> (Date?, TimeInterval?) {
        var expires: Date?
        var sliding: TimeInterval?
        switch expiry {
        case .never: break
        case .at(let date):
            guard date.timeIntervalSince(now) <= Lifetime.maximum else { throw .expiryTooFar }
            expires = date
        case .after(let interval):
            guard Lifetime.isAcceptable(interval) else { throw .expiryTooFar }
            expires = now.addingTimeInterval(interval)
        case .sliding(let interval):
            guard Lifetime.isAcceptable(interval) else { throw .expiryTooFar }
            expires = now.addingTimeInterval(interval)
            sliding = interval
        }
        if let expires, expires <= now { throw .expiryInPast }
        return (expires, sliding)
    }

    /// Counts a creation (or rotation) against the owner's creation rate.
    func throttleCreation(for ownerID: Int64, by origin: Origin) async throws {
        guard let creationLimiter, case .refused(let retryAfter, let first) = creationLimiter.acquire("user:\(ownerID)")
        else { return }
        if first { try await audit.record(.tokenCreationThrottled, user: ownerID, by: origin) }
        throw LimitExceeded(.tokenCreation, retryAfter: retryAfter)
    }

    /// The usage limit, allowlist and metadata of a new token: bounded, and within `grant`.
    static func lifecycle(maxUses: Int?, allowedIPs: [CIDR], metadata: String?, within grant: TokenGrant)
        throws(TokenError) -> TokenLifecycle
    {
        if let maxUses, !(1...TokenLifecycle.maxUses).contains(maxUses) { throw .invalidMaxUses }
        guard allowedIPs.count <= TokenLifecycle.maxAllowedIPs else { throw .tooManyAllowedIPs }
        if let metadata, metadata.utf8.count > TokenLifecycle.maxMetadataBytes { throw .metadataTooLarge }
        let networks = try grant.allowlist(allowedIPs).withoutRepeats
        let uses = try grant.usageLimit(maxUses)
        return TokenLifecycle(maxUses: uses, usesRemaining: uses, allowedIPs: networks, metadata: metadata)
    }

    /// Authenticates a presented secret and records the use: format check, digest lookup (in
    /// the cache first), active owner, rotation, expiry, allowlist, then the usage limit (counted
    /// in the database, never by the cache), sliding refresh and last use (recorded when they
    /// move by more than `usageWriteInterval`, or the address is new).
    /// - Parameter onlyKind: a token of another kind is answered as unknown before anything
    ///   about it is checked or recorded (the web pages take only sessions).
    public func verify(
        _ presented: some StringProtocol, clientIP: String? = nil, userAgent: String? = nil,
        onlyKind: TokenKind? = nil
    ) async throws -> TokenVerification {
        let verification = try await checkAndRecordUse(
            presented, clientIP: clientIP, userAgent: userAgent, onlyKind: onlyKind)
        switch verification {
        case .valid: metrics.verification("valid")
        case .rejected(let reason): metrics.verification(reason.rawValue)
        }
        return verification
    }

    private func checkAndRecordUse(
        _ presented: some StringProtocol, clientIP: String?, userAgent: String?, onlyKind: TokenKind?
    ) async throws -> TokenVerification {
        guard let secret = TokenSecret(presented) else { return .rejected(.malformed) }
        guard let (found, owner) = try await tokenAndOwner(secret.digest), onlyKind.map({ $0 == found.kind }) ?? true
        else { return .rejected(.unknown) }
        var token = found
        guard owner.isActive else { return .rejected(.inactiveUser) }
        let now = clock.now
        if token.isRetired(at: now) {
            try await reuseDetected(token, from: clientIP)
            return .rejected(.rotatedAway)
        }
        if token.isExpired(at: now) { return try await refuse(token, .expired, from: clientIP) }
        guard token.allowsUse(from: clientIP) else {
            return try await refuse(token, .addressNotAllowed, from: clientIP)
        }
        if token.lifecycle.maxUses != nil {
            defer { listCache?.tokensWritten([token.id]) }
            // Asked twice: a rotation committing between the two finds the count handed on.
            var counted = try await storage.consumeUse(tokenID: token.id)
            if counted == nil { counted = try await storage.consumeUse(tokenID: token.id) }
            guard let remaining = counted else { return try await refuse(token, .exhausted, from: clientIP) }
            token.lifecycle.usesRemaining = remaining
        }
        var usage = slidingRenewal(of: &token, at: now)
        let isNewAddress = clientIP.map { !token.lifecycle.recentIPs.contains($0) } ?? false
        if isNewAddress || token.lastUsed.map({ now.timeIntervalSince($0) >= Self.usageWriteInterval }) ?? true {
            usage.lastUsed = now
            usage.lastUsedIP = clientIP
            usage.lastUsedAgent = userAgent.map(Self.boundedUserAgent)
            usage.recentIPs =
                clientIP.map { TokenLifecycle.recent(token.lifecycle.recentIPs, adding: $0) }
                ?? token.lifecycle.recentIPs
            token = token.applying(usage)
        } else if token.lifecycle.maxUses != nil {
            cache?.update(token)
        }
        try await record(usage, of: token)
        return .valid(token, owner)
    }

    /// Refuses a stored token, and records why.
    private func refuse(_ token: Token, _ reason: TokenRejection, from address: String?) async throws
        -> TokenVerification
    {
        if refusals.acquire("\(token.id) \(reason.rawValue)") == .allowed {
            try await audit.record(
                .tokenUseRefused, user: token.ownerID, token: token.uuid, by: Origin(via: "verify", address: address),
                detail: "\(Self.describe(token)); \(reason.rawValue)")
        }
        return .rejected(reason)
    }

    /// A token rotated away was presented after its overlap: recorded with the address, and
    /// with `onReuse` `.revokeFamily` its successors are revoked.
    private func reuseDetected(_ token: Token, from address: String?) async throws {
        guard refusals.acquire("\(token.id) \(TokenRejection.rotatedAway.rawValue)") == .allowed else { return }
        let origin = Origin(via: "verify", address: address)
        var detail = Self.describe(token)
        if limits.onReuse == .revokeFamily {
            var revoked = 0
            var predecessor = token.uuid
            // A token is rotated at most once, so its successors form a chain.
            while revoked < 1000, let (successor, _) = try await storage.successor(of: predecessor) {
                if try await revoke(successor, by: origin, detail: "reuse of \(token.key) detected") { revoked += 1 }
                predecessor = successor.uuid
            }
            detail += "; \(revoked) successor\(revoked == 1 ? "" : "s") revoked"
        }
        try await storage.recordEvents([audit.notice(.tokenReuseDetected, about: token, detail: detail, by: origin)])
    }

    /// A user agent as kept: printable, at most `TokenLifecycle.maxUserAgentLength` characters.
    /// No control, format or separator characters (no bidi overrides to spoof a terminal), and
    /// nothing shaped like a secret: a client that sends one there must not have it stored.
    static func boundedUserAgent(_ agent: String) -> String {
        let shown = agent.unicodeScalars.lazy.filter { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: false
            default: true
            }
        }
        return SecretRedaction.redact(String(String.UnicodeScalarView(shown.prefix(TokenLifecycle.maxUserAgentLength))))
    }

    private func tokenAndOwner(_ digest: TokenDigest) async throws -> (Token, User)? {
        guard let cache else { return try await stored(digest) }
        switch cache.lookup(digest) {
        case .known(let token, let owner): return (token, owner)
        case .unknown: return nil
        case .miss(let ticket):
            let found = try await stored(digest)
            cache.remember(found, for: digest, ticket: ticket)
            return found
        }
    }

    /// The stored token with the uses this node has not written yet: a sliding expiry
    /// renewed a moment ago must not read as expired.
    private func stored(_ digest: TokenDigest) async throws -> (Token, User)? {
        guard let (token, owner) = try await storage.tokenAndOwner(digest: digest) else { return nil }
        guard let pending = pendingUsage?.usage(of: token.id) else { return (token, owner) }
        return (token.applying(pending), owner)
    }

    /// Renews a sliding expiry without counting as a use of the token (its owner
    /// looked at it, the token itself did not authenticate anything).
    public func refresh(_ token: Token) async throws -> Token {
        var token = token
        try await record(slidingRenewal(of: &token, at: clock.now), of: token)
        return token
    }

    /// Records `usage`, already applied to `token`: in the cache at once, and in the database
    /// with the next flush (or now, without batching).
    private func record(_ usage: TokenUsage, of token: Token) async throws {
        guard !usage.isEmpty else { return }
        cache?.update(token)
        if let pendingUsage {
            pendingUsage.add(usage, for: token.id)
        } else {
            defer { listCache?.tokensWritten([token.id]) }
            try await storage.recordUsage([token.id: usage])
        }
    }

    /// Writes the uses recorded since the last flush, in one batch; on failure they stay
    /// pending for the next.
    public func flushUsage() async throws {
        guard let pendingUsage else { return }
        let batch = pendingUsage.take()
        guard !batch.isEmpty else { return }
        // Written in parts on PostgreSQL: after a failure some may be in the database already.
        defer { listCache?.tokensWritten(batch.keys) }
        do {
            try await storage.recordUsage(batch)
        } catch {
            pendingUsage.restore(batch)
            throw error
        }
    }

    /// Evicts from this node's caches what other processes change, until cancelled. While
    /// changes cannot be observed (the database is unreachable) the caches answer nothing;
    /// it tries again every `retryInterval`. `onLoss` hears why following stopped, once
    /// when it was following and once for the first of a run of failed attempts. The wait
    /// before another attempt is measured on `clock` (a test moves it rather than waiting).
    public func followStorageChanges(
        retryInterval: Duration = .seconds(1), clock: any Clock<Duration> = ContinuousClock(),
        onLoss: @Sendable (any Error) -> Void = { _ in }
    ) async {
        guard cache != nil || listCache != nil else { return }
        var isRetrying = false
        while !Task.isCancelled {
            var loss: any Error = StorageUnavailable(reason: "the connection that observes changes closed")
            do {
                try await storage.observeChanges { change in written(change) }
            } catch {
                loss = error
            }
            let wasFollowing = cache?.isAnswering ?? listCache?.isAnswering ?? false
            written(.unobservable)
            guard !Task.isCancelled else { return }
            if wasFollowing || !isRetrying { onLoss(loss) }
            isRetrying = true
            try? await clock.sleep(for: retryInterval)
        }
    }

    /// Moves a sliding expiry to `now` + lifetime in `token`; the returned usage
    /// writes it only when it moved by more than `usageWriteInterval`.
    private func slidingRenewal(of token: inout Token, at now: Date) -> TokenUsage {
        guard let lifetime = token.slidingLifetime else { return TokenUsage() }
        var renewed = now.addingTimeInterval(lifetime)
        // Renewals stop at the policy's longest lifetime; they never move an expiry back.
        if let ceiling = limits.renewalCeiling(of: token) { renewed = min(renewed, ceiling) }
        if let current = token.expires { renewed = max(renewed, current) }
        defer { token.expires = renewed }
        guard token.expires.map({ renewed.timeIntervalSince($0) > Self.usageWriteInterval }) ?? true else {
            return TokenUsage()
        }
        return TokenUsage(expires: renewed)
    }

    /// Throws when tokens cannot be verified now (the database does not answer): readiness.
    public func checkReadiness() async throws {
        try await storage.checkHealth()
    }

    public func list(_ query: TokenQuery) async throws -> [Token] {
        guard let owned = try await ownersTokens(query) else { return try await storage.tokens(query) }
        return query.page(of: owned).tokens
    }

    public func count(_ query: TokenQuery) async throws -> Int {
        guard let owned = try await ownersTokens(query) else { return try await storage.countTokens(query) }
        return query.matching(in: owned).count
    }

    public func page(_ query: TokenQuery) async throws -> TokenPage {
        guard let owned = try await ownersTokens(query) else { return try await storage.tokenPage(query) }
        return query.page(of: owned)
    }

    /// Every token of the query's owner, from the list cache (read into it when missing);
    /// nil when the query names no owner or the owner has too many to keep.
    private func ownersTokens(_ query: TokenQuery) async throws -> [Token]? {
        guard let listCache, let ownerID = query.ownerID else { return nil }
        switch listCache.lookup(ownerID) {
        case .known(let tokens): return tokens
        case .unavailable: return nil
        case .miss(let ticket):
            let maximum = listCache.limits.maximumPerOwner
            let tokens = try await storage.tokens(TokenQuery(ownerID: ownerID, limit: maximum + 1))
            listCache.remember(tokens, of: ownerID, ticket: ticket)
            return tokens.count > maximum ? nil : tokens
        }
    }

    public func find(uuid: UUID) async throws -> Token? {
        try await storage.token(uuid: uuid)
    }

    /// A token by its public key; keys are short, so only within one owner's tokens.
    public func find(key: String, ownerID: Int64) async throws -> Token? {
        try await list(TokenQuery(ownerID: ownerID, key: key, limit: 1)).first
    }

    /// A token by its secret, without counting as a use. Malformed secrets never reach the database.
    public func find(secret presented: some StringProtocol) async throws -> Token? {
        guard let secret = TokenSecret(presented) else { return nil }
        return try await storage.tokenAndOwner(digest: secret.digest)?.0
    }

    /// The secret of a recoverable token, when this server's key can open it.
    public func recoverSecret(of token: Token) -> TokenSecret? {
        guard let sealed = token.sealedSecret, let secretBox else { return nil }
        return secretBox.open(sealed)
    }

    /// Revoking deletes: a revoked token leaves nothing that could authenticate, and the
    /// tokens it created (and theirs) go with it.
    /// - Parameter kind: `.tokenLeaked` for a token revoked because it was reported exposed.
    @discardableResult
    public func revoke(_ token: Token, by origin: Origin, as kind: AuditKind = .tokenRevoked, detail: String = "")
        async throws -> Bool
    {
        let events: @Sendable ([Token]) -> [AuditEvent] = { [audit] gone in
            gone.map { gone in
                let (kind, detail) =
                    gone.id == token.id
                    ? (kind, [Self.describe(gone), detail].filter { !$0.isEmpty }.joined(separator: "; "))
                    : (.tokenRevoked, Self.describe(gone) + "; revoked with \(token.key), which created or replaced it")
                return audit.notice(kind, about: gone, detail: detail, by: origin)
            }
        }
        // Each deletion is forgotten at once: a later step may fail.
        var deleted = try await storage.deleteToken(id: token.id, recording: events)
        guard !deleted.isEmpty else { return false }
        forget(deleted)
        // A token it replaced and still in its overlap goes with it: revoking the new token must
        // not leave the old one working. (One past its overlap stays, to recognise its reuse.)
        var predecessor = token.lifecycle.rotatedFrom
        for _ in 0..<100 {
            guard let uuid = predecessor, let old = try await storage.token(uuid: uuid),
                let retires = old.lifecycle.retires, retires > clock.now
            else { break }
            let gone = try await storage.deleteToken(id: old.id, recording: events)
            forget(gone)
            deleted += gone
            predecessor = old.lifecycle.rotatedFrom
        }
        metrics.tokensRevoked(reason: kind == .tokenLeaked ? "leaked" : "revoked")
        if deleted.count > 1 { metrics.tokensRevoked(deleted.count - 1, reason: "revoked") }
        return true
    }

    /// Revokes every token of `owner` (the operator's `token revoke --user U --all`), or every
    /// one of `kind` (a password change ends the account's sign-in sessions), with the tokens
    /// they created.
    public func revokeAll(
        of owner: User, kind: TokenKind? = nil, by origin: Origin, because reason: String = "every token of the user"
    ) async throws -> [Token] {
        let deleted = try await storage.deleteTokens(ownerID: owner.id, kind: kind) { [audit] gone in
            gone.map { audit.notice(.tokenRevoked, about: $0, detail: Self.describe($0) + "; " + reason, by: origin) }
        }
        forget(deleted)
        if !deleted.isEmpty { metrics.tokensRevoked(deleted.count, reason: "revoked") }
        return deleted
    }

    /// Garbage collection: deletes tokens that expired more than `grace` ago.
    /// Tokens rotated away are kept `reuseMemory` past their overlap (unless they expire first),
    /// so that their reuse is recognised; the sealed copies kept for idempotent rotation are
    /// wiped once their overlap has ended.
    public func deleteExpired(grace: TimeInterval) async throws -> Int {
        let now = clock.now
        try await storage.wipeRotationRetries(endedBefore: now)
        // Recorded, not notified: webhooks heard `token.expired` when the expiry passed.
        let collected: @Sendable ([Token]) -> [AuditEvent] = { [audit] gone in
            audit.events(
                gone.map { (.tokenExpired, $0.ownerID, $0.uuid, Self.describe($0) + "; collected") }, by: .system)
        }
        let expired = try await storage.deleteTokens(
            expiredBefore: now.addingTimeInterval(-grace), recording: collected)
        forget(expired)
        let retired = try await storage.deleteTokens(
            retiredBefore: now.addingTimeInterval(-max(grace, Self.reuseMemory)), recording: collected)
        forget(retired)
        let deleted = expired + retired
        if !deleted.isEmpty { metrics.tokensRevoked(deleted.count, reason: "expired") }
        return deleted.count
    }

    func forget(_ deleted: [Token]) {
        if !deleted.isEmpty { written(.tokensChanged(deleted.map(\.id))) }
    }

    /// Evicts what this node's caches hold of a change, once it is in the database.
    func written(_ change: StorageChange) {
        cache?.apply(change)
        listCache?.apply(change)
    }

    /// A token as the audit log names it: kind, key and title (never the secret).
    static func describe(_ token: Token) -> String {
        "\(token.kind.rawValue) \(token.key)" + (token.title.map { " '\($0)'" } ?? "")
    }

    /// Scopes are short printable words such as `user:admin` or `repo:read`.
    public static func isValidScope(_ scope: String) -> Bool {
        !scope.isEmpty && scope.count <= 64
            && scope.unicodeScalars.allSatisfy {
                $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\"
            }
    }
}

extension Array where Element: Equatable {
    /// The elements in order, each only the first time it appears (scopes and networks: a few).
    var withoutRepeats: [Element] {
        reduce(into: []) { kept, element in if !kept.contains(element) { kept.append(element) } }
    }
}
