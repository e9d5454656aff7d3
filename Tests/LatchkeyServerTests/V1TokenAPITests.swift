import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Latchkey's own API, `/v1/tokens`, through the real router on each backend.
@Suite("The /v1 token API", .removingScratchDirectories)
struct V1TokenAPITests {
    struct Fixture {
        let clock = ManualClock()
        let services: LatchkeyServices
        let sam: User
        let session: String

        /// `.router` calls the router directly, with no client address (as a server whose
        /// socket cannot name its peer); `.live` is the real server on loopback, so requests
        /// come from 127.0.0.1, which tests of address allowlists need.
        static func run(
            on backend: TestBackend, over setup: TestingSetup = .router, tokenLimits: TokenLimits = .server,
            recoverableTokens: Bool = true,
            _ body: @Sendable @escaping (Fixture, any TestClientProtocol) async throws -> Void
        ) async throws {
            try await backend.withStorage { storage in
                let fixture = try await Fixture(
                    storage: storage, tokenLimits: tokenLimits, recoverableTokens: recoverableTokens)
                let app = Application(
                    router: buildRouter(configuration: ServerConfiguration(), services: fixture.services),
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)))
                try await app.test(setup) { client in try await body(fixture, client) }
            }
        }

        /// `recoverableTokens: false` is the server under `--no-recoverable-tokens`: no server key.
        init(storage: any LatchkeyStorage, tokenLimits: TokenLimits, recoverableTokens: Bool = true) async throws {
            services = LatchkeyServices(
                storage: storage, secretBox: recoverableTokens ? SecretBox(key: .init(size: .bits256)) : nil,
                hasher: fastPasswordHasher,
                clock: clock, tokenLimits: tokenLimits)
            sam = try await makeUser(storage, "sam")
            session = try await services.tokens.create(
                for: sam, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli
            ).secret.value
        }
    }

    static func headers(_ secret: String, _ extra: HTTPFields = [:]) -> HTTPFields {
        var headers: HTTPFields = [.authorization: "Bearer \(secret)", .contentType: "application/json"]
        headers.append(contentsOf: extra)
        return headers
    }

    /// A request's answer: its status, headers and body decoded as `answer`.
    static func call<Answer: Decodable>(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, as secret: String,
        body: String = "", headers extra: HTTPFields = [:], answer: Answer.Type
    ) async throws -> (HTTPResponse.Status, HTTPFields, Answer) {
        try await client.execute(
            uri: uri, method: method, headers: headers(secret, extra), body: ByteBuffer(string: body)
        ) { response in
            (response.status, response.headers, try decode(answer, response))
        }
    }

    /// A request's status, its body unread but for being a JSON object when there is one, as
    /// every answer of this API is.
    static func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, as secret: String,
        body: String = ""
    ) async throws -> HTTPResponse.Status {
        try await client.execute(
            uri: uri, method: method, headers: headers(secret), body: ByteBuffer(string: body)
        ) { response in
            if response.body.readableBytes > 0 { _ = try decode(Shaped<NoFields>.self, response) }
            return response.status
        }
    }

    /// The response's body, decoded as `type`.
    static func decode<Answer: Decodable>(_ type: Answer.Type, _ response: TestResponse) throws -> Answer {
        try JSONDecoder().decode(type, from: Data(buffer: response.body))
    }

    @Test(arguments: TestBackend.available)
    func aTokenIsCreatedWithItsWholeLifeAndItsSecretShownOnce(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, over: .live) { fixture, client in
            let (status, headers, created) = try await Self.call(
                client, .post, "/v1/tokens", as: fixture.session,
                body: """
                    {"title": "deploy", "scopes": ["repo:read"], "expires_in": "30d", "max_uses": 10,
                     "allowed_ips": ["192.0.2.0/24", "2001:db8::/32"], "metadata": {"team": "ops", "n": 1}}
                    """, answer: Shaped<V1TokenAnswer>.self)
            #expect(status == .created)
            let uuid = created.uuid
            #expect(headers[.location] == "/v1/tokens/\(uuid)")
            #expect(headers[.cacheControl] == "no-store")
            let secret = try #require(created.token)
            #expect(created.title == "deploy")
            #expect(created.kind == "app")
            #expect(created.maxUses == 10)
            #expect(created.usesRemaining == 10)
            #expect(created.allowedIPs == ["192.0.2.0/24", "2001:db8::/32"])
            #expect(created.metadata?.team == "ops")
            #expect(created.nullFields.contains("rotated_from"))
            #expect(created.expiresAt != nil)

            let (readStatus, _, read) = try await Self.call(
                client, .get, "/v1/tokens/\(uuid)", as: fixture.session, answer: Shaped<V1TokenAnswer>.self)
            #expect(readStatus == .ok)
            #expect(!read.fieldNames.contains("token"), "the secret is never shown again")
            #expect(read.uuid == uuid)

            // Used from outside its allowlist (the client is 127.0.0.1, not in 192.0.2.0/24), it is
            // refused, and the refusal costs none of its uses.
            let selfStatus = try await Self.send(client, .get, "/v1/tokens/self", as: secret)
            #expect(selfStatus == .unauthorized)
            let (_, _, after) = try await Self.call(
                client, .get, "/v1/tokens/\(uuid)", as: fixture.session, answer: V1TokenAnswer.self)
            #expect(after.usesRemaining == 10)
        }
    }

    @Test(arguments: TestBackend.available)
    func errorsAreProblemDetailsNamingTheField(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            for (body, detail) in [
                (#"{"titel": "x"}"#, "Unknown field 'titel'."),
                (#"{"allowed_ips": ["10.0.0.0/33"]}"#, "'allowed_ips'"),
                (#"{"max_uses": 0}"#, "'max_uses' must be a whole number"),
                (#"{"max_uses": 99999999999999999999}"#, "'max_uses' must be a whole number"),
                (#"{"metadata": [1]}"#, "'metadata' must be a JSON object."),
                (#"{"metadata": {"k": "\#(String(repeating: "x", count: 5000))"}}"#, "'metadata' may be at most"),
                (#"{"expires_at": "2000-01-01T00:00:00Z", "expires_in": 60}"#, "not both"),
                ("[]", "The body must be a JSON object."),
                ("{", "The body is not valid JSON."),
            ] {
                try await client.execute(
                    uri: "/v1/tokens", method: .post, headers: Self.headers(fixture.session),
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let problem = try Self.decode(V1Problem.self, response)
                    #expect(problem.status == 400)
                    #expect(problem.type == "about:blank")
                    #expect(problem.detail.contains(detail), "\(body): \(problem)")
                }
            }
            try await client.execute(uri: "/v1/tokens", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(
                uri: "/v1/tokens/self", method: .get, headers: [.authorization: "Bearer lk_not_a_token"]
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
            }
            let (status, _, problem) = try await Self.call(
                client, .get, "/v1/tokens/00000000-0000-0000-0000-000000000000", as: fixture.session,
                answer: V1Problem.self)
            #expect(status == .notFound)
            #expect(problem.code == "not_found")
        }
    }

    @Test(arguments: TestBackend.available)
    func policyRefusalsAreProblemDetails(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, tokenLimits: TokenLimits(maxLifetime: [.app: 86_400])) { fixture, client in
            let (status, _, problem) = try await Self.call(
                client, .post, "/v1/tokens", as: fixture.session, body: #"{"expires_in": "2d"}"#,
                answer: V1Problem.self)
            #expect(status == .badRequest)
            #expect(problem.code == "policy_violation")
            #expect(problem.detail == "on this server an app token may live at most 1d")
            // Without an expiry the policy's longest is the default: never a silent refusal.
            let (created, _, token) = try await Self.call(
                client, .post, "/v1/tokens", as: fixture.session, answer: V1TokenAnswer.self)
            #expect(created == .created)
            #expect(token.expiresAt != nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func pagesFollowTheLinkHeaderToTheEnd(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            for index in 0..<6 {
                _ = try await fixture.services.tokens.create(
                    for: fixture.sam, TokenRequest(kind: .app, title: "t\(index)"), by: .cli)
            }
            var uri: String? = "/v1/tokens?limit=3"
            var titles: [String?] = []
            var pages = 0
            while let next = uri {
                let (status, headers, body) = try await Self.call(
                    client, .get, next, as: fixture.session, answer: V1TokenListing.self)
                #expect(status == .ok)
                titles += body.tokens.map(\.title)
                pages += 1
                uri = headers[HTTPField.Name("Link")!].flatMap { link in
                    link.hasSuffix(#">; rel="next""#) ? String(link.dropFirst().prefix { $0 != ">" }) : nil
                }
                if pages > 5 { break }
            }
            // The session itself (untitled) is one of the caller's tokens too.
            #expect(titles == [nil, "t0", "t1", "t2", "t3", "t4", "t5"])
            #expect(pages == 3)
            let status = try await Self.send(client, .get, "/v1/tokens?cursor=bogus!", as: fixture.session)
            #expect(status == .badRequest)
        }
    }

    @Test(arguments: TestBackend.available)
    func aTokenRotatesItselfIdempotentlyAndPatchNeverWidensScopes(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, over: .live) { fixture, client in
            let issued = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, scopes: ["repo:read"], expiry: .after(86_400)), by: .cli)
            let old = issued.secret.value
            let key: HTTPFields = [.init("Idempotency-Key")!: "retry-1"]
            let (status, _, first) = try await Self.call(
                client, .post, "/v1/tokens/self/rotate", as: old, body: #"{"overlap": "1h"}"#, headers: key,
                answer: V1TokenAnswer.self)
            #expect(status == .created)
            #expect(first.rotatedFrom == issued.token.uuid.uuidString.lowercased())
            let (againStatus, _, again) = try await Self.call(
                client, .post, "/v1/tokens/self/rotate", as: old, body: #"{"overlap": "1h"}"#, headers: key,
                answer: V1TokenAnswer.self)
            #expect(againStatus == .created)
            #expect(again.token == first.token)
            let (conflict, _, problem) = try await Self.call(
                client, .post, "/v1/tokens/self/rotate", as: old, answer: V1Problem.self)
            #expect(conflict == .conflict)
            #expect(problem.code == "already_rotated")

            let new = try #require(first.token)
            let (selfStatus, _, itself) = try await Self.call(
                client, .get, "/v1/tokens/self", as: new, answer: V1TokenAnswer.self)
            #expect(selfStatus == .ok)
            #expect(itself.uuid == first.uuid)
            let (oldSelf, _, retiring) = try await Self.call(
                client, .get, "/v1/tokens/self", as: old, answer: V1TokenAnswer.self)
            #expect(oldSelf == .ok, "the old token works through the overlap")
            #expect(retiring.retiresAt != nil)
            fixture.clock.advance(by: 3_600)
            let afterOverlap = try await Self.send(client, .get, "/v1/tokens/self", as: old)
            #expect(afterOverlap == .unauthorized)

            let uuid = first.uuid
            let widened = try await Self.send(
                client, .patch, "/v1/tokens/\(uuid)", as: fixture.session, body: #"{"scopes": ["repo:read", "admin"]}"#)
            #expect(widened == .badRequest)
            let (patched, _, changed) = try await Self.call(
                client, .patch, "/v1/tokens/\(uuid)", as: fixture.session,
                body: #"{"title": "renamed", "metadata": null, "allowed_ips": ["10.0.0.0/8"]}"#,
                answer: V1TokenAnswer.self)
            #expect(patched == .ok)
            #expect(changed.title == "renamed")
            #expect(changed.allowedIPs == ["10.0.0.0/8"])
            let refused = try await Self.send(client, .get, "/v1/tokens/self", as: new)
            #expect(refused == .unauthorized, "the client, 127.0.0.1, is not in 10.0.0.0/8")

            let deleted = try await Self.send(client, .delete, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(deleted == .noContent)
            let gone = try await Self.send(client, .get, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(gone == .notFound)
        }
    }

    /// A new token usable only from `networks` (JSON strings), with five uses.
    static func pinned(_ fixture: Fixture, _ client: any TestClientProtocol, _ networks: String) async throws
        -> String
    {
        let (status, _, created) = try await call(
            client, .post, "/v1/tokens", as: fixture.session,
            body: #"{"title": "pinned", "max_uses": 5, "allowed_ips": [\#(networks)]}"#, answer: V1TokenAnswer.self)
        #expect(status == .created)
        return try #require(created.token)
    }

    /// An allowlist admits its own networks only: a client inside is served (and spends a use),
    /// one outside is refused, and so is one whose address cannot be known.
    @Test(arguments: TestBackend.available)
    func anAllowlistAdmitsInsideRefusesOutsideAndUnknownAddresses(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, over: .live) { fixture, client in
            let inside = try await Self.pinned(fixture, client, #""127.0.0.0/8", "2001:db8::/32""#)
            let outside = try await Self.pinned(fixture, client, #""192.0.2.0/24""#)
            let (served, _, itself) = try await Self.call(
                client, .get, "/v1/tokens/self", as: inside, answer: V1TokenAnswer.self)
            #expect(served == .ok, "127.0.0.1 is inside 127.0.0.0/8")
            #expect(itself.usesRemaining == 4)
            let refused = try await Self.send(client, .get, "/v1/tokens/self", as: outside)
            #expect(refused == .unauthorized, "127.0.0.1 is outside 192.0.2.0/24")
        }
        // The same kind of token with no client address to judge: refused, though its network
        // would admit loopback.
        try await Fixture.run(on: backend) { fixture, client in
            let inside = try await Self.pinned(fixture, client, #""127.0.0.0/8""#)
            let unknown = try await Self.send(client, .get, "/v1/tokens/self", as: inside)
            #expect(unknown == .unauthorized)
            let (_, _, after) = try await Self.call(
                client, .get, "/v1/tokens", as: fixture.session, answer: V1TokenListing.self)
            #expect(after.tokens.compactMap(\.usesRemaining) == [5], "the refusal spent no use")
        }
    }
}

/// A token as `/v1/tokens` shows it, the fields these tests read: every key always present (null
/// when unset) but `token`, the secret, only in the answers to creation and rotation.
private struct V1TokenAnswer: Decodable {
    /// The metadata these tests set, `{"team": "ops", "n": 1}`.
    struct Metadata: Decodable {
        var team: String?
    }

    var uuid: String
    var title: String?
    var kind: String
    var maxUses: Int?
    var usesRemaining: Int?
    var allowedIPs: [String]
    var metadata: Metadata?
    var expiresAt: String?
    var rotatedFrom: String?
    var retiresAt: String?
    var token: String?

    enum CodingKeys: String, CodingKey {
        case uuid, title, kind, metadata, token
        case maxUses = "max_uses"
        case usesRemaining = "uses_remaining"
        case allowedIPs = "allowed_ips"
        case expiresAt = "expires_at"
        case rotatedFrom = "rotated_from"
        case retiresAt = "retires_at"
    }
}

/// `GET /v1/tokens`: a page of the caller's tokens.
private struct V1TokenListing: Decodable {
    var tokens: [V1TokenAnswer]
}

/// A failure, as problem details.
private struct V1Problem: Decodable {
    var type: String
    var status: Int
    var detail: String
    var code: String
}

/// A JSON object read only for being one.
private struct NoFields: Decodable {}
