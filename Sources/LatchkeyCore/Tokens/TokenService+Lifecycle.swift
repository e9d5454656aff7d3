import Foundation

/// What a rotation asks for.
public struct RotationRequest: Sendable, Hashable {
    public static let maxIdempotencyKeyLength = 255

    /// How long the old token keeps working beside its successor; 0: it stops at once.
    public var overlap: TimeInterval
    /// nil: the old token's own lifetime again, from now.
    public var expiry: TokenRequest.Expiry?
    /// A retry with the same key before the overlap ends answers the same successor.
    public var idempotencyKey: String?

    public init(overlap: TimeInterval = 0, expiry: TokenRequest.Expiry? = nil, idempotencyKey: String? = nil) {
        self.overlap = overlap
        self.expiry = expiry
        self.idempotencyKey = idempotencyKey
    }
}

extension TokenService {
    /// Rotates `token`: a successor with its title, scopes, metadata, allowlist and the uses it
    /// has left, while `token` keeps working for the overlap and then stops. A retry with the
    /// same idempotency key before the overlap ends answers the same successor and secret.
    ///
    /// `grant` is the rotating principal's, and must cover the successor (the secret shown hands
    /// it on). A token rotating itself (`rotatingItself`) may give its successor no longer a
    /// lifetime than its own: rotation renews a token, it never lengthens what it was granted.
    public func rotate(
        _ token: Token, _ request: RotationRequest, grantedBy grant: TokenGrant, rotatingItself: Bool = false,
        by origin: Origin
    ) async throws -> IssuedToken {
        guard token.kind == .app else { throw TokenError.notRotatable }
        var retryBox: SecretBox?
        var retryKey: String?
        if let key = request.idempotencyKey {
            guard (1...RotationRequest.maxIdempotencyKeyLength).contains(key.utf8.count),
                key.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
            else { throw TokenError.invalidIdempotencyKey }
            guard let secretBox else { throw TokenError.retryUnavailable }
            // A retry is made with the old token, which must still work: without an overlap the
            // retry would be reuse.
            guard request.overlap > 0 else { throw TokenError.retryNeedsOverlap }
            retryBox = secretBox
            retryKey = Self.retryKey(key, boundTo: grant.tokenID)
        }
        let now = clock.now
        if token.lifecycle.retires != nil {
            return try await retriedRotation(of: token, retryKey, grant: rotatingItself ? nil : grant, now: now)
        }
        guard !token.isExpired(at: now) else { throw TokenError.rotatingExpired }
        guard request.overlap.isFinite, request.overlap >= 0, request.overlap <= limits.maxRotationOverlap else {
            throw TokenError.overlapTooLong(longest: limits.maxRotationOverlap)
        }
        let ownLifetime = token.expires.map { $0.timeIntervalSince(token.created) }
        // By default the old token's lifetime again, from now, shortened (as a creation's default
        // is) to the policy's longest and, for another token rotating it, to that token's expiry.
        var expiry = request.expiry
        if expiry == nil {
            let renewed = limits.cappingDefault(
                token.slidingLifetime.map { .sliding($0) } ?? ownLifetime.map { .after($0) } ?? .never, kind: .app,
                now: now)
            expiry = rotatingItself ? renewed : grant.capping(renewed, now: now)
        }
        let (expires, sliding) = try Self.resolve(expiry ?? .never, now: now)
        if let violation = limits.violation(kind: .app, expires: expires, now: now) {
            throw TokenError.beyondPolicy(violation)
        }
        let secret = TokenSecret.generate()
        let retires = now.addingTimeInterval(request.overlap)
        var lifecycle = token.lifecycle
        lifecycle.rotatedFrom = token.uuid
        lifecycle.retires = nil
        let draft = NewToken(
            uuid: UUID(), key: secret.key, ownerID: token.ownerID, title: token.title, kind: .app,
            scopes: token.scopes, created: now, expires: expires, slidingLifetime: sliding, digest: secret.digest,
            sealedSecret: try token.isRecoverable ? secretBox?.seal(secret) : nil,
            // Made by another app token, it is revoked with that one (as a creation is); else
            // with the old token's creator (`rotateToken`).
            parentID: rotatingItself ? nil : grant.tokenID, lifecycle: lifecycle,
            retry: try retryKey.flatMap { key in
                try retryBox.map {
                    RotationRetry(idempotencyKey: key, sealedSecret: try $0.seal(secret), until: retires)
                }
            })
        let drafted = draft.stored(id: 0)
        if !rotatingItself {
            try Self.check(drafted, within: grant)
        } else if let ownLifetime {
            guard let expires, expires.timeIntervalSince(now) <= ownLifetime else {
                throw TokenError.exceedsGrant(.expiry)
            }
        }
        // A successor is a new token: a reserved scope only for an administrator's (one made
        // before scopes were reserved, or whose owner is no longer an administrator, is not renewed).
        if token.scopes.contains(where: limits.reservedScopes.contains),
            let owner = try await storage.user(id: token.ownerID),
            let reserved = limits.reservedScope(in: token.scopes, for: owner)
        {
            throw TokenError.exceedsGrant(.reservedScope(reserved))
        }
        try await throttleCreation(for: token.ownerID, by: origin)
        let successor: Token
        do {
            successor = try await storage.rotateToken(
                id: token.id, retires: retires, successor: draft,
                recording: [
                    audit.notice(
                        .tokenRotated, about: token,
                        detail:
                            "\(Self.describe(token)); replaced by \(secret.key), overlap \(Lifetime.describe(request.overlap))",
                        by: origin, successor: drafted, retires: retires),
                    audit.notice(
                        .tokenCreated, about: drafted, detail: Self.describe(drafted) + "; by rotation", by: origin),
                ])
        } catch StorageError.alreadyRotated {
            // Another request rotated it first: the same key is then a retry of that one.
            return try await retriedRotation(of: token, retryKey, grant: rotatingItself ? nil : grant, now: now)
        } catch StorageError.creatorRetired {
            throw TokenError.exceedsGrant(.retiring)
        }
        written(.tokensChanged([token.id]))
        written(.tokensAdded(ownerIDs: [token.ownerID]))
        cache?.issued(secret.digest)
        metrics.tokenCreated(.app)
        return IssuedToken(token: successor, secret: secret)
    }

    /// An idempotency key as kept: digested (the store never holds what a client may use
    /// elsewhere), and bound to the token that rotates (for a session, to the account), so that
    /// another token that learns the key does not get the secret.
    static func retryKey(_ key: String, boundTo tokenID: Int64?) -> String {
        TokenDigest(of: "\(tokenID ?? 0)\n\(key)").bytes.base64EncodedString()
    }

    /// For a token already rotated: the successor a rotation with the same idempotency key made,
    /// while its overlap lasts, handed only to what `grant` covers (nil: the token itself asks).
    /// - Throws: `TokenError.alreadyRotated` when this is no such retry.
    private func retriedRotation(of token: Token, _ key: String?, grant: TokenGrant?, now: Date) async throws
        -> IssuedToken
    {
        guard let key, let (successor, retry) = try await storage.successor(of: token.uuid),
            let retry, retry.idempotencyKey == key, retry.until > now,
            let secret = secretBox?.open(retry.sealedSecret), secret.digest == successor.digest
        else { throw TokenError.alreadyRotated }
        if let grant { try Self.check(successor, within: grant) }
        return IssuedToken(token: successor, secret: secret)
    }

    /// Whether `grant` covers a token it would hand on, naming what it lacks.
    static func check(_ token: Token, within grant: TokenGrant) throws(TokenError) {
        if let violation = grant.violation(by: token) { throw .exceedsGrant(violation) }
    }

    /// Changes a token's title, metadata, allowlist or (only narrowing) scopes. An allowlist
    /// stays within `grant`'s: a restricted token cannot lift another token's restriction.
    public func update(_ token: Token, _ change: TokenChange, grantedBy grant: TokenGrant, by origin: Origin)
        async throws -> Token?
    {
        // Removing scopes only narrows; anything else is done only to a token the changer covers
        // (a narrow token must not lift a broader token's allowlist, nor rewrite its metadata).
        if change.title != nil || change.metadata != nil || change.allowedIPs != nil {
            try Self.check(token, within: grant)
        }
        if let title = change.title { try Self.check(title: title) }
        if let metadata = change.metadata ?? nil, metadata.utf8.count > TokenLifecycle.maxMetadataBytes {
            throw TokenError.metadataTooLarge
        }
        var change = change
        if let allowedIPs = change.allowedIPs {
            guard allowedIPs.count <= TokenLifecycle.maxAllowedIPs else { throw TokenError.tooManyAllowedIPs }
            let networks = allowedIPs.withoutRepeats
            guard try grant.allowlist(networks) == networks else { throw TokenError.exceedsGrant(.addresses) }
            change.allowedIPs = networks
        }
        if let scopes = change.scopes {
            if let wider = scopes.first(where: { !token.scopes.contains($0) }) { throw TokenError.scopesWidened(wider) }
            change.scopes = token.scopes.filter(scopes.contains)
        }
        let changed = [
            change.title.map { _ in "title" }, change.metadata.map { _ in "metadata" },
            change.allowedIPs.map { _ in "allowed_ips" }, change.scopes.map { _ in "scopes" },
        ].compactMap { $0 }
        guard !changed.isEmpty else { return token }
        let updated = try await storage.updateToken(
            id: token.id, change,
            recording: audit.events(
                [
                    (
                        .tokenUpdated, token.ownerID, token.uuid,
                        "\(Self.describe(token)); changed \(changed.joined(separator: ", "))"
                    )
                ],
                by: origin))
        written(.tokensChanged([token.id]))
        return updated
    }
}
