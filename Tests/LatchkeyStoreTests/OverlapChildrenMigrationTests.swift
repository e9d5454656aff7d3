import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@testable import LatchkeyStore

/// Before release 12 a token could create tokens during its rotation's overlap, and they stayed
/// its children: after the overlap nothing revoked them with the family. Migration 12 gives them
/// to the newest live successor, on each backend.
@Suite("Migration 12: what a retiring token made joins its family", .removingScratchDirectories)
struct OverlapChildrenMigrationTests {
    @Test(arguments: TestBackend.available)
    func aChildOfARetiredTokenJoinsTheNewestSuccessorsFamily(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let tokens = TokenService(storage: storage, secretBox: nil)
            let sam = try await makeUser(storage, "sam")
            let first = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "first"), by: .cli)
            let second = try await tokens.rotate(
                first.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)
            let third = try await tokens.rotate(second.token, RotationRequest(), grantedBy: .account, by: .cli)
            let escaped = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "escaped"), by: .cli)
            _ = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "unrelated"), by: .cli)
            let rotator = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "rotator"), by: .cli)
            // As an older release left it: made by `first` in its overlap; and `rotator`, made
            // there too, then rotated `second` (so `third` hangs from it).
            try await executeBehindTheStore(
                storage,
                "UPDATE tokens SET parent_id = \(first.token.id) WHERE id IN (\(escaped.token.id), \(rotator.token.id))"
            )
            try await executeBehindTheStore(
                storage, "UPDATE tokens SET parent_id = \(rotator.token.id) WHERE id = \(third.token.id)")

            try await executeBehindTheStore(storage, Schema.adoptOverlapChildren)

            try await tokens.revoke(third.token, by: .cli)
            let left = try await storage.tokens(TokenQuery(ownerID: sam.id)).map(\.title)
            #expect(!left.contains("escaped"), "revoking the newest successor takes it")
            #expect(left.contains("unrelated"))
            #expect(left.contains("rotator"), "the heir's own creator is not moved under it: no cycle")
            #expect(left.filter { $0 == "first" }.count == 2, "the retired tokens stay, to recognise their reuse")
        }
    }
}
