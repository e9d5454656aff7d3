import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// `GET /api/tokens/{id}/` retrieves a token of the caller's and refreshes its sliding expiry,
/// but only when the token is within the caller's grant (docs/security.md: "Refreshing a token by its id
/// extends its life only when it is within the caller's grant"): a `user:admin` app token may
/// look at its owner's session, yet not keep that full-rights session alive.
@Suite("Stencila refresh by id", .removingScratchDirectories)
struct StencilaRefreshTests {
    static let day: TimeInterval = 86_400

    @Test(arguments: TestBackend.available)
    func aRefreshByIDExtendsOnlyATokenWithinTheCallersGrant(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let clock = ManualClock()
            let services = LatchkeyServices(
                storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock, tokenLimits: .server)
            let sam = try await makeUser(storage, "sam", clock: clock)
            func session() async throws -> IssuedToken {
                try await services.tokens.create(
                    for: sam, TokenRequest(kind: .session, expiry: .sliding(Self.day)), by: .cli)
            }
            let caller = try await session()
            let target = try await session()
            let admin = try await services.tokens.create(
                for: sam,
                TokenRequest(kind: .app, scopes: ["user:admin"], expiry: .after(7 * Self.day)),
                by: .cli)
            let created = clock.now
            clock.advance(by: 3_600)

            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
            try await app.test(.router) { client in
                func expiry(of key: String, as secret: String) async throws -> Date? {
                    try await client.execute(
                        uri: "/api/tokens/\(key)/", method: .get, headers: [.authorization: "Token \(secret)"]
                    ) { response in
                        #expect(response.status == .ok)
                        return try await services.tokens.list(TokenQuery(ownerID: sam.id)).first {
                            $0.key == key
                        }?.expires
                    }
                }
                let byAdminToken = try await expiry(of: target.token.key, as: admin.secret.value)
                #expect(
                    byAdminToken == created.addingTimeInterval(Self.day), "a session is beyond an app token's grant")
                let bySession = try await expiry(of: target.token.key, as: caller.secret.value)
                #expect(bySession == clock.now.addingTimeInterval(Self.day), "a session acts for the account")
            }
            // Written through to the database, not only this node's cache.
            let stored = try await storage.tokens(TokenQuery(ownerID: sam.id)).first { $0.key == target.token.key }
            #expect(stored?.expires != created.addingTimeInterval(Self.day))
        }
    }
}
