import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// Every lifetime is bounded before arithmetic, and no token creates a token with more
/// rights or a longer life than its own.
@Suite("Token grants and bounds")
struct TokenGrantTests {
    let clock = ManualClock()

    func service(_ storage: any LatchkeyStorage) -> TokenService {
        TokenService(storage: storage, clock: clock, secretBox: nil)
    }

    @Test func lifetimesAndExpiriesBeyondAHundredYearsAreRefusedNotTrapped() async throws {
        try await withSQLiteStorage { storage in
            let tokens = service(storage)
            let owner = try await makeUser(storage, "sam")
            let farFuture = try #require(ISO8601DateFormatter().date(from: "300000-01-01T00:00:00Z"))
            for expiry: TokenRequest.Expiry in [
                .after(.infinity), .after(.nan), .after(1e308), .after(-1), .after(Lifetime.maximum + 1),
                .sliding(.infinity), .at(farFuture), .at(.distantFuture),
                .at(clock.now.addingTimeInterval(Lifetime.maximum + 1)),
            ] {
                await #expect(throws: TokenError.self, "\(expiry)") {
                    try await tokens.create(for: owner, TokenRequest(kind: .app, expiry: expiry), by: .cli)
                }
            }
            let longest = try await tokens.create(
                for: owner, TokenRequest(kind: .app, expiry: .after(Lifetime.maximum)), by: .cli)
            #expect(longest.token.expires == clock.now.addingTimeInterval(Lifetime.maximum))
            #expect(try await storage.tokens(TokenQuery(ownerID: owner.id)).count == 1, "nothing else was stored")
        }
    }

    @Test func conversionsSaturateInsteadOfTrapping() {
        #expect(Date(timeIntervalSince1970: 1e300).microsecondsSince1970 == .max)
        #expect(Date(timeIntervalSince1970: -1e300).microsecondsSince1970 == .min)
        #expect(Date(timeIntervalSince1970: .nan).microsecondsSince1970 == 0)
        #expect(Date(timeIntervalSince1970: 1e300).secondsSince1970 == .max)
        #expect(Date(timeIntervalSince1970: 1.5).microsecondsSince1970 == 1_500_000)
    }

    @Test func anAppTokenHandsOnNoBroaderKindNoOtherScopeAndNoLaterExpiry() async throws {
        try await withSQLiteStorage { storage in
            let tokens = service(storage)
            let owner = try await makeUser(storage, "sam")
            let parent = try await tokens.create(
                for: owner, TokenRequest(kind: .app, scopes: ["user:admin", "repo:read"], expiry: .after(3600)),
                by: .cli)
            let grant = TokenGrant(of: parent.token)

            await #expect(throws: TokenError.exceedsGrant(.kind(.session))) {
                try await tokens.create(
                    for: owner, TokenRequest(kind: .session, expiry: .sliding(60)), grantedBy: grant, by: .cli)
            }
            await #expect(throws: TokenError.exceedsGrant(.scope("repo:write"))) {
                try await tokens.create(
                    for: owner, TokenRequest(kind: .app, scopes: ["repo:read", "repo:write"], expiry: .after(60)),
                    grantedBy: grant, by: .cli)
            }
            await #expect(throws: TokenError.exceedsGrant(.expiry)) {
                try await tokens.create(
                    for: owner, TokenRequest(kind: .app, expiry: .never), grantedBy: grant, by: .cli)
            }
            await #expect(throws: TokenError.exceedsGrant(.expiry)) {
                try await tokens.create(
                    for: owner, TokenRequest(kind: .app, expiry: .after(3601)), grantedBy: grant, by: .cli)
            }
            let child = try await tokens.create(
                for: owner,
                TokenRequest(kind: .app, scopes: ["repo:read"], expiry: grant.capping(.never, now: clock.now)),
                grantedBy: grant, by: .cli)
            #expect(child.token.expires == parent.token.expires, "a default expiry is shortened to the creator's")
            #expect(grant.covers(child.token))
            #expect(!TokenGrant(of: child.token).covers(parent.token), "the narrower token does not cover the wider")

            let session = try await tokens.create(
                for: owner, TokenRequest(kind: .session, expiry: .sliding(60)), by: .cli)
            #expect(TokenGrant(of: session.token) == .account, "a session acts for its user")
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentUseAndRevocationNeverBringATokenBack(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let tokens = TokenService(storage: storage, clock: clock, secretBox: nil)
            let owner = try await makeUser(storage, "sam")
            for round in 0..<5 {
                // A sliding token: every use writes its expiry, racing the delete.
                let issued = try await tokens.create(
                    for: owner, TokenRequest(kind: .session, expiry: .sliding(600)), by: .cli)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for user in 0..<8 {
                        group.addTask {
                            for _ in 0..<10 {
                                clock.advance(by: 61)  // each use moves the expiry far enough to be written
                                _ = try await tokens.verify(issued.secret.value)
                                if user == 0, let found = try await tokens.find(secret: issued.secret.value) {
                                    _ = try await tokens.refresh(found)
                                }
                            }
                        }
                    }
                    group.addTask { try await tokens.revoke(issued.token, by: .cli) }
                    try await group.waitForAll()
                }
                guard case .rejected(.unknown) = try await tokens.verify(issued.secret.value) else {
                    Issue.record("round \(round): a revoked token authenticates again")
                    return
                }
                #expect(try await storage.token(uuid: issued.token.uuid) == nil)
            }
        }
    }
}
