import Foundation

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
    let refusals: SlidingWindowLimiter

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
