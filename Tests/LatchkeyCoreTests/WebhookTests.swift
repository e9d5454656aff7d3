import Crypto
import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

/// Webhook endpoints, the outbox and deliveries on each backend, driven by a manual clock:
/// which endpoint hears what, the retry schedule, leases, several nodes, expiry notices.
/// (Sending over HTTP and verifying with PyPI's `standardwebhooks`: Tests/compat/test_webhooks.py.)
@Suite("Webhooks", .removingScratchDirectories)
struct WebhookTests {
    struct Fixture {
        let clock = ManualClock()
        let storage: any LatchkeyStorage
        let tokens: TokenService
        let webhooks: WebhookService
        let sam: User
        let kim: User

        /// `jitter` is the randomness that stretches each retry wait (0: none, 1: the most).
        init(
            _ storage: any LatchkeyStorage, settings: WebhookSettings = WebhookSettings(retrySchedule: [5, 300]),
            jitter: @escaping @Sendable () -> Double = { 0 }
        ) async throws {
            self.storage = storage
            tokens = TokenService(storage: storage, clock: clock, secretBox: nil)
            webhooks = WebhookService(
                storage: storage, secretBox: SecretBox(key: .init(size: .bits256)), settings: settings, clock: clock,
                jitter: jitter)
            sam = try await makeUser(storage, "sam", clock: clock)
            kim = try await makeUser(storage, "kim", clock: clock)
        }

        func endpoint(_ events: [String] = ["*"], owner: User? = nil) async throws -> WebhookEndpoint {
            try await webhooks.create(
                url: "https://hooks.example.org/\(UUID())", events: events, owner: owner?.id, description: nil, by: .cli
            ).0
        }

        func token(for owner: User, expiry: TokenRequest.Expiry = .never) async throws -> IssuedToken {
            try await tokens.create(for: owner, TokenRequest(kind: .app, title: "ci", expiry: expiry), by: .cli)
        }

        /// Every delivery due now, handed out first.
        func due() async throws -> [DueDelivery] {
            _ = try await webhooks.fanOut()
            return try await webhooks.claim(limit: 100)
        }

        /// Every delivery due now, each answered 200.
        func delivered() async throws -> [DueDelivery] {
            let due = try await due()
            for delivery in due {
                try await webhooks.record(WebhookAttempt(at: clock.now, status: 200, error: nil), of: delivery)
            }
            return due
        }

        func fail(_ delivery: DueDelivery, status: Int? = 500) async throws {
            try await webhooks.record(
                WebhookAttempt(at: clock.now, status: status, error: status == nil ? "timed out" : nil), of: delivery)
        }
    }

    @Test(arguments: TestBackend.available)
    func eachEndpointHearsOnlyItsEventTypesAndAccounts(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            // Before any endpoint: nothing is kept for later.
            _ = try await fixture.token(for: fixture.sam)
            fixture.clock.advance(by: 1)
            let operatorEndpoint = try await fixture.endpoint(["token.created", "token.revoked"])
            let samsEndpoint = try await fixture.endpoint(owner: fixture.sam)
            let kimsEndpoint = try await fixture.endpoint(["token.rotated"], owner: fixture.kim)
            fixture.clock.advance(by: 1)

            let samsToken = try await fixture.token(for: fixture.sam)
            try await fixture.tokens.revoke(samsToken.token, by: .cli)
            _ = try await fixture.token(for: fixture.kim)

            let due = try await fixture.due()
            let heard = Dictionary(grouping: due, by: \.endpointID).mapValues { $0.map(\.type) }
            #expect(heard[operatorEndpoint.id]?.sorted() == ["token.created", "token.created", "token.revoked"])
            #expect(heard[samsEndpoint.id]?.sorted() == ["token.created", "token.revoked"])
            #expect(heard[kimsEndpoint.id] == nil)

            let revoked = try #require(due.first { $0.type == "token.revoked" && $0.endpointID == samsEndpoint.id })
            let data = try #require(NotificationData(json: revoked.data))
            #expect(data.token?.uuid == samsToken.token.uuid.uuidString.lowercased())
            #expect(data.token?.key == samsToken.token.key)
            #expect(data.owner?.id == fixture.sam.id)
            #expect(revoked.ownerUsername == "sam")
            #expect(data.actor.via == "cli")
            #expect(!revoked.data.contains(samsToken.secret.value))
            // One message id per event, the same for each endpoint and on every attempt.
            #expect(Set(due.map(\.message)).count == 3)
        }
    }

    @Test(arguments: TestBackend.available)
    func failuresAreRetriedOnTheScheduleThenTheDeliveryFailsAndTheEndpointIsDisabled(backend: TestBackend)
        async throws
    {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            let endpoint = try await fixture.endpoint()
            _ = try await fixture.token(for: fixture.sam)

            let first = try #require(try await fixture.due().first)
            #expect(first.attemptsBefore == 0)
            try await fixture.fail(first)
            #expect(try await fixture.due().isEmpty)
            fixture.clock.advance(by: 4.9)
            #expect(try await fixture.due().isEmpty)
            fixture.clock.advance(by: 0.1)
            let second = try #require(try await fixture.due().first)
            #expect(second.id == first.id && second.message == first.message && second.attemptsBefore == 1)
            try await fixture.fail(second, status: nil)
            fixture.clock.advance(by: 300)
            let third = try #require(try await fixture.due().first)
            try await fixture.fail(third, status: 503)

            let delivery = try #require(try await fixture.webhooks.deliveries(of: endpoint, failedOnly: true).first)
            #expect(delivery.state == .failed)
            #expect(delivery.attempts.map(\.status) == [500, nil, 503])
            #expect(delivery.attempts[1].error == "timed out")
            let disabled = try #require(try await fixture.webhooks.endpoint(uuid: endpoint.uuid))
            #expect(disabled.disabled != nil)
            #expect(disabled.disabledReason?.hasPrefix("every delivery failed since") == true)

            // Disabled: nothing is sent, not even a redelivery, until it is enabled again.
            try await fixture.webhooks.redeliver(id: delivery.id)
            #expect(try await fixture.due().isEmpty)
            _ = try await fixture.webhooks.update(disabled, disabled: false, by: .cli)
            let again = try #require(try await fixture.due().first)
            #expect(again.id == delivery.id && again.attemptsBefore == 0)
            try await fixture.webhooks.record(WebhookAttempt(at: fixture.clock.now, status: 204, error: nil), of: again)
            let settled = try #require(try await fixture.webhooks.deliveries(of: endpoint).first)
            #expect(settled.state == .succeeded && settled.attempts.count == 4 && settled.nextAttempt == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func anEndpointThatSucceededSinceADeliveryWasMadeStaysEnabled(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage, settings: WebhookSettings(retrySchedule: []))
            let endpoint = try await fixture.endpoint()
            _ = try await fixture.token(for: fixture.sam)
            _ = try await fixture.token(for: fixture.sam)
            let due = try await fixture.due()
            #expect(due.count == 2)
            try await fixture.webhooks.record(
                WebhookAttempt(at: fixture.clock.now, status: 200, error: nil), of: due[1])
            try await fixture.fail(due[0])
            #expect(try await fixture.webhooks.endpoint(uuid: endpoint.uuid)?.disabled == nil)
        }
    }

    /// What a node killed mid-delivery leaves: the delivery is sent again once its lease passes.
    @Test(arguments: TestBackend.available)
    func aClaimedDeliveryIsTakenAgainOnlyAfterItsLease(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            _ = try await fixture.endpoint()
            _ = try await fixture.token(for: fixture.sam)
            let claimed = try #require(try await fixture.due().first)
            // On its way: a redelivery now could send it twice at once.
            #expect(try await fixture.webhooks.redeliver(id: claimed.id) == false)
            fixture.clock.advance(by: fixture.webhooks.settings.timeout + WebhookSettings.leaseMargin - 1)
            #expect(try await fixture.due().isEmpty)
            fixture.clock.advance(by: 1)
            let again = try #require(try await fixture.due().first)
            #expect(again.id == claimed.id && again.message == claimed.message)

            // The first attempt, answered after its lease, settles nothing: the second does.
            let ok = { (at: Date) in WebhookAttempt(at: at, status: 200, error: nil) }
            try await fixture.webhooks.record(ok(fixture.clock.now), of: claimed)
            #expect(try await fixture.webhooks.delivery(id: claimed.id)?.0.state == .pending)
            try await fixture.webhooks.record(ok(fixture.clock.now), of: again)
            #expect(try await fixture.webhooks.delivery(id: claimed.id)?.0.state == .succeeded)
        }
    }

    @Test(arguments: TestBackend.available)
    func twoNodesHandOutAndClaimEachDeliveryOnce(backend: TestBackend) async throws {
        try await backend.withNodes { first, second in
            let fixture = try await Fixture(first)
            let other = WebhookService(
                storage: second, secretBox: nil, settings: fixture.webhooks.settings, clock: fixture.clock)
            _ = try await fixture.endpoint()
            for _ in 0..<20 { _ = try await fixture.token(for: fixture.sam) }
            async let handedHere = fixture.webhooks.fanOut()
            async let handedThere = other.fanOut()
            #expect(try await handedHere + handedThere == 20)
            var claimed: [Int64] = []
            for _ in 0..<4 {
                async let here = fixture.webhooks.claim(limit: 3)
                async let there = other.claim(limit: 3)
                claimed += try await (here + there).map(\.id)
            }
            claimed += try await fixture.webhooks.claim(limit: 100).map(\.id)
            #expect(claimed.count == 20)
            #expect(Set(claimed).count == 20)
        }
    }

    @Test(arguments: TestBackend.available)
    func expiryNoticesComeOncePerLeadTimeAndAfterDowntime(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            _ = try await fixture.endpoint(["token.expiring", "token.expired"])
            let day: TimeInterval = 86_400
            let token = try await fixture.token(for: fixture.sam, expiry: .after(40 * day))
            _ = try await fixture.tokens.create(
                for: fixture.sam, TokenRequest(kind: .session, expiry: .after(day / 2)), by: .cli)

            #expect(try await fixture.webhooks.noteExpiries() == 0)
            fixture.clock.advance(by: 10 * day + 1)
            #expect(try await fixture.webhooks.noteExpiries() == 1)
            #expect(try await fixture.webhooks.noteExpiries() == 0)
            let first = try #require(try await fixture.delivered().first)
            #expect(first.type == "token.expiring")
            #expect(NotificationData(json: first.data)?.leadTimeSeconds == Int64(30 * day))
            #expect(NotificationData(json: first.data)?.token?.uuid == token.token.uuid.uuidString.lowercased())

            fixture.clock.advance(by: 23 * day)
            #expect(try await fixture.webhooks.noteExpiries() == 1)
            let second = try await fixture.delivered()
            #expect(second.map { NotificationData(json: $0.data)?.leadTimeSeconds } == [Int64(7 * day)])

            // Down past the 1-day lead time and the expiry itself: only the expiry is told, once.
            fixture.clock.advance(by: 7 * day)
            #expect(try await fixture.webhooks.noteExpiries() == 1)
            #expect(try await fixture.webhooks.noteExpiries() == 0)
            #expect(try await fixture.delivered().map(\.type) == ["token.expired"])
            #expect(try await storage.events(AuditQuery()).filter { $0.kind == "token.expiring" }.count == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func rotationAndLeakAndThrottlingAreHeard(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            _ = try await fixture.endpoint(["token.rotated", "token.leaked", "signin.throttled"])
            let old = try await fixture.token(for: fixture.sam)
            let new = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 60), grantedBy: .account, by: .cli)
            try await fixture.tokens.revoke(new.token, by: .cli, as: .tokenLeaked)
            let accounts = AccountService(
                storage: storage, hasher: fastPasswordHasher, clock: fixture.clock,
                signInLimits: SignInLimits(
                    perAccount: RateLimit(count: 1, window: 60)!, perAddress: RateLimit(count: 100, window: 60)!))
            for _ in 0..<3 {
                _ = try? await accounts.authenticate(
                    login: "sam", password: "wrong", by: Origin(via: "stencila", address: "192.0.2.7"))
            }
            let due = try await fixture.due()
            #expect(due.map(\.type).sorted() == ["signin.throttled", "token.leaked", "token.rotated"])
            let rotated = try #require(
                due.first { $0.type == "token.rotated" }.flatMap { NotificationData(json: $0.data) })
            #expect(rotated.token?.uuid == old.token.uuid.uuidString.lowercased())
            #expect(rotated.successor?.uuid == new.token.uuid.uuidString.lowercased())
            #expect(rotated.retiresAt != nil)
            let throttled = try #require(
                due.first { $0.type == "signin.throttled" }.flatMap { NotificationData(json: $0.data) })
            #expect(throttled.actor.address == "192.0.2.7")
        }
    }

    @Test func signaturesAreTheStandardWebhooksOnes() throws {
        // The example of the Standard Webhooks reference libraries.
        let key = try #require(WebhookSignature.key(fromSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        #expect(
            WebhookSignature.header(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8),
                key: key) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSignature.key(fromSecret: WebhookSignature.secret(from: key)) == key)
    }

    @Test func onlyPublicHTTPSTargetsUnlessTheOperatorAllowsOthers() throws {
        #expect(throws: Never.self) { try WebhookTarget.check("https://hooks.example.org/x", allowInsecure: false) }
        for refused in [
            "http://hooks.example.org/", "https://127.0.0.1/", "https://[::1]/", "https://10.1.2.3/",
            "https://localhost:8443/", "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/",
            "https://2130706433/", "https://0x7f.1/", "https://127.1/", "https://localhost./", "https://[fec0::1]/",
        ] {
            #expect(throws: WebhookError.self, "\(refused)") { try WebhookTarget.check(refused, allowInsecure: false) }
        }
        #expect(throws: Never.self) { try WebhookTarget.check("http://127.0.0.1:9000/", allowInsecure: true) }
        // Checked, looked up and connected to must be one name: an internationalised host reads
        // differently to `URLComponents` and to the HTTP client.
        for invalid in [
            "ftp://example.org/", "not a url", "https://user:pw@example.org/", "/relative",
            "https://bücher.example/", "https://xn--bcher-kva.example/",
        ] {
            #expect(throws: WebhookError.self, "\(invalid)") { try WebhookTarget.check(invalid, allowInsecure: true) }
        }
        #expect(WebhookTarget.isPublic(address: "93.184.216.34"))
        #expect(!WebhookTarget.isPublic(address: "::ffff:10.0.0.1"))
    }

    /// The IPv6 forms an IPv4 address can be written in.
    enum IPv4InIPv6: String, CaseIterable, Sendable {
        case mapped, translated, nat64, localUseNAT64, sixToFour, teredo, compatible

        /// `ipv4` in this form.
        func address(of ipv4: String) -> String {
            let octets = ipv4.split(separator: ".").map { Int($0)! }
            let groups = [octets[0] << 8 | octets[1], octets[2] << 8 | octets[3]]
            let hex = { (groups: [Int]) in groups.map { String($0, radix: 16) }.joined(separator: ":") }
            return switch self {
            case .mapped: "::ffff:\(ipv4)"
            case .translated: "::ffff:0:\(ipv4)"
            case .nat64: "64:ff9b::\(ipv4)"
            case .localUseNAT64: "64:ff9b:1::\(ipv4)"
            case .sixToFour: "2002:\(hex(groups))::1"
            // A Teredo server's address, flags and port, then the client's address, obfuscated.
            case .teredo: "2001:0:4136:e378:8000:63bf:\(hex(groups.map { $0 ^ 0xFFFF }))"
            case .compatible: "::\(ipv4)"
            }
        }

        /// Whether the IPv4 address in it can be trusted, so that the address is as public as it.
        var isReadAsIPv4: Bool { ![.localUseNAT64, .teredo, .compatible].contains(self) }
    }

    @Test(arguments: IPv4InIPv6.allCases)
    func anIPv6AddressCarryingAnIPv4OneIsNoMorePublicThanIt(form: IPv4InIPv6) throws {
        let refusal = WebhookError.insecureURL("loopback and private addresses are not allowed")
        for ipv4 in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", "0.0.0.0"] {
            let address = form.address(of: ipv4)
            #expect(CIDR.isAddress(address), "\(address)")
            #expect(!WebhookTarget.isPublic(address: address), "\(address)")
            #expect(throws: refusal, "\(address)") {
                try WebhookTarget.check("https://[\(address)]/", allowInsecure: false)
            }
        }
        for ipv4 in ["8.8.8.8", "93.184.216.34"] {
            let address = form.address(of: ipv4)
            #expect(WebhookTarget.isPublic(address: address) == form.isReadAsIPv4, "\(address)")
            let url = "https://[\(address)]/"
            if form.isReadAsIPv4 {
                #expect(throws: Never.self, "\(address)") { try WebhookTarget.check(url, allowInsecure: false) }
            } else {
                #expect(throws: refusal, "\(address)") { try WebhookTarget.check(url, allowInsecure: false) }
            }
        }
    }

    @Test func zoneQualifiedAddressesAreRefusedWithTheirOwnErrorAndPlainPublicIPv6IsNot() throws {
        let zone = WebhookError.invalidURL("zone-qualified IPv6 addresses (fe80::1%eth0) are not supported")
        for url in ["https://[fe80::1%25eth0]/", "https://[fe80::1%eth0]/x", "https://[2606:4700::1111%25eth0]:8443/"] {
            for allowInsecure in [false, true] {
                #expect(throws: zone, "\(url)") { try WebhookTarget.check(url, allowInsecure: allowInsecure) }
            }
        }
        #expect(!WebhookTarget.isPublic(address: "fe80::1%eth0"))
        #expect(WebhookTarget.isPublic(address: "2606:4700::1111"))
        #expect(try WebhookTarget.check("https://[2606:4700::1111]/", allowInsecure: false) == "2606:4700::1111")
    }

    @Test(arguments: TestBackend.available)
    func badEndpointsAreRefusedWithAClearError(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage)
            await #expect(throws: WebhookError.unknownEvent("token.exploded")) {
                try await fixture.endpoint(["token.exploded"])
            }
            await #expect(throws: WebhookError.noEvents) { try await fixture.endpoint([]) }
            let withoutKey = WebhookService(storage: storage, secretBox: nil)
            await #expect(throws: WebhookError.unavailable) {
                try await withoutKey.create(
                    url: "https://example.org/", events: ["*"], owner: nil, description: nil, by: .cli)
            }
            #expect(try await fixture.webhooks.endpoints().isEmpty)

            // A change of the events does not restore a secret rotated meanwhile.
            let stale = try await fixture.endpoint()
            let (rotated, _) = try await fixture.webhooks.rotateSecret(of: stale, by: .cli)
            _ = try await fixture.webhooks.update(stale, description: "ops", by: .cli)
            let stored = try #require(try await fixture.webhooks.endpoint(uuid: stale.uuid))
            #expect(stored.sealedSecret == rotated.sealedSecret && stored.description == "ops")
            try await fixture.webhooks.delete(stored, by: .cli)

            // A user's endpoint makes the outbox keep that user's events only.
            let samsEndpoint = try await fixture.endpoint(owner: fixture.sam)
            _ = try await fixture.token(for: fixture.kim)
            #expect(try await fixture.webhooks.fanOut() == 0)
            _ = try await fixture.token(for: fixture.sam)
            #expect(try await fixture.webhooks.fanOut() == 1)
            // Changes to endpoints are audited, by uuid and host, never the whole URL.
            _ = try await fixture.webhooks.update(samsEndpoint, disabled: true, by: .cli)
            try await fixture.webhooks.delete(samsEndpoint, by: .cli)
            let audited = try await storage.events(AuditQuery(userID: fixture.sam.id)).filter {
                $0.kind.hasPrefix("webhook.")
            }
            #expect(audited.map(\.kind) == ["webhook.deleted", "webhook.updated", "webhook.created"])
            #expect(audited.allSatisfy { !$0.detail.contains("https://") })
            #expect(audited.last?.detail.contains("to hooks.example.org") == true)
            #expect(
                try await storage.events(AuditQuery()).filter { $0.kind == "webhook.secret_rotated" }.count == 1)

            // One account cannot take every endpoint there may be.
            for _ in 0..<WebhookService.maxEndpointsPerOwner { _ = try await fixture.endpoint(owner: fixture.sam) }
            await #expect(throws: WebhookError.tooManyEndpoints(WebhookService.maxEndpointsPerOwner)) {
                try await fixture.endpoint(owner: fixture.sam)
            }
            _ = try await fixture.endpoint(owner: fixture.kim)
            _ = try await fixture.endpoint()
        }
    }
}
