import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

/// A token in its rotation's overlap still authenticates, but hands on nothing: whatever it
/// made then would not fall with its successor's family. On each backend.
@Suite("A retiring token creates nothing", .removingScratchDirectories)
struct RetiringTokenTests {
    struct Fixture {
        let clock = ManualClock()
        let storage: any LatchkeyStorage
        let tokens: TokenService
        let owner: User

        init(_ storage: any LatchkeyStorage, onReuse: ReuseResponse = .notify) async throws {
            self.storage = storage
            let cache = TokenCache(clock: clock)
            cache.apply(.anything)
            tokens = TokenService(
                storage: storage, clock: clock, secretBox: SecretBox(key: .init(size: .bits256)),
                limits: TokenLimits(onReuse: onReuse), cache: cache)
            owner = try await makeUser(storage, "sam", clock: clock)
        }

        func manager() async throws -> IssuedToken {
            try await tokens.create(
                for: owner, TokenRequest(kind: .app, title: "manager", scopes: ["user:admin", "repo:read"]), by: .cli)
        }

        /// What `secret` authenticates as now, through verification as a request would.
        func verified(_ secret: TokenSecret) async throws -> Token? {
            if case .valid(let token, _) = try await tokens.verify(secret.value, clientIP: "192.0.2.1") {
                return token
            }
            return nil
        }

        func child(of grant: TokenGrant) async throws -> IssuedToken {
            try await tokens.create(
                for: owner, TokenRequest(kind: .app, title: "child", scopes: ["repo:read"]), grantedBy: grant,
                by: .cli)
        }
    }

    @Test(arguments: TestBackend.available)
    func aTokenInItsOverlapAuthenticatesButCannotCreateOrRotateTokens(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.manager()
            _ = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)
            let retiring = try #require(try await fixture.verified(old.secret), "it works through its overlap")

            await #expect(throws: TokenError.exceedsGrant(.retiring)) {
                try await fixture.child(of: TokenGrant(of: retiring))
            }
            let other = try await fixture.tokens.create(
                for: fixture.owner, TokenRequest(kind: .app, scopes: ["repo:read"]), by: .cli)
            await #expect(throws: TokenError.exceedsGrant(.retiring)) {
                try await fixture.tokens.rotate(
                    other.token, RotationRequest(), grantedBy: TokenGrant(of: retiring), by: .cli)
            }
            #expect(!TokenGrant(of: retiring).covers(other.token), "nor is another token's secret shown to it")
            #expect(try await storage.tokens(TokenQuery(ownerID: fixture.owner.id)).count == 3)
        }
    }

    /// The request authenticated before the rotation committed (here: its token as read then):
    /// the database refuses the creation in the writing transaction.
    @Test(arguments: TestBackend.available)
    func aCreationAuthenticatedBeforeTheRotationCommittedIsRefusedByTheDatabase(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let old = try await fixture.manager()
            let readBeforeRotation = try #require(try await fixture.verified(old.secret))
            _ = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)

            await #expect(throws: TokenError.exceedsGrant(.retiring)) {
                try await fixture.child(of: TokenGrant(of: readBeforeRotation))
            }
            let revoked = try await fixture.manager()
            try await fixture.tokens.revoke(revoked.token, by: .cli)
            await #expect(throws: TokenError.exceedsGrant(.retiring), "a creator revoked meanwhile hands on nothing") {
                try await fixture.child(of: TokenGrant(of: revoked.token))
            }
            #expect(
                try await storage.tokens(TokenQuery(ownerID: fixture.owner.id)).map(\.title) == ["manager", "manager"])
        }
    }

    /// What a token made before its rotation joins the successor's family: revoking the
    /// successor, or its reuse with `revoke-family`, reaches it.
    @Test(arguments: TestBackend.available)
    func whatTheOldTokenMadeFallsWithItsFamily(backend: TestBackend) async throws {
        for onReuse in ReuseResponse.allCases {
            try await backend.withStorage { storage in
                let fixture = try await Fixture(storage, onReuse: onReuse)
                let old = try await fixture.manager()
                let child = try await fixture.child(of: TokenGrant(of: old.token))
                let successor = try await fixture.tokens.rotate(
                    old.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)
                fixture.clock.advance(by: 61)

                #expect(try await fixture.verified(old.secret) == nil, "reuse: \(onReuse)")
                switch onReuse {
                case .notify:
                    #expect(try await fixture.verified(child.secret) != nil)
                    try await fixture.tokens.revoke(successor.token, by: .cli)
                case .revokeFamily: break
                }
                #expect(try await fixture.verified(successor.secret) == nil)
                #expect(try await fixture.verified(child.secret) == nil, "the child falls with the family")
            }
        }
    }

    /// A token that rotates the token that made it: the family moves to the successor, which
    /// then must not hang from its own descendant (a cycle nothing above it would reach).
    @Test(arguments: TestBackend.available)
    func aTokenRotatingItsOwnCreatorStaysInTheFamilyOfTheCreatorsCreator(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let top = try await fixture.manager()
            let middle = try await fixture.tokens.create(
                for: fixture.owner, TokenRequest(kind: .app, title: "middle", scopes: ["user:admin", "repo:read"]),
                grantedBy: TokenGrant(of: top.token), by: .cli)
            let child = try await fixture.tokens.create(
                for: fixture.owner, TokenRequest(kind: .app, title: "child", scopes: ["user:admin", "repo:read"]),
                grantedBy: TokenGrant(of: middle.token), by: .cli)
            let successor = try await fixture.tokens.rotate(
                middle.token, RotationRequest(), grantedBy: TokenGrant(of: child.token), by: .cli)

            try await fixture.tokens.revoke(top.token, by: .cli)
            #expect(try await storage.token(uuid: successor.token.uuid) == nil, "the successor falls with the top")
            #expect(try await storage.token(uuid: child.token.uuid) == nil, "and so does the child")
        }
    }
}
