import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@Suite("Sign-in throttling", .removingScratchDirectories)
struct SignInThrottlingTests {
    let clock = ManualClock()
    let storage: any LatchkeyStorage
    let accounts: AccountService
    let attacker = Origin(via: "stencila", address: "127.0.0.1")
    let elsewhere = Origin(via: "stencila", address: "127.0.0.2")

    init() throws {
        storage = try makeSQLiteStorage()
        accounts = AccountService(
            storage: storage, hasher: fastPasswordHasher, clock: clock,
            signInLimits: SignInLimits(
                perAccount: try RateLimit.parse("3/10m"), perAddress: try RateLimit.parse("5/10m")))
    }

    func throttled(_ login: String, _ password: String, from origin: Origin) async throws -> Bool {
        do {
            _ = try await accounts.authenticate(login: login, password: password, by: origin)
            return false
        } catch let error as LimitExceeded {
            #expect(error.kind == .signIn)
            return true
        }
    }

    func events(_ kind: AuditKind) async throws -> [AuditEvent] {
        try await storage.events(AuditQuery()).filter { $0.kind == kind.rawValue }
    }

    @Test func anAttackedAccountIsThrottledWithoutBlockingAnotherAccountElsewhere() async throws {
        let alice = try await accounts.createUser(username: "alice", password: "alice-pw", by: .cli)
        let bob = try await accounts.createUser(username: "bob", password: "bob-pw", by: .cli)
        for _ in 0..<3 {
            #expect(try await accounts.authenticate(login: "alice", password: "guess", by: attacker) == nil)
        }
        for _ in 0..<5 { #expect(try await throttled("alice", "guess", from: attacker)) }
        // Even the right password is refused now, and from anywhere: the account is throttled.
        #expect(try await throttled("alice", "alice-pw", from: elsewhere))
        #expect(try await accounts.authenticate(login: "bob", password: "bob-pw", by: elsewhere) == bob)
        // Engaging the limit is recorded once, not once per refused attempt.
        #expect(try await events(.signInThrottled).count == 1)
        #expect(try await events(.signInFailed).count == 3)
        clock.advance(by: 20 * 60)
        #expect(try await accounts.authenticate(login: "alice", password: "alice-pw", by: elsewhere) == alice)
    }

    @Test func anUnknownAccountIsThrottledExactlyLikeAKnownOne() async throws {
        _ = try await accounts.createUser(username: "alice", password: "alice-pw", by: .cli)
        for login in ["alice", "nobody"] {
            var attempts = 0
            while try await !throttled(login, "guess", from: Origin(via: "stencila", address: "10.0.0.\(login.count)"))
            {
                attempts += 1
            }
            #expect(attempts == 3, "\(login)")
        }
        // The typed login of an unknown account is never kept (people type passwords there).
        let failures = try await storage.events(AuditQuery())
        #expect(!failures.contains { $0.detail.contains("nobody") })
    }

    @Test func oneAddressSprayingManyAccountsIsThrottled() async throws {
        let bob = try await accounts.createUser(username: "bob", password: "bob-pw", by: .cli)
        for index in 0..<5 {
            #expect(try await accounts.authenticate(login: "user\(index)", password: "x", by: attacker) == nil)
        }
        #expect(try await throttled("someone-else", "x", from: attacker))
        #expect(try await throttled("bob", "bob-pw", from: attacker), "the address, not the account, is throttled")
        #expect(try await accounts.authenticate(login: "bob", password: "bob-pw", by: elsewhere) == bob)
    }

    @Test func correctSignInsDoNotCountTowardsTheLimits() async throws {
        let alice = try await accounts.createUser(username: "alice", password: "alice-pw", by: .cli)
        for _ in 0..<10 {
            #expect(try await accounts.authenticate(login: "alice", password: "alice-pw", by: attacker) == alice)
        }
        #expect(try await events(.signInSucceeded).count == 10)
        #expect(try await events(.signInSucceeded).allSatisfy { $0.origin == attacker && $0.userID == alice.id })
    }

    @Test func aSignInTheServerIsTooBusyForIsNotCounted() async throws {
        let busy = AccountService(
            storage: storage,
            hasher: PasswordHasher(
                parameters: fastPasswordHasher.parameters, queue: BoundedWorkQueue(maxRunning: 1, maxWaiting: 0)),
            clock: clock,
            signInLimits: SignInLimits(
                perAccount: try RateLimit.parse("1/10m"), perAddress: try RateLimit.parse("1/10m")))
        _ = try await busy.createUser(username: "carol", password: "carol-pw", by: .cli)
        // The client left before its turn: nothing was checked, and nothing is counted.
        await #expect(throws: WorkDropped.self) {
            try await busy.authenticate(login: "carol", password: "carol-pw", by: attacker, isWanted: { false })
        }
        // Had it counted, this attempt would be over the limit of one.
        #expect(try await busy.authenticate(login: "carol", password: "wrong", by: attacker) == nil)
        await #expect(throws: LimitExceeded.self) {
            try await busy.authenticate(login: "carol", password: "carol-pw", by: attacker)
        }
    }
}
