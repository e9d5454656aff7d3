import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

/// Rotation with overlap, reuse detection, usage limits, allowlists and changes, on each
/// backend, through the token service with a cache as the server runs it.
@Suite("Token lifecycle", .removingScratchDirectories)
struct TokenLifecycleTests {
    struct Fixture {
        let clock = ManualClock()
        let storage: any LatchkeyStorage
        let tokens: TokenService
        let owner: User

        init(_ storage: any LatchkeyStorage, limits: TokenLimits = .default, cache: Bool = true) async throws {
            self.storage = storage
            let tokenCache = cache ? TokenCache(clock: clock) : nil
            tokenCache?.apply(.anything)
            tokens = TokenService(
                storage: storage, clock: clock, secretBox: SecretBox(key: .init(size: .bits256)), limits: limits,
                cache: tokenCache)
            owner = try await makeUser(storage, "sam", clock: clock)
        }

        func create(_ request: TokenRequest = TokenRequest(kind: .app, title: "ci", scopes: ["repo:read"]))
            async throws -> IssuedToken
        {
            try await tokens.create(for: owner, request, by: .cli)
        }

        func verify(_ issued: IssuedToken, from address: String? = "192.0.2.1") async throws -> TokenRejection? {
            if case .rejected(let reason) = try await tokens.verify(issued.secret.value, clientIP: address) {
                return reason
            }
            return nil
        }

        func events(_ kind: AuditKind) async throws -> [AuditEvent] {
            try await storage.events(AuditQuery()).filter { $0.kind == kind.rawValue }
        }
    }

    @Test(arguments: TestBackend.available)
    func theOldTokenWorksUntilTheOverlapEndsAndTheSuccessorInheritsItsFacts(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create(
                TokenRequest(
                    kind: .app, title: "deploy", scopes: ["repo:read"], expiry: .after(30 * 86_400), maxUses: 100,
                    allowedIPs: [try CIDR("192.0.2.0/24")], metadata: #"{"team":"ops"}"#))
            #expect(try await fixture.verify(old) == nil)
            fixture.clock.advance(by: 86_400)

            let new = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)
            #expect(new.token.uuid != old.token.uuid)
            #expect(new.token.title == "deploy")
            #expect(new.token.scopes == ["repo:read"])
            #expect(new.token.lifecycle.metadata == #"{"team":"ops"}"#)
            #expect(new.token.lifecycle.allowedIPs == [try CIDR("192.0.2.0/24")])
            #expect(new.token.lifecycle.maxUses == 100)
            #expect(new.token.lifecycle.usesRemaining == 99, "the uses left carry over: rotation is no reset")
            #expect(new.token.lifecycle.rotatedFrom == old.token.uuid)
            #expect(new.token.expires == fixture.clock.now.addingTimeInterval(30 * 86_400), "the same lifetime again")

            fixture.clock.advance(by: 3_599)
            #expect(try await fixture.verify(old) == nil, "within the overlap")
            #expect(try await fixture.verify(new) == nil)
            fixture.clock.advance(by: 1)
            #expect(try await fixture.verify(old) == .rotatedAway)
            #expect(try await fixture.verify(new) == nil)
            let stored = try #require(try await storage.token(uuid: old.token.uuid))
            #expect(stored.lifecycle.retires == fixture.clock.now)

            await #expect(throws: TokenError.alreadyRotated) {
                try await fixture.tokens.rotate(stored, RotationRequest(), grantedBy: .account, by: .cli)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aRetryWithTheSameKeyGetsTheSameSuccessorUntilTheOverlapEnds(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create()
            let request = RotationRequest(overlap: 600, idempotencyKey: "deploy-42")
            let first = try await fixture.tokens.rotate(old.token, request, grantedBy: .account, by: .cli)
            // The client crashed before saving it and retries with the old token, still working.
            let rotated = try #require(try await storage.token(uuid: old.token.uuid))
            let again = try await fixture.tokens.rotate(rotated, request, grantedBy: .account, by: .cli)
            #expect(again.token.uuid == first.token.uuid)
            #expect(again.secret.value == first.secret.value)
            #expect(try await storage.tokens(TokenQuery(ownerID: fixture.owner.id)).count == 2, "rotated once")

            await #expect(throws: TokenError.alreadyRotated) {
                try await fixture.tokens.rotate(
                    rotated, RotationRequest(overlap: 600, idempotencyKey: "other"), grantedBy: .account, by: .cli)
            }
            // Knowing the key is not enough: a retry answers only the caller that rotated.
            let other = try await fixture.create(TokenRequest(kind: .app, scopes: ["repo:read"]))
            await #expect(throws: TokenError.alreadyRotated) {
                try await fixture.tokens.rotate(rotated, request, grantedBy: TokenGrant(of: other.token), by: .cli)
            }
            fixture.clock.advance(by: 600)
            await #expect(throws: TokenError.alreadyRotated) {
                try await fixture.tokens.rotate(rotated, request, grantedBy: .account, by: .cli)
            }
            // Garbage collection wipes the sealed copy once the overlap has ended.
            _ = try await fixture.tokens.deleteExpired(grace: 86_400)
            #expect(try await storage.successor(of: old.token.uuid)?.1 == nil)
            #expect(try await storage.successor(of: old.token.uuid)?.0.uuid == first.token.uuid)
        }
    }

    @Test(arguments: TestBackend.available)
    func reuseAfterTheOverlapIsRecordedAndRevokesTheFamilyOnlyWhenConfigured(backend: TestBackend) async throws {
        for response in ReuseResponse.allCases {
            try await backend.withStorage { storage in
                let fixture = try await Fixture(storage, limits: TokenLimits(onReuse: response))
                let first = try await fixture.create()
                let second = try await fixture.tokens.rotate(
                    first.token, RotationRequest(), grantedBy: .account, by: .cli)
                let third = try await fixture.tokens.rotate(
                    second.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)

                #expect(try await fixture.verify(first, from: "203.0.113.9") == .rotatedAway)
                #expect(try await fixture.verify(first, from: "203.0.113.9") == .rotatedAway)
                let reuses = try await fixture.events(.tokenReuseDetected)
                #expect(reuses.count == 1, "once a minute per token, however often it is presented")
                #expect(reuses.first?.tokenUUID == first.token.uuid)
                #expect(reuses.first?.origin.address == "203.0.113.9")
                switch response {
                case .notify:
                    #expect(try await fixture.verify(second) == nil, "still in its overlap")
                    #expect(try await fixture.verify(third) == nil)
                case .revokeFamily:
                    #expect(try await fixture.verify(second) == .unknown)
                    #expect(try await fixture.verify(third) == .unknown)
                    #expect(reuses.first?.detail.contains("2 successors revoked") == true)
                }
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aTokenRotatingItselfCannotLengthenItsLife(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create(TokenRequest(kind: .app, expiry: .after(86_400)))
            let grant = TokenGrant(of: old.token)
            await #expect(throws: TokenError.exceedsGrant(.expiry)) {
                try await fixture.tokens.rotate(
                    old.token, RotationRequest(expiry: .after(2 * 86_400)), grantedBy: grant, rotatingItself: true,
                    by: .cli)
            }
            fixture.clock.advance(by: 3_600)
            let new = try await fixture.tokens.rotate(
                old.token, RotationRequest(), grantedBy: grant, rotatingItself: true, by: .cli)
            #expect(new.token.expires == fixture.clock.now.addingTimeInterval(86_400))
            // Another app token may rotate only what it covers: not past its own expiry. Asked
            // for, a longer life is refused; by default, it is shortened to fit.
            let narrow = try await fixture.create(TokenRequest(kind: .app, scopes: ["repo:read"], expiry: .after(60)))
            await #expect(throws: TokenError.exceedsGrant(.expiry)) {
                try await fixture.tokens.rotate(
                    new.token, RotationRequest(expiry: .after(3_600)), grantedBy: TokenGrant(of: narrow.token),
                    by: .cli)
            }
            let shortened = try await fixture.tokens.rotate(
                new.token, RotationRequest(), grantedBy: TokenGrant(of: narrow.token), by: .cli)
            #expect(shortened.token.expires == narrow.token.expires)
            let session = try await fixture.create(TokenRequest(kind: .session, expiry: .sliding(60)))
            await #expect(throws: TokenError.notRotatable) {
                try await fixture.tokens.rotate(session.token, RotationRequest(), grantedBy: .account, by: .cli)
            }
            let other = try await fixture.create()
            await #expect(throws: TokenError.overlapTooLong(longest: 7 * 86_400)) {
                try await fixture.tokens.rotate(
                    other.token, RotationRequest(overlap: 8 * 86_400), grantedBy: .account, by: .cli)
            }
            await #expect(throws: TokenError.retryNeedsOverlap) {
                try await fixture.tokens.rotate(
                    other.token, RotationRequest(idempotencyKey: "k"), grantedBy: .account, by: .cli)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func twentyConcurrentUsesOfAFiveUseTokenSucceedExactlyFiveTimes(backend: TestBackend) async throws {
        try await backend.withNodes { first, second in
            // Two nodes, each with its own cache, share the count.
            let one = try await Fixture(first)
            let other = TokenService(
                storage: second, clock: one.clock, secretBox: nil, cache: TokenCache(clock: one.clock))
            other.cache?.apply(.anything)
            let issued = try await one.create(TokenRequest(kind: .app, maxUses: 5))
            let outcomes = try await withThrowingTaskGroup(of: TokenRejection?.self) { group in
                for index in 0..<20 {
                    let service = index.isMultiple(of: 2) ? one.tokens : other
                    group.addTask {
                        if case .rejected(let reason) = try await service.verify(issued.secret.value) { return reason }
                        return nil
                    }
                }
                return try await group.reduce(into: [TokenRejection?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 5)
            #expect(outcomes.filter { $0 == .exhausted }.count == 15)
            #expect(try await first.token(uuid: issued.token.uuid)?.lifecycle.usesRemaining == 0)
            #expect(try await one.verify(issued) == .exhausted)
            // Each node holds at least five refusals: each records one a minute, not one per refusal.
            #expect(try await one.events(.tokenUseRefused).count == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func aRotationHandsOnTheUsesLeftAndTheOverlapSpendsThemNeverAddingAny(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create(TokenRequest(kind: .app, maxUses: 10))
            for _ in 0..<2 { #expect(try await fixture.verify(old) == nil) }
            let new = try await fixture.tokens.rotate(
                try #require(try await storage.token(uuid: old.token.uuid)), RotationRequest(overlap: 3_600),
                grantedBy: .account, by: .cli)
            #expect(new.token.lifecycle.usesRemaining == 8)
            for _ in 0..<3 { #expect(try await fixture.verify(old) == nil) }
            for _ in 0..<5 { #expect(try await fixture.verify(new) == nil) }
            #expect(try await fixture.verify(new) == .exhausted)
            #expect(try await fixture.verify(old) == .exhausted, "ten uses in all, however they were spread")
        }
    }

    @Test(arguments: TestBackend.available)
    func aRotationTakesWhatTheOldTokenHoldsWhenItCommitsAndAnswersToItsMaker(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create(
                TokenRequest(kind: .app, scopes: ["repo:read"], allowedIPs: [try CIDR("10.0.0.0/8")]))
            // Narrowed while a rotation, authenticated before it, was under way: the narrowing holds.
            _ = try await fixture.tokens.update(
                old.token, TokenChange(allowedIPs: [try CIDR("10.1.0.0/16")]), grantedBy: .account, by: .cli)
            let new = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)
            #expect(new.token.lifecycle.allowedIPs == [try CIDR("10.1.0.0/16")])

            // Rotated by another app token, the successor is revoked with that token.
            let manager = try await fixture.create(TokenRequest(kind: .app, scopes: ["user:admin", "repo:read"]))
            let managed = try await fixture.tokens.rotate(
                new.token, RotationRequest(), grantedBy: TokenGrant(of: manager.token), by: .cli)
            try await fixture.tokens.revoke(manager.token, by: .cli)
            #expect(try await storage.token(uuid: managed.token.uuid) == nil)

            // A successor lives no longer than the creator of the token it replaces.
            let creator = try await fixture.create(TokenRequest(kind: .app, expiry: .after(86_400)))
            let child = try await fixture.tokens.create(
                for: fixture.owner, TokenRequest(kind: .app, expiry: .after(86_400)),
                grantedBy: TokenGrant(of: creator.token), by: .cli)
            fixture.clock.advance(by: 43_200)
            let renewed = try await fixture.tokens.rotate(
                child.token, RotationRequest(), grantedBy: TokenGrant(of: child.token), rotatingItself: true, by: .cli)
            #expect(renewed.token.expires == creator.token.expires)

            fixture.clock.advance(by: 43_200)
            await #expect(throws: TokenError.rotatingExpired) {
                try await fixture.tokens.rotate(creator.token, RotationRequest(), grantedBy: .account, by: .cli)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aNarrowManagerCannotChangeABroaderToken(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let broad = try await fixture.create(
                TokenRequest(kind: .app, scopes: ["repo:admin"], allowedIPs: [try CIDR("192.0.2.0/24")]))
            let narrow = TokenGrant(
                of: try await fixture.create(TokenRequest(kind: .app, scopes: ["user:admin"])).token)
            await #expect(throws: TokenError.exceedsGrant(.scope("repo:admin"))) {
                try await fixture.tokens.update(broad.token, TokenChange(allowedIPs: []), grantedBy: narrow, by: .cli)
            }
            await #expect(throws: TokenError.exceedsGrant(.scope("repo:admin"))) {
                try await fixture.tokens.update(
                    broad.token, TokenChange(metadata: .some(#"{"role":"x"}"#)), grantedBy: narrow, by: .cli)
            }
            // Removing a scope only narrows: anyone managing the account may.
            let narrowed = try await fixture.tokens.update(
                broad.token, TokenChange(scopes: []), grantedBy: narrow, by: .cli)
            #expect(narrowed?.scopes == [])
        }
    }

    @Test(arguments: TestBackend.available)
    func aUserAgentIsKeptPrintableAndWithoutSecrets(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let issued = try await fixture.create()
            let agent = "tool/1.0 \(issued.secret.value) \u{202E}gnp.exe\u{2028}" + String(repeating: "x", count: 300)
            _ = try await fixture.tokens.verify(issued.secret.value, clientIP: "192.0.2.1", userAgent: agent)
            let kept = try #require(try await storage.token(uuid: issued.token.uuid)?.lifecycle.lastUsedAgent)
            #expect(!kept.contains(issued.secret.value))
            #expect(kept.hasPrefix("tool/1.0 "))
            #expect(!kept.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x2028 })
            #expect(kept.count <= TokenLifecycle.maxUserAgentLength)
        }
    }

    @Test(arguments: TestBackend.available)
    func deletingTheSuccessorTakesTheCountTheOldTokenSpendsInItsOverlap(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.create(TokenRequest(kind: .app, maxUses: 10))
            let new = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)
            #expect(try await fixture.verify(old) == nil)
            // Deleted by other means than a revocation (which takes the old token too: psql, say).
            _ = try await storage.deleteToken(id: new.token.id)
            #expect(try await fixture.verify(old) == .exhausted, "its count was handed on, and went with it")
        }
    }

    @Test(arguments: TestBackend.available)
    func revokingTheSuccessorRevokesTheOldTokenStillInItsOverlap(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let first = try await fixture.create()
            let second = try await fixture.tokens.rotate(first.token, RotationRequest(), grantedBy: .account, by: .cli)
            let third = try await fixture.tokens.rotate(
                second.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)
            #expect(try await fixture.verify(second) == nil)
            try await fixture.tokens.revoke(third.token, by: .cli)
            #expect(try await fixture.verify(second) == .unknown)
            // One past its overlap is kept: its reuse is still recognised.
            #expect(try await fixture.verify(first) == .rotatedAway)
        }
    }

    @Test(arguments: TestBackend.available)
    func anAllowlistAdmitsItsIPv4AndIPv6NetworksOnly(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let issued = try await fixture.create(
                TokenRequest(kind: .app, allowedIPs: [try CIDR("10.0.0.0/8"), try CIDR("2001:db8::/32")]))
            #expect(try await fixture.verify(issued, from: "10.1.2.3") == nil)
            #expect(try await fixture.verify(issued, from: "::ffff:10.1.2.3") == nil)
            #expect(try await fixture.verify(issued, from: "2001:db8:1::7") == nil)
            #expect(try await fixture.verify(issued, from: "11.0.0.1") == .addressNotAllowed)
            #expect(try await fixture.verify(issued, from: "2001:db9::1") == .addressNotAllowed)
            #expect(try await fixture.verify(issued, from: nil) == .addressNotAllowed)
            let refusals = try await fixture.events(.tokenUseRefused)
            #expect(refusals.count == 1)
            #expect(refusals.first?.detail.hasSuffix("address_not_allowed") == true)
            #expect(refusals.first?.origin.address == "11.0.0.1")

            // A change takes effect at once, cache or not.
            let changed = try await fixture.tokens.update(
                issued.token, TokenChange(allowedIPs: [try CIDR("11.0.0.0/8")]), grantedBy: .account, by: .cli)
            #expect(changed?.lifecycle.allowedIPs == [try CIDR("11.0.0.0/8")])
            #expect(try await fixture.verify(issued, from: "10.1.2.3") == .addressNotAllowed)
            #expect(try await fixture.verify(issued, from: "11.0.0.1") == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func changesNeverWidenScopesNorLiftARestrictionTheChangerHolds(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let issued = try await fixture.create(TokenRequest(kind: .app, scopes: ["repo:read", "repo:write"]))
            await #expect(throws: TokenError.scopesWidened("user:admin")) {
                try await fixture.tokens.update(
                    issued.token, TokenChange(scopes: ["repo:read", "user:admin"]), grantedBy: .account, by: .cli)
            }
            let narrowed = try await fixture.tokens.update(
                issued.token, TokenChange(title: .some("renamed"), metadata: .some(#"{"a":1}"#), scopes: ["repo:read"]),
                grantedBy: .account, by: .cli)
            #expect(narrowed?.scopes == ["repo:read"])
            #expect(narrowed?.title == "renamed")
            #expect(narrowed?.lifecycle.metadata == #"{"a":1}"#)
            #expect(try await fixture.events(.tokenUpdated).count == 1)

            // A manager restricted to a network cannot free a token from it.
            let restricted = try await fixture.create(
                TokenRequest(kind: .app, scopes: ["user:admin", "repo:read"], allowedIPs: [try CIDR("10.0.0.0/8")]))
            let grant = TokenGrant(of: restricted.token)
            await #expect(throws: TokenError.exceedsGrant(.addresses)) {
                try await fixture.tokens.update(
                    try #require(narrowed), TokenChange(allowedIPs: []), grantedBy: grant, by: .cli)
            }
            // What it creates inherits its allowlist, and can only narrow it.
            let child = try await fixture.tokens.create(
                for: fixture.owner, TokenRequest(kind: .app), grantedBy: grant, by: .cli)
            #expect(child.token.lifecycle.allowedIPs == [try CIDR("10.0.0.0/8")])
            await #expect(throws: TokenError.exceedsGrant(.addresses)) {
                try await fixture.tokens.create(
                    for: fixture.owner, TokenRequest(kind: .app, allowedIPs: [try CIDR("0.0.0.0/0")]), grantedBy: grant,
                    by: .cli)
            }
            // A limited token cannot create one with more uses than it has left.
            let limited = try await fixture.create(TokenRequest(kind: .app, maxUses: 3))
            await #expect(throws: TokenError.exceedsGrant(.uses)) {
                try await fixture.tokens.create(
                    for: fixture.owner, TokenRequest(kind: .app, maxUses: 4), grantedBy: TokenGrant(of: limited.token),
                    by: .cli)
            }
        }
    }
}
