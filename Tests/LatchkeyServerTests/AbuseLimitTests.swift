import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Each dialect answers abuse limits in its own error shape, with `Retry-After`.
@Suite("Abuse limits on the wire", .removingScratchDirectories)
struct AbuseLimitTests {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let storage: any LatchkeyStorage

    init() throws {
        storage = try makeSQLiteStorage()
    }

    func services(tokenLimits: TokenLimits = .server, hasher: PasswordHasher = fastPasswordHasher) throws
        -> LatchkeyServices
    {
        LatchkeyServices(
            storage: storage, secretBox: nil, hasher: hasher, clock: clock, tokenLimits: tokenLimits,
            signInLimits: SignInLimits(
                perAccount: try RateLimit.parse("2/15m"), perAddress: try RateLimit.parse("50/15m")))
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
    }

    func signIn(_ client: some TestClientProtocol, _ password: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/tokens/", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"username": "sam", "password": "\#(password)"}"#)
        ) { $0 }
    }

    @Test func stencilaSignInPastTheLimitIs429InHubsShape() async throws {
        try await makeUser(storage, "sam", password: "sam-pw")
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: try services()))
        try await app.test(.router) { client in
            for _ in 0..<2 { #expect(try await signIn(client, "wrong").status == .forbidden) }
            let refused = try await signIn(client, "sam-pw")
            #expect(refused.status == .tooManyRequests)
            let seconds = try #require(Int(refused.headers[.retryAfter] ?? ""))
            // Two failures at the window's start: one more fits half a window into the next.
            #expect(seconds == 1350)
            #expect(
                try json(refused) as NSDictionary == [
                    "message": "Too many sign-in attempts; try again in \(seconds) seconds."
                ])
            clock.advance(by: TimeInterval(seconds))
            #expect(try await signIn(client, "sam-pw").status == .created)
        }
    }

    @Test func aFullPasswordQueueIs503WithRetryAfter() async throws {
        try await makeUser(storage, "sam", password: "sam-pw")
        // No worker may wait, and one is always taken by a check that never finishes here.
        let queue = BoundedWorkQueue(maxRunning: 1, maxWaiting: 0)
        let hasher = PasswordHasher(parameters: fastPasswordHasher.parameters, queue: queue)
        let blocker = Task { try await queue.run { try await Task.sleep(for: .seconds(3600)) } }
        defer { blocker.cancel() }
        try await yieldUntil { queue.load.running == 1 }
        let app = Application(
            router: buildRouter(configuration: ServerConfiguration(), services: try services(hasher: hasher)))
        try await app.test(.router) { client in
            let busy = try await signIn(client, "sam-pw")
            #expect(busy.status == .serviceUnavailable)
            // How long the work takes on this machine decides the wait: at least a second.
            let seconds = try #require(Int(busy.headers[.retryAfter] ?? ""))
            #expect(seconds >= 1)
            #expect(
                try json(busy) as NSDictionary == ["message": "The server is busy; try again in \(seconds) seconds."])
        }
    }

    @Test func tooManyLiveTokensIsAClear4xxInEachDialect() async throws {
        let sam = try await makeUser(storage, "sam", password: "sam-pw")
        let services = try services(tokenLimits: TokenLimits(maxLivePerUser: 2))
        let session = try await services.tokens.create(for: sam, TokenRequest(kind: .session), by: .cli)
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            #expect(try await signIn(client, "sam-pw").status == .created)
            let stencila = try await signIn(client, "sam-pw")
            #expect(stencila.status == .forbidden)
            #expect(
                try json(stencila) as NSDictionary == [
                    "message": "Maximum amount of tokens allowed per user exceeded (2); revoke some first."
                ])
            let quay = try await client.execute(
                uri: "/api/v1/user/apptoken", method: .post,
                headers: [.authorization: "Bearer \(session.secret.value)"],
                body: ByteBuffer(string: #"{"title": "one too many"}"#)
            ) { $0 }
            #expect(quay.status == .badRequest)
            let body = try json(quay)
            #expect(body["error_type"] as? String == "invalid_request")
            #expect(
                body["detail"] as? String
                    == "Maximum amount of tokens allowed per user exceeded (2); revoke some first.")
        }
    }

    @Test func creatingTokensTooFastIs429InQuaysShape() async throws {
        let sam = try await makeUser(storage, "sam", password: "sam-pw")
        let services = try services(tokenLimits: TokenLimits(creationRate: try RateLimit.parse("2/1m")))
        let session = try await services.tokens.create(for: sam, TokenRequest(kind: .session), by: .cli)
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            func create() async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post,
                    headers: [.authorization: "Bearer \(session.secret.value)"],
                    body: ByteBuffer(string: #"{"title": "t"}"#)
                ) { $0 }
            }
            #expect(try await create().status == .ok)
            let refused = try await create()
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] != nil)
            #expect(try json(refused)["error_type"] as? String == "too_many_requests")
            #expect(try json(refused)["status"] as? Int == 429)
        }
    }
}
