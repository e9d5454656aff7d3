import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

@Suite("Token service", .removingScratchDirectories)
struct TokenServiceTests {
    let clock = ManualClock()
    let storage: any LatchkeyStorage
    let service: TokenService
    let owner: User

    init() async throws {
        storage = try makeSQLiteStorage()
        service = TokenService(storage: storage, clock: clock, secretBox: SecretBox(key: .init(size: .bits256)))
        owner = try await makeUser(storage, "sam", clock: clock)
    }

    /// The token of a valid verification; anything else fails the test here.
    func expectValid(
        _ verification: TokenVerification, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Token {
        try #require(
            validToken(verification), "expected a valid token, got \(verification)", sourceLocation: sourceLocation)
    }

    func validToken(_ verification: TokenVerification) -> Token? {
        if case .valid(let token, _) = verification { return token }
        return nil
    }

    func validUser(_ verification: TokenVerification) -> User? {
        if case .valid(_, let user) = verification { return user }
        return nil
    }

    func rejection(_ verification: TokenVerification) -> TokenRejection? {
        if case .rejected(let reason) = verification { return reason }
        return nil
    }

    /// `superuser`, and any scope the operator reserves, only on an administrator's tokens:
    /// introspection reports it, and a relying service that honours it must not be escalated.
    @Test func reservedScopesAreGivenOnlyToAdministratorsTokens() async throws {
        let tokens = TokenService(
            storage: storage, clock: clock, secretBox: nil, limits: TokenLimits(reservedScopes: ["org:admin"]))
        let kim = try await makeUser(storage, "kim", isAdmin: true, clock: clock)
        for scope in ["superuser", "org:admin"] {
            await #expect(throws: TokenError.exceedsGrant(.reservedScope(scope))) {
                try await tokens.create(for: owner, TokenRequest(kind: .app, scopes: ["repo:read", scope]), by: .cli)
            }
            let admins = try await tokens.create(for: kim, TokenRequest(kind: .app, scopes: [scope]), by: .cli)
            #expect(admins.token.scopes == [scope])
        }
        #expect(
            "\(TokenError.exceedsGrant(.reservedScope("superuser")))"
                == "only administrators' tokens may hold the scope 'superuser'")
        // `superuser` is reserved on every server, whatever else is.
        #expect(TokenLimits().reservedScopes == ["superuser"])
        // An administrator demoted since: a reserved scope is no longer reported as held.
        var demoted = kim
        demoted.isAdmin = false
        #expect(tokens.limits.effectiveScopes(["repo:read", "superuser", "org:admin"], of: demoted) == ["repo:read"])
        #expect(tokens.limits.effectiveScopes(["superuser"], of: kim) == ["superuser"])
        // One that gave itself `superuser` before scopes were reserved is not renewed by rotation.
        let secret = TokenSecret.generate()
        let legacy = try await storage.insertToken(
            NewToken(
                uuid: UUID(), key: secret.key, ownerID: owner.id, title: "old", kind: .app, scopes: ["superuser"],
                created: clock.now, expires: nil, slidingLifetime: nil, digest: secret.digest, sealedSecret: nil))
        await #expect(throws: TokenError.exceedsGrant(.reservedScope("superuser"))) {
            try await tokens.rotate(legacy, RotationRequest(), grantedBy: .account, by: .cli)
        }
    }

    @Test func aCreatedTokenVerifiesAndNamesItsOwner() async throws {
        let issued = try await service.create(
            for: owner, TokenRequest(kind: .app, title: "ci", scopes: ["repo:read"]), by: .cli)
        let verification = try await service.verify(issued.secret.value)
        let token = try expectValid(verification)
        #expect(validUser(verification) == owner)
        #expect(token.uuid == issued.token.uuid)
        #expect(token.title == "ci")
        #expect(token.scopes == ["repo:read"])
        #expect(token.kind == .app)
        #expect(token.key == issued.secret.key)
        #expect(token.expires == nil)
    }

    @Test func malformedUnknownAndRevokedSecretsAreRejected() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        #expect(rejection(try await service.verify("lk_nonsense")) == .malformed)
        // A changed last character (never the one it already is: 1 secret in 62 ends in "x").
        let changed = issued.secret.value.dropLast() + (issued.secret.value.hasSuffix("x") ? "y" : "x")
        #expect(rejection(try await service.verify(changed)) == .malformed)
        #expect(rejection(try await service.verify(TokenSecret.generate().value)) == .unknown)
        #expect(try await service.revoke(issued.token, by: .cli))
        #expect(rejection(try await service.verify(issued.secret.value)) == .unknown)
    }

    @Test func theSecretIsNeverWrittenToTheDatabaseFile() async throws {
        try await withScratchDirectory { directory in
            let path = directory.appendingPathComponent("secrets.db").path
            let fileStorage = try SQLiteStorage(path: path)
            let fileOwner = try await makeUser(fileStorage, "kim")
            let fileService = TokenService(storage: fileStorage, clock: clock, secretBox: nil)
            var secrets: [TokenSecret] = []
            for _ in 0..<20 {
                secrets.append(try await fileService.create(for: fileOwner, TokenRequest(kind: .app), by: .cli).secret)
            }
            var bytes = Data()
            for suffix in ["", "-wal", "-shm"] {
                bytes += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()
            }
            for secret in secrets {
                // The public key is stored: these bytes are the ones that hold the tokens.
                #expect(bytes.range(of: Data(secret.key.utf8)) != nil, "the key of \(secret) is in the file")
                #expect(bytes.range(of: Data(secret.value.utf8)) == nil)
                #expect(bytes.range(of: Data(secret.value.dropFirst(8).utf8)) == nil, "not even the part after the key")
            }
        }
    }

    @Test func expiryIsCheckedAgainstTheClock() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app, expiry: .after(3600)), by: .cli)
        #expect(issued.token.expires == clock.now.addingTimeInterval(3600))
        clock.advance(by: 3599)
        _ = try expectValid(try await service.verify(issued.secret.value))
        clock.advance(by: 1)
        #expect(rejection(try await service.verify(issued.secret.value)) == .expired)
    }

    @Test func slidingExpiryMovesWithUseButIsWrittenOnlyWhenItMovesAMinute() async throws {
        let week: TimeInterval = 7 * 86_400
        let issued = try await service.create(
            for: owner, TokenRequest(kind: .session, expiry: .sliding(week)), by: .cli)
        let created = clock.now

        clock.advance(by: 30)
        let used = try expectValid(try await service.verify(issued.secret.value))
        #expect(used.expires == clock.now.addingTimeInterval(week), "the caller sees the refreshed expiry")
        #expect(try await storage.token(uuid: issued.token.uuid)?.expires == created.addingTimeInterval(week))

        clock.advance(by: 31)
        _ = try expectValid(try await service.verify(issued.secret.value))
        #expect(try await storage.token(uuid: issued.token.uuid)?.expires == clock.now.addingTimeInterval(week))

        clock.advance(by: week - 1)
        _ = try expectValid(try await service.verify(issued.secret.value))
        clock.advance(by: week + 1)
        #expect(rejection(try await service.verify(issued.secret.value)) == .expired)
    }

    @Test func lastUseIsWrittenAtMostOnceAMinuteUnlessTheAddressIsNew() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        #expect(try await storage.token(uuid: issued.token.uuid)?.lastUsed == nil)

        _ = try await service.verify(issued.secret.value, clientIP: "192.0.2.1", userAgent: "curl/8.5\u{7}")
        let first = clock.now
        var stored = try #require(try await storage.token(uuid: issued.token.uuid))
        #expect(stored.lastUsed == first)
        #expect(stored.lastUsedIP == "192.0.2.1")
        #expect(stored.lifecycle.lastUsedAgent == "curl/8.5")

        clock.advance(by: 59)
        _ = try await service.verify(issued.secret.value, clientIP: "192.0.2.1", userAgent: "other")
        stored = try #require(try await storage.token(uuid: issued.token.uuid))
        #expect(stored.lastUsed == first)
        #expect(stored.lifecycle.lastUsedAgent == "curl/8.5")

        _ = try await service.verify(issued.secret.value, clientIP: "192.0.2.2")
        stored = try #require(try await storage.token(uuid: issued.token.uuid))
        #expect(stored.lastUsed == clock.now)
        #expect(stored.lifecycle.recentIPs == ["192.0.2.2", "192.0.2.1"])

        clock.advance(by: 60)
        _ = try await service.verify(issued.secret.value, clientIP: "192.0.2.1")
        stored = try #require(try await storage.token(uuid: issued.token.uuid))
        #expect(stored.lastUsed == clock.now)
        #expect(stored.lastUsedIP == "192.0.2.1")
        #expect(stored.lifecycle.recentIPs == ["192.0.2.1", "192.0.2.2"])
    }

    @Test func theLastTenDistinctAddressesAreKeptNewestFirst() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        for host in 1...12 { _ = try await service.verify(issued.secret.value, clientIP: "2001:db8::\(host)") }
        let stored = try #require(try await storage.token(uuid: issued.token.uuid))
        #expect(stored.lifecycle.recentIPs == (3...12).reversed().map { "2001:db8::\($0)" })
    }

    @Test func anInactiveOwnersTokensStopWorking() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        try await storage.setActive(userID: owner.id, false)
        #expect(rejection(try await service.verify(issued.secret.value)) == .inactiveUser)
        try await storage.setActive(userID: owner.id, true)
        _ = try expectValid(try await service.verify(issued.secret.value))
    }

    @Test func badRequestsAreRefusedAndStoreNothing() async throws {
        await #expect(throws: TokenError.titleTooLong) {
            try await service.create(
                for: owner, TokenRequest(kind: .app, title: String(repeating: "é", count: 256)), by: .cli)
        }
        await #expect(throws: TokenError.invalidScope("has space")) {
            try await service.create(for: owner, TokenRequest(kind: .app, scopes: ["has space"]), by: .cli)
        }
        await #expect(throws: TokenError.invalidScope("")) {
            try await service.create(for: owner, TokenRequest(kind: .app, scopes: [""]), by: .cli)
        }
        await #expect(throws: TokenError.expiryInPast) {
            try await service.create(for: owner, TokenRequest(kind: .app, expiry: .at(clock.now)), by: .cli)
        }
        #expect(try await service.count(TokenQuery()) == 0)
        let longest = try await service.create(
            for: owner, TokenRequest(kind: .app, title: String(repeating: "é", count: 255)), by: .cli)
        #expect(longest.token.title?.count == 255)
    }

    @Test func duplicateScopesAreStoredOnce() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app, scopes: ["a", "b", "a"]), by: .cli)
        #expect(issued.token.scopes == ["a", "b"])
    }

    @Test func recoverableTokensCanBeShownAgainOnlyWithTheServerKey() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app, recoverable: true), by: .cli)
        let stored = try #require(try await service.find(uuid: issued.token.uuid))
        #expect(stored.isRecoverable)
        #expect(service.recoverSecret(of: stored) == issued.secret)

        let otherKey = TokenService(storage: storage, clock: clock, secretBox: SecretBox(key: .init(size: .bits256)))
        #expect(otherKey.recoverSecret(of: stored) == nil)

        let plain = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        #expect(service.recoverSecret(of: plain.token) == nil)

        let noKey = TokenService(storage: storage, clock: clock, secretBox: nil)
        await #expect(throws: TokenError.recoveryUnavailable) {
            try await noKey.create(for: owner, TokenRequest(kind: .app, recoverable: true), by: .cli)
        }
    }

    @Test func findingByKeyStaysWithinTheOwner() async throws {
        let issued = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        let kim = try await makeUser(storage, "kim")
        #expect(try await service.find(key: issued.secret.key, ownerID: owner.id)?.id == issued.token.id)
        #expect(try await service.find(key: issued.secret.key, ownerID: kim.id) == nil)
        #expect(try await service.find(secret: issued.secret.value)?.id == issued.token.id)
        #expect(try await service.find(secret: "lk_bad") == nil)
    }

    @Test func garbageCollectionKeepsTokensWithinTheirGracePeriod() async throws {
        let short = try await service.create(for: owner, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
        let long = try await service.create(for: owner, TokenRequest(kind: .app, expiry: .after(7200)), by: .cli)
        let forever = try await service.create(for: owner, TokenRequest(kind: .app), by: .cli)
        clock.advance(by: 60 + 86_400)
        #expect(try await service.deleteExpired(grace: 86_400) == 0, "expired exactly a day ago: still kept")
        clock.advance(by: 1)
        #expect(try await service.deleteExpired(grace: 86_400) == 1)
        #expect(try await service.find(uuid: short.token.uuid) == nil)
        #expect(try await service.find(uuid: long.token.uuid)?.id == long.token.id)
        #expect(try await service.find(uuid: forever.token.uuid)?.id == forever.token.id)
    }
}

/// `--max-token-lifetime` and `--require-expiry`: a request beyond policy is refused, never
/// shortened; lifetimes the server chooses are shortened to fit; sliding renewals stop in time.
@Suite("Token lifetime policy", .removingScratchDirectories)
struct TokenPolicyTests {
    let clock = ManualClock()
    let storage: any LatchkeyStorage
    let owner: User

    init() async throws {
        storage = try makeSQLiteStorage()
        owner = try await makeUser(storage, "sam", clock: clock)
    }

    func service(_ limits: TokenLimits) -> TokenService {
        TokenService(storage: storage, clock: clock, secretBox: nil, limits: limits)
    }

    @Test func aLifetimeBeyondTheKindsLongestIsRefusedNotShortened() async throws {
        let tokens = service(TokenLimits(maxLifetime: [.app: 30 * 86_400]))
        let tooLong = TokenError.beyondPolicy(.lifetimeTooLong(.app, longest: 30 * 86_400))
        for expiry: TokenRequest.Expiry in [
            .after(30 * 86_400 + 1), .at(clock.now.addingTimeInterval(31 * 86_400)), .never, .sliding(31 * 86_400),
        ] {
            await #expect(throws: tooLong, "\(expiry)") {
                try await tokens.create(for: owner, TokenRequest(kind: .app, expiry: expiry), by: .cli)
            }
        }
        #expect("\(tooLong)" == "on this server an app token may live at most 30d")
        let longest = try await tokens.create(
            for: owner, TokenRequest(kind: .app, expiry: .after(30 * 86_400)), by: .cli)
        #expect(longest.token.expires == clock.now.addingTimeInterval(30 * 86_400))
        // The other kind is not bounded.
        _ = try await tokens.create(for: owner, TokenRequest(kind: .session), by: .cli)
        #expect(try await tokens.count(TokenQuery(ownerID: owner.id)) == 2, "the refusals stored nothing")
    }

    @Test func requiringExpiryRefusesTokensThatNeverExpire() async throws {
        let tokens = service(TokenLimits(requireExpiry: true))
        await #expect(throws: TokenError.beyondPolicy(.expiryRequired)) {
            try await tokens.create(for: owner, TokenRequest(kind: .session), by: .cli)
        }
        _ = try await tokens.create(for: owner, TokenRequest(kind: .session, expiry: .after(60)), by: .cli)
    }

    @Test func lifetimesTheServerChoosesAreShortenedToFit() {
        let limits = TokenLimits(maxLifetime: [.app: 86_400])
        let now = clock.now
        #expect(limits.cappingDefault(.never, kind: .app, now: now) == .after(86_400))
        #expect(limits.cappingDefault(.after(7 * 86_400), kind: .app, now: now) == .after(86_400))
        #expect(limits.cappingDefault(.sliding(60), kind: .app, now: now) == .sliding(60))
        #expect(
            limits.cappingDefault(.at(now.addingTimeInterval(2 * 86_400)), kind: .app, now: now)
                == .at(now.addingTimeInterval(86_400)))
        #expect(limits.cappingDefault(.never, kind: .session, now: now) == .never, "no policy for sessions")
    }

    @Test func slidingRenewalsStopAtTheLongestLifetime() async throws {
        let tokens = service(TokenLimits(maxLifetime: [.session: 7 * 86_400]))
        let issued = try await tokens.create(
            for: owner, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
        let created = clock.now
        // Used every 20 hours: each use renews it for a day, until a week after its creation.
        while clock.now.timeIntervalSince(created) < 6.5 * 86_400 {
            clock.advance(by: 20 * 3_600)
            guard case .valid(let token, _) = try await tokens.verify(issued.secret.value) else {
                Issue.record("refused \(clock.now.timeIntervalSince(created) / 3_600) hours after creation")
                return
            }
            #expect(token.expires! <= created.addingTimeInterval(7 * 86_400))
        }
        clock.advance(by: 20 * 3_600)
        guard case .rejected(.expired) = try await tokens.verify(issued.secret.value) else {
            Issue.record("a sliding session outlived the longest lifetime")
            return
        }
    }
}
