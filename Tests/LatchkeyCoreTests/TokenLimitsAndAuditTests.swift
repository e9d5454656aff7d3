import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// Per-user limits and the audit trail of every action, on each backend.
@Suite("Token limits and the audit log")
struct TokenLimitsAndAuditTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    let web = Origin(userID: nil, via: "quay", address: "192.0.2.10")

    @Test(arguments: TestBackend.available)
    func aUserHoldsAtMostTheLiveTokenLimit(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let clock = ManualClock(Self.start)
            let tokens = TokenService(
                storage: storage, clock: clock, secretBox: nil, limits: TokenLimits(maxLivePerUser: 3))
            let sam = try await makeUser(storage, "sam", clock: clock)
            let kim = try await makeUser(storage, "kim", clock: clock)
            let shortLived = try await tokens.create(for: sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            for _ in 0..<2 { _ = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli) }
            await #expect(throws: TokenError.tooManyTokens(limit: 3)) {
                try await tokens.create(for: sam, TokenRequest(kind: .session), by: .cli)
            }
            _ = try await tokens.create(for: kim, TokenRequest(kind: .app), by: .cli)  // another user's own count
            clock.advance(by: 61)  // an expired token no longer counts
            let replacement = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)
            await #expect(throws: TokenError.tooManyTokens(limit: 3)) {
                try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)
            }
            #expect(try await tokens.revoke(replacement.token, by: .cli))
            _ = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)
            _ = shortLived
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentCreationsCannotPassTheLimit(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let tokens = TokenService(storage: storage, secretBox: nil, limits: TokenLimits(maxLivePerUser: 5))
            let sam = try await makeUser(storage, "sam")
            let created = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)
                            return true
                        } catch TokenError.tooManyTokens {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(created == 5)
            #expect(try await storage.countTokens(TokenQuery(ownerID: sam.id)) == 5)
        }
    }

    @Test func creationIsRateLimitedPerUser() async throws {
        try await withSQLiteStorage { storage in
            let clock = ManualClock(Self.start)
            let tokens = TokenService(
                storage: storage, clock: clock, secretBox: nil,
                limits: TokenLimits(maxLivePerUser: nil, creationRate: try RateLimit.parse("2/1m")))
            let sam = try await makeUser(storage, "sam", clock: clock)
            let kim = try await makeUser(storage, "kim", clock: clock)
            for _ in 0..<2 { _ = try await tokens.create(for: sam, TokenRequest(kind: .app), by: web) }
            for _ in 0..<3 {
                await #expect(throws: LimitExceeded.self) {
                    try await tokens.create(for: sam, TokenRequest(kind: .app), by: web)
                }
            }
            _ = try await tokens.create(for: kim, TokenRequest(kind: .app), by: web)
            let throttled = try await storage.events(AuditQuery()).filter { $0.kind == "token.creation_throttled" }
            #expect(throttled.map(\.userID) == [sam.id], "recorded once, when the limit engaged")
            clock.advance(by: 120)
            _ = try await tokens.create(for: sam, TokenRequest(kind: .app), by: web)
        }
    }

    @Test(arguments: TestBackend.available)
    func everyTokenAndAccountActionIsAudited(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let clock = ManualClock(Self.start)
            let tokens = TokenService(storage: storage, clock: clock, secretBox: nil)
            let accounts = AccountService(storage: storage, hasher: fastPasswordHasher, clock: clock)
            let sam = try await accounts.createUser(username: "sam", password: "sam-pw", by: .cli)
            let operatorOrigin = Origin.cli
            let acting = Origin(userID: sam.id, via: "stencila", address: "192.0.2.1")

            let kept = try await tokens.create(
                for: sam, TokenRequest(kind: .app, title: "ci", expiry: .after(60)), by: acting)
            let revoked = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "old"), by: acting)
            #expect(try await tokens.revoke(revoked.token, by: acting))
            let leaked = try await tokens.create(for: sam, TokenRequest(kind: .app), by: acting)
            #expect(try await tokens.revoke(leaked.token, by: web, as: .tokenLeaked, detail: "reported"))
            clock.advance(by: 3600)
            #expect(try await tokens.deleteExpired(grace: 60) == 1)
            let remaining = try await tokens.create(for: sam, TokenRequest(kind: .session), by: acting)
            #expect(try await tokens.revokeAll(of: sam, by: operatorOrigin).map(\.uuid) == [remaining.token.uuid])
            try await accounts.setActive(sam, false, by: operatorOrigin)
            try await accounts.setActive(sam, true, by: operatorOrigin)
            try await accounts.setPassword(sam, to: "new-pw", by: operatorOrigin, endingSessionsWith: tokens)

            let events = try await storage.events(AuditQuery()).reversed().map { ($0.kind, $0.tokenUUID, $0.origin) }
            let expected: [(AuditKind, UUID?, Origin)] = [
                (.userCreated, nil, .cli),
                (.tokenCreated, kept.token.uuid, acting), (.tokenCreated, revoked.token.uuid, acting),
                (.tokenRevoked, revoked.token.uuid, acting), (.tokenCreated, leaked.token.uuid, acting),
                (.tokenLeaked, leaked.token.uuid, web), (.tokenExpired, kept.token.uuid, .system),
                (.tokenCreated, remaining.token.uuid, acting), (.tokenRevoked, remaining.token.uuid, .cli),
                (.userDeactivated, nil, .cli), (.userActivated, nil, .cli), (.passwordChanged, nil, .cli),
            ]
            #expect(events.map(\.0) == expected.map(\.0.rawValue))
            #expect(events.map(\.1) == expected.map(\.1))
            #expect(events.map(\.2) == expected.map(\.2))
            let all = try await storage.events(AuditQuery())
            #expect(all.allSatisfy { $0.userID == sam.id })
            let text = all.map(\.detail).joined(separator: "\n")
            for secret in [kept.secret, revoked.secret, leaked.secret, remaining.secret] {
                #expect(!text.contains(secret.value))
            }
            #expect(!text.contains("sam-pw") && !text.contains("new-pw"))
            let createdKept = all.first { $0.kind == "token.created" && $0.tokenUUID == kept.token.uuid }
            #expect(createdKept?.detail == "app \(kept.token.key) 'ci'", "kind, key and title name the token")
        }
    }

    @Test(arguments: TestBackend.available)
    func oldEventsAreCollected(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let clock = ManualClock(Self.start)
            let log = AuditLog(storage: storage, clock: clock)
            try await log.record(.userCreated, user: 1, by: .cli)
            clock.advance(by: 10 * 86_400)
            try await log.record(
                .userCreated, user: 2, by: .cli, detail: "lk_AbCdEfGh1234567890123456789012345678 leaked")
            #expect(try await log.collect(olderThan: 5 * 86_400) == 1)
            let left = try await log.events(AuditQuery())
            #expect(left.map(\.userID) == [2])
            #expect(left.map(\.detail) == ["lk_AbCdE…[redacted] leaked"], "anything shaped like a secret is redacted")
        }
    }
}
