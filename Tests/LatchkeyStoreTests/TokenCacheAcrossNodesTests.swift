import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Synchronization
import Testing

@testable import LatchkeyStore

/// Two nodes on one database, each with its own storage, token cache and change follower,
/// as `latchkey serve` runs them: what one changes, the other comes to refuse. How soon is a
/// figure `bench/propagation` prints; here each waits with a deadline that only a hang passes.
/// (On SQLite the second "node" stands for the CLI or another process on the same file.)
@Suite("Token cache across nodes", .serialized, .removingScratchDirectories, .timeLimit(.minutes(5)))
struct TokenCacheAcrossNodesTests {
    final class Node: Sendable {
        let tokens: TokenService
        let accounts: AccountService
        /// Why following changes stopped, each time it was reported.
        let losses = Mutex<[String]>([])
        var cache: TokenCache { tokens.cache! }
        var lists: TokenListCache { tokens.listCache! }

        init(_ storage: any LatchkeyStorage) {
            let cache = TokenCache(clock: SystemClock())
            tokens = TokenService(
                storage: storage, secretBox: nil, cache: cache, listCache: TokenListCache(clock: SystemClock()))
            accounts = AccountService(storage: storage, hasher: fastPasswordHasher, tokenCache: cache)
        }

        func outcome(_ secret: TokenSecret, from address: String? = nil) async throws -> String {
            switch try await tokens.verify(secret.value, clientIP: address) {
            case .valid: "valid"
            case .rejected(let reason): reason.rawValue
            }
        }
    }

    /// Runs `body` with two nodes whose caches follow the storage's changes, once both answer.
    /// A follower that lost the database waits `retryInterval` on `clock` before it tries again.
    func withTwoNodes(
        _ backend: TestBackend, retryInterval: Duration = .milliseconds(100),
        clock: any Clock<Duration> = ContinuousClock(),
        _ body: @Sendable @escaping (Node, Node, any LatchkeyStorage) async throws -> Void
    ) async throws {
        try await backend.withNodes { first, second in
            let (one, two) = (Node(first), Node(second))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in [one, two] {
                    group.addTask {
                        await node.tokens.followStorageChanges(retryInterval: retryInterval, clock: clock) { error in
                            node.losses.withLock { $0.append("\(error)") }
                        }
                    }
                }
                #expect(
                    try await eventually {
                        one.cache.isAnswering && two.cache.isAnswering && one.lists.isAnswering
                            && two.lists.isAnswering
                    })
                try await body(one, two, first)
                group.cancelAll()
            }
        }
    }

    /// Whether `condition` comes to hold, checking every 10 ms. The deadline is no figure
    /// under test: it only ends a test whose change never arrives, on however loaded a machine.
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await condition()
    }

    @Test(arguments: TestBackend.available)
    func aRevocationOnOneNodeIsRefusedOnTheOther(backend: TestBackend) async throws {
        try await withTwoNodes(backend) { one, two, storage in
            let owner = try await makeUser(storage, "sam")
            // Made on node one: on SQLite another process's write clears the whole cache.
            let issued = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            let kept = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(issued.secret) == "valid")
            #expect(try await one.outcome(kept.secret) == "valid")
            #expect(one.cache.count == 2, "both are answered from node one's memory")

            try await two.tokens.revoke(issued.token, by: .cli)
            #expect(try await eventually { try await one.outcome(issued.secret) == "unknown" })
            #expect(try await one.outcome(kept.secret) == "valid")
        }
    }

    @Test(arguments: TestBackend.available)
    func aDeactivationOnOneNodeIsRefusedOnTheOther(backend: TestBackend) async throws {
        try await withTwoNodes(backend) { one, two, storage in
            let owner = try await makeUser(storage, "sam")
            let issued = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(issued.secret) == "valid")
            try await two.accounts.setActive(owner, false, by: .cli)
            #expect(try await eventually { try await one.outcome(issued.secret) == "inactive_user" })
        }
    }

    /// The node's verifications come from 192.0.2.1 here.
    @Test(arguments: TestBackend.available)
    func anAllowlistChangeOrARotationOnOneNodeIsObeyedOnTheOther(backend: TestBackend) async throws {
        try await withTwoNodes(backend) { one, two, storage in
            let owner = try await makeUser(storage, "sam")
            let changed = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            let rotated = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(changed.secret, from: "192.0.2.1") == "valid")
            #expect(try await one.outcome(rotated.secret, from: "192.0.2.1") == "valid")

            _ = try await two.tokens.update(
                changed.token, TokenChange(allowedIPs: [try CIDR("10.0.0.0/8")]), grantedBy: .account, by: .cli)
            _ = try await two.tokens.rotate(rotated.token, RotationRequest(), grantedBy: .account, by: .cli)
            #expect(
                try await eventually {
                    try await one.outcome(changed.secret, from: "192.0.2.1") == "address_not_allowed"
                })
            #expect(
                try await eventually {
                    try await one.outcome(rotated.secret, from: "192.0.2.1") == "rotated_away"
                })
        }
    }

    /// A list answered from node one's memory comes to show what node two created, rotated or
    /// revoked.
    @Test(arguments: TestBackend.available)
    func aNewRotatedOrRevokedTokenOnOneNodeIsListedOnTheOther(backend: TestBackend) async throws {
        try await withTwoNodes(backend) { one, two, storage in
            let owner = try await makeUser(storage, "sam")
            let other = try await makeUser(storage, "kim")
            let mine = TokenQuery(ownerID: owner.id)
            let first = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            _ = try await one.tokens.create(for: other, TokenRequest(kind: .app), by: .cli)
            func listed(on node: Node) async throws -> [Int64] { try await node.tokens.list(mine).map(\.id) }
            #expect(try await listed(on: one) == [first.token.id])
            // Node one hears of its own creations too, a moment later, and forgets that owner's
            // list then: both are listed again until node one holds them together.
            #expect(
                try await eventually {
                    _ = try await listed(on: one)
                    _ = try await one.tokens.list(TokenQuery(ownerID: other.id))
                    return one.lists.count == 2
                }, "both owners' lists are answered from node one's memory")

            let second = try await two.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await eventually { try await listed(on: one) == [first.token.id, second.token.id] })
            let successor = try await two.tokens.rotate(
                first.token, RotationRequest(overlap: 3600), grantedBy: .account, by: .cli)
            #expect(
                try await eventually {
                    let listed = try await one.tokens.list(mine)
                    return listed.map(\.id) == [first.token.id, second.token.id, successor.token.id]
                        && listed.first?.lifecycle.retires != nil
                })
            try await two.tokens.revoke(second.token, by: .cli)
            #expect(
                try await eventually {
                    try await listed(on: one) == [first.token.id, successor.token.id]
                })
            #expect(try await one.tokens.list(TokenQuery(ownerID: other.id)).count == 1)
        }
    }

    /// A node's own last-use writes do not clear its cache. On PostgreSQL its listener hears
    /// them as it hears everything: a later change by node two, once node one has heard it,
    /// proves the earlier notification was handled too.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL"))
    func aNodesOwnUsageWritesKeepItsCacheOnPostgreSQL() async throws {
        try await withTwoNodes(.postgres) { one, two, storage in
            let sams = try await one.tokens.create(
                for: try await makeUser(storage, "sam"), TokenRequest(kind: .app), by: .cli)
            let kims = try await one.tokens.create(
                for: try await makeUser(storage, "kim"), TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(kims.secret) == "valid")
            #expect(try await one.outcome(sams.secret) == "valid", "its first use is written: a notification")
            #expect(one.cache.count == 2)
            try await two.tokens.revoke(kims.token, by: .cli)
            #expect(try await eventually { try await one.outcome(kims.secret) == "unknown" })
            #expect(one.cache.count == 1, "sam's token is still answered from memory")
        }
    }

    /// On SQLite a node hears of other processes' commits by its writer connection's
    /// `data_version`, which its own commits do not move (SQLite's documented behaviour, checked
    /// here directly rather than by waiting out polls).
    @Test func aNodesOwnUsageWritesDoNotMoveWhatItsSQLiteFollowerWatches() async throws {
        try await TestBackend.sqlite.withNodes { first, second in
            let (one, two) = (Node(first), Node(second))
            let sqlite = try #require(first as? SQLiteStorage)
            let owner = try await makeUser(first, "sam")
            let issued = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            let before = try await sqlite.dataVersion()
            #expect(try await one.outcome(issued.secret) == "valid", "its first use is written")
            #expect(try await first.tokens(TokenQuery(ownerID: owner.id)).first?.lastUsed != nil)
            #expect(try await sqlite.dataVersion() == before, "its own write")
            _ = try await two.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await sqlite.dataVersion() != before, "another process's write")
        }
    }

    /// The notification comes from the database itself: a deletion, deactivation or insert by
    /// psql (or a node of an older release) reaches every node's caches too.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL"))
    func aChangeMadeWithPlainSQLReachesTheCache() async throws {
        try await withTwoNodes(.postgres) { one, _, storage in
            let postgres = try #require(storage as? PostgresStorage)
            let owner = try await makeUser(storage, "sam")
            let other = try await makeUser(storage, "kim")
            let revoked = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            let deactivated = try await one.tokens.create(for: other, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(revoked.secret) == "valid")
            #expect(try await one.outcome(deactivated.secret) == "valid")
            let kims = TokenQuery(ownerID: other.id)
            #expect(try await one.tokens.count(kims) == 1)
            try await postgres.execute(unsafeSQL: "DELETE FROM tokens WHERE id = \(revoked.token.id)")
            try await postgres.execute(unsafeSQL: "UPDATE users SET is_active = false WHERE id = \(other.id)")
            try await postgres.execute(
                unsafeSQL: """
                    INSERT INTO tokens (uuid, key, user_id, kind, scopes, created_us, digest)
                    SELECT gen_random_uuid(), 'psqlmade', user_id, kind, scopes, created_us, sha256('psql'::bytea)
                    FROM tokens WHERE id = \(deactivated.token.id)
                    """)
            #expect(try await eventually { try await one.outcome(revoked.secret) == "unknown" })
            #expect(try await eventually { try await one.outcome(deactivated.secret) == "inactive_user" })
            #expect(try await eventually { try await one.tokens.count(kims) == 2 }, "a row psql added")
        }
    }

    /// A node that loses its notification connection cannot know what it misses: it stops
    /// answering from memory until it listens again.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL"))
    func aNodeThatLostItsNotificationsReadsTheDatabaseUntilItListensAgain() async throws {
        // It tries to listen again only when the test moves this clock: the gap stays open.
        let clock = SteppedClock()
        try await withTwoNodes(.postgres, retryInterval: .seconds(1), clock: clock) { one, two, storage in
            let postgres = try #require(storage as? PostgresStorage)
            let owner = try await makeUser(storage, "sam")
            let issued = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(issued.secret) == "valid")
            #expect(one.cache.count == 1)

            // Keep the listener away while the token disappears without a notification.
            try await postgres.execute(
                unsafeSQL: """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = '\(postgres.listenerName)'
                    """)
            #expect(try await eventually { !one.cache.isAnswering })
            #expect(try await eventually { one.losses.withLock { $0.count } == 1 }, "the loss is reported")
            #expect(try await eventually { clock.sleeping == 1 }, "and it waits to try again")
            try await postgres.execute(unsafeSQL: "DELETE FROM tokens WHERE id = \(issued.token.id)")
            #expect(try await one.outcome(issued.secret) == "unknown")
            #expect(two.cache.isAnswering, "the other node's listener was not touched")

            clock.advance(by: .seconds(1))
            #expect(try await eventually { one.cache.isAnswering }, "it listens again")
            let again = try await one.tokens.create(for: owner, TokenRequest(kind: .app), by: .cli)
            #expect(try await one.outcome(again.secret) == "valid")
            #expect(one.cache.count == 1)
            #expect(one.losses.withLock { $0.count } == 1, "once")
        }
    }
}

@Suite("PostgreSQL change notifications")
struct ChangeNotificationTests {
    @Test func changesAreReadWithinTheirSchemaOnly() {
        let changes: [(String, StorageChange)] = [
            ("tokens:1,22,333", .tokensChanged([1, 22, 333])), ("owners:4,5", .tokensAdded(ownerIDs: [4, 5])),
            ("user:7", .userChanged(7)), ("anything", .anything),
        ]
        for (payload, change) in changes {
            #expect(ChangeNotification.change(from: "tenant_a " + payload, in: "tenant_a") == change)
            #expect(ChangeNotification.change(from: "tenant_a " + payload, in: "tenant") == nil, "another schema's")
        }
    }

    @Test func whatCannotBeReadClearsEverythingAndHeartbeatsNothing() {
        #expect(ChangeNotification.change(from: "s tokens:1,x", in: "s") == .anything)
        #expect(ChangeNotification.change(from: "s owners:", in: "s") == .anything)
        #expect(ChangeNotification.change(from: "s garbage", in: "s") == .anything)
        #expect(
            ChangeNotification.change(from: ChangeNotification.heartbeat(of: "other node", in: "s"), in: "s") == nil)
    }
}
