import Foundation

public enum TokenVerification: Sendable {
    case valid(Token, User)
    case rejected(TokenRejection)
}

/// Verification, the hot path of every authenticated request: a presented secret checked against
/// its stored digest (the cache first), then the rules a use must pass, then the use recorded.
extension TokenService {
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
}
