import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@Suite("Token cache")
struct TokenCacheTests {
    let clock = ManualClock()
    let limits = TokenCache.Limits(capacity: 100, maximumAge: 60, unknownCapacity: 10, unknownMaximumAge: 5)

    func entry(id: Int64, owner: Int64 = 1, expires: Date? = nil) -> (TokenDigest, Token, User) {
        let secret = TokenSecret.generate()
        let token = Token(
            id: id, uuid: UUID(), key: secret.key, ownerID: owner, title: nil, kind: .app, scopes: [],
            created: clock.now, expires: expires, slidingLifetime: nil, lastUsed: nil, lastUsedIP: nil,
            digest: secret.digest, sealedSecret: nil)
        let user = User(
            id: owner, username: "user\(owner)", email: nil, firstName: "", lastName: "", passwordHash: nil,
            isActive: true, isAdmin: false, created: clock.now)
        return (secret.digest, token, user)
    }

    /// Remembers `entry` as a fresh read would, and says whether it is now answered from memory.
    @discardableResult
    func cache(_ entry: (TokenDigest, Token, User), in cache: TokenCache) -> Bool {
        guard case .miss(let ticket) = cache.lookup(entry.0) else { return isKnown(entry.0, in: cache) }
        cache.remember((entry.1, entry.2), for: entry.0, ticket: ticket)
        return isKnown(entry.0, in: cache)
    }

    func isKnown(_ digest: TokenDigest, in cache: TokenCache) -> Bool {
        if case .known = cache.lookup(digest) { return true }
        return false
    }

    func isUnknown(_ digest: TokenDigest, in cache: TokenCache) -> Bool {
        if case .unknown = cache.lookup(digest) { return true }
        return false
    }

    @Test func answersNothingUntilChangesAreObserved() {
        let tokens = TokenCache(limits: limits, clock: clock)
        let sam = entry(id: 1)
        #expect(!cache(sam, in: tokens), "before the first .anything nothing is remembered")
        tokens.apply(.anything)
        #expect(cache(sam, in: tokens))
        tokens.apply(.unobservable)
        #expect(!tokens.isAnswering)
        #expect(!cache(sam, in: tokens), "while changes cannot be observed, every lookup reads the database")
        tokens.apply(.anything)
        #expect(cache(sam, in: tokens))
    }

    @Test func anEntryNeverOutlivesItsTokenNorTheMaximumAge() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        let expiring = entry(id: 1, expires: clock.now.addingTimeInterval(30))
        let forever = entry(id: 2)
        cache(expiring, in: tokens)
        cache(forever, in: tokens)
        clock.advance(by: 30)
        #expect(!isKnown(expiring.0, in: tokens), "at its expiry the token is read again")
        #expect(isKnown(forever.0, in: tokens))
        clock.advance(by: 30)
        #expect(!isKnown(forever.0, in: tokens), "after the maximum age every entry is read again")
        #expect(tokens.count == 0)
    }

    @Test func anExpiredTokenIsNotRemembered() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        #expect(!cache(entry(id: 1, expires: clock.now), in: tokens))
    }

    @Test func unknownDigestsAreRememberedBriefly() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        let digest = TokenSecret.generate().digest
        guard case .miss(let ticket) = tokens.lookup(digest) else {
            Issue.record("expected a miss")
            return
        }
        tokens.remember(nil, for: digest, ticket: ticket)
        #expect(isUnknown(digest, in: tokens))
        clock.advance(by: 5)
        #expect(!isUnknown(digest, in: tokens))

        let issued = TokenSecret.generate().digest
        guard case .miss(let second) = tokens.lookup(issued) else {
            Issue.record("expected a miss")
            return
        }
        tokens.remember(nil, for: issued, ticket: second)
        tokens.issued(issued)
        #expect(!isUnknown(issued, in: tokens), "a digest issued here is no longer unknown")
    }

    @Test func aReadThatBeganBeforeAnEvictionIsNotRemembered() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        let sam = entry(id: 1)
        guard case .miss(let ticket) = tokens.lookup(sam.0) else {
            Issue.record("expected a miss")
            return
        }
        // The token is revoked while its read is under way: the read's answer is stale.
        tokens.apply(.tokensChanged([sam.1.id]))
        tokens.remember((sam.1, sam.2), for: sam.0, ticket: ticket)
        #expect(!isKnown(sam.0, in: tokens))
    }

    @Test func evictionsTakeTheTokensAndOwnersTheyName() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        let first = entry(id: 1, owner: 1)
        let second = entry(id: 2, owner: 1)
        let other = entry(id: 3, owner: 2)
        for item in [first, second, other] { cache(item, in: tokens) }
        tokens.apply(.tokensChanged([1, 99]))
        #expect(!isKnown(first.0, in: tokens))
        #expect(isKnown(second.0, in: tokens))
        tokens.apply(.userChanged(1))
        #expect(!isKnown(second.0, in: tokens))
        #expect(isKnown(other.0, in: tokens), "another owner's tokens stay")
        tokens.apply(.anything)
        #expect(tokens.count == 0)
    }

    @Test func theCacheIsBounded() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        for id in 1...250 { cache(entry(id: Int64(id)), in: tokens) }
        #expect(tokens.count <= 100)
        #expect(tokens.count >= 90)
        for _ in 1...25 {
            let digest = TokenSecret.generate().digest
            if case .miss(let ticket) = tokens.lookup(digest) { tokens.remember(nil, for: digest, ticket: ticket) }
        }
        let last = TokenSecret.generate().digest
        if case .miss(let ticket) = tokens.lookup(last) { tokens.remember(nil, for: last, ticket: ticket) }
        #expect(isUnknown(last, in: tokens), "a full set of unknown digests starts again, it does not stop")
    }

    @Test func anOwnersChangeFindsEveryTokenStillHeldAfterTheBoundForgotSome() {
        let tokens = TokenCache(limits: limits, clock: clock)
        tokens.apply(.anything)
        let entries = (1...250).map { entry(id: Int64($0), owner: Int64($0 % 2)) }
        for item in entries { cache(item, in: tokens) }
        let heldOfOwnerOne = entries.filter { $0.2.id == 1 && isKnown($0.0, in: tokens) }
        let heldOfOwnerZero = entries.filter { $0.2.id == 0 && isKnown($0.0, in: tokens) }
        #expect(!heldOfOwnerOne.isEmpty && !heldOfOwnerZero.isEmpty)
        tokens.apply(.userChanged(1))
        #expect(heldOfOwnerOne.allSatisfy { !isKnown($0.0, in: tokens) })
        #expect(tokens.count == heldOfOwnerZero.count, "the other owner's tokens stay")
    }
}

/// The caches inside `TokenService` and `AccountService` on one node (a real SQLite file);
/// `TokenCacheAcrossNodesTests` covers other nodes.
@Suite("Token cache in the services", .removingScratchDirectories)
struct TokenCacheServiceTests {
    let clock = ManualClock()
    let storage: any LatchkeyStorage
    let cache: TokenCache
    let lists: TokenListCache
    let tokens: TokenService
    let accounts: AccountService
    let owner: User

    init() async throws {
        storage = try makeSQLiteStorage()
        cache = TokenCache(clock: clock)
        cache.apply(.anything)
        lists = TokenListCache(clock: clock)
        lists.apply(.anything)
        tokens = TokenService(
            storage: storage, clock: clock, secretBox: nil, cache: cache, listCache: lists,
            pendingUsage: PendingTokenUsage())
        accounts = AccountService(storage: storage, hasher: fastPasswordHasher, clock: clock, tokenCache: cache)
        owner = try await makeUser(storage, "sam", clock: clock)
    }

    func outcome(_ secret: TokenSecret) async throws -> String {
        switch try await tokens.verify(secret.value) {
        case .valid: "valid"
        case .rejected(let reason): reason.rawValue
        }
    }

    @Test func revocationOnThisNodeIsRefusedAtOnce() async throws {
        let issued = try await tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
        #expect(try await outcome(issued.secret) == "valid")
        #expect(cache.count == 1)
        try await tokens.revoke(issued.token, by: .cli)
        #expect(try await outcome(issued.secret) == "unknown")
    }

    @Test func deactivationOnThisNodeIsRefusedAtOnce() async throws {
        let issued = try await tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
        #expect(try await outcome(issued.secret) == "valid")
        try await accounts.setActive(owner, false, by: .cli)
        #expect(try await outcome(issued.secret) == "inactive_user")
        try await accounts.setActive(owner, true, by: .cli)
        #expect(try await outcome(issued.secret) == "valid")
    }

    @Test func aCachedTokenExpiresOnTime() async throws {
        let issued = try await tokens.create(for: owner, TokenRequest(kind: .app, expiry: .after(120)), by: .cli)
        #expect(try await outcome(issued.secret) == "valid")
        clock.advance(by: 119)
        #expect(try await outcome(issued.secret) == "valid")
        clock.advance(by: 1)
        #expect(try await outcome(issued.secret) == "expired")
    }

    @Test func aSlidingExpiryRenewedInTheCacheKeepsTheTokenAlive() async throws {
        let issued = try await tokens.create(for: owner, TokenRequest(kind: .session, expiry: .sliding(300)), by: .cli)
        for _ in 1...5 {
            clock.advance(by: 200)
            #expect(try await outcome(issued.secret) == "valid")
        }
        try await tokens.flushUsage()
        let stored = try #require(try await tokens.find(uuid: issued.token.uuid))
        #expect(stored.expires == clock.now.addingTimeInterval(300), "the renewal reached the database")
    }

    @Test func lastUseIsWrittenWhenFlushed() async throws {
        let issued = try await tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
        _ = try await tokens.verify(issued.secret.value, clientIP: "192.0.2.9")
        #expect(try await tokens.find(uuid: issued.token.uuid)?.lastUsed == nil, "not on the request path")
        #expect(tokens.pendingUsage?.count == 1)
        try await tokens.flushUsage()
        let stored = try #require(try await tokens.find(uuid: issued.token.uuid))
        #expect(stored.lastUsed == clock.now)
        #expect(stored.lastUsedIP == "192.0.2.9")
        #expect(tokens.pendingUsage?.count == 0)
    }

    /// Each of this node's writes is in its next list, as the database has it, while the
    /// list is otherwise answered from memory.
    @Test func aListAnswersWhatTheDatabaseHoldsAfterEachWriteOnThisNode() async throws {
        let mine = TokenQuery(ownerID: owner.id)
        func listedAsStored(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let listed = try await tokens.list(mine)
            #expect(lists.count == 1, "\(step): answered from memory", sourceLocation: sourceLocation)
            #expect(listed == (try await storage.tokens(mine)), "\(step)", sourceLocation: sourceLocation)
        }
        #expect(try await tokens.list(mine).isEmpty)
        let first = try await tokens.create(for: owner, TokenRequest(kind: .app, title: "one"), by: .cli)
        let limited = try await tokens.create(for: owner, TokenRequest(kind: .app, maxUses: 3), by: .cli)
        try await listedAsStored("created")
        #expect(try await tokens.list(mine).map(\.id) == [first.token.id, limited.token.id])

        _ = try await tokens.verify(first.secret.value, clientIP: "192.0.2.9")
        try await listedAsStored("a use, not yet written")
        try await tokens.flushUsage()
        try await listedAsStored("a use written")
        #expect(try await tokens.list(mine).first?.lastUsedIP == "192.0.2.9")

        _ = try await tokens.verify(limited.secret.value)
        try await listedAsStored("a use counted")
        #expect(try await tokens.list(mine).last?.lifecycle.usesRemaining == 2)

        _ = try await tokens.update(first.token, TokenChange(title: "renamed"), grantedBy: .account, by: .cli)
        try await listedAsStored("renamed")
        #expect(try await tokens.find(key: first.token.key, ownerID: owner.id)?.title == "renamed")

        let successor = try await tokens.rotate(
            first.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)
        try await listedAsStored("rotated")
        #expect(try await tokens.count(mine) == 3)

        try await tokens.revoke(successor.token, by: .cli)
        try await listedAsStored("revoked")
        #expect(try await tokens.list(mine).map(\.id) == [limited.token.id], "the predecessor in its overlap goes too")
    }
}
