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

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    /// A request's answer: its status, headers and JSON body.
    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, as secret: String,
        body: String = "", headers extra: HTTPFields = [:]
    ) async throws -> (HTTPResponse.Status, HTTPFields, [String: Any]) {
        try await client.execute(
            uri: uri, method: method, headers: headers(secret, extra), body: ByteBuffer(string: body)
        ) { response in
            (response.status, response.headers, response.body.readableBytes == 0 ? [:] : try json(response))
        }
    }

    @Test(arguments: TestBackend.available)
    func aTokenIsCreatedWithItsWholeLifeAndItsSecretShownOnce(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, over: .live) { fixture, client in
            let (status, headers, created) = try await Self.call(
                client, .post, "/v1/tokens", as: fixture.session,
                body: """
                    {"title": "deploy", "scopes": ["repo:read"], "expires_in": "30d", "max_uses": 10,
                     "allowed_ips": ["192.0.2.0/24", "2001:db8::/32"], "metadata": {"team": "ops", "n": 1}}
                    """)
            #expect(status == .created)
            let uuid = try #require(created["uuid"] as? String)
            #expect(headers[.location] == "/v1/tokens/\(uuid)")
            #expect(headers[.cacheControl] == "no-store")
            let secret = try #require(created["token"] as? String)
            #expect(created["title"] as? String == "deploy")
            #expect(created["kind"] as? String == "app")
            #expect(created["max_uses"] as? Int == 10)
            #expect(created["uses_remaining"] as? Int == 10)
            #expect(created["allowed_ips"] as? [String] == ["192.0.2.0/24", "2001:db8::/32"])
            #expect((created["metadata"] as? [String: Any])?["team"] as? String == "ops")
            #expect(created["rotated_from"] is NSNull)
            #expect(created["expires_at"] as? String != nil)

            let (readStatus, _, read) = try await Self.call(client, .get, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(readStatus == .ok)
            #expect(read["token"] == nil, "the secret is never shown again")
            #expect(read["uuid"] as? String == uuid)

            // Used from outside its allowlist (the client is 127.0.0.1, not in 192.0.2.0/24), it is
            // refused, and the refusal costs none of its uses.
            let (selfStatus, _, _) = try await Self.call(client, .get, "/v1/tokens/self", as: secret)
            #expect(selfStatus == .unauthorized)
            let (_, _, after) = try await Self.call(client, .get, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(after["uses_remaining"] as? Int == 10)
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
                    let problem = try Self.json(response)
                    #expect(problem["status"] as? Int == 400)
                    #expect(problem["type"] as? String == "about:blank")
                    #expect((problem["detail"] as? String)?.contains(detail) == true, "\(body): \(problem)")
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
                client, .get, "/v1/tokens/00000000-0000-0000-0000-000000000000", as: fixture.session)
            #expect(status == .notFound)
            #expect(problem["code"] as? String == "not_found")
        }
    }

    @Test(arguments: TestBackend.available)
    func policyRefusalsAreProblemDetails(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, tokenLimits: TokenLimits(maxLifetime: [.app: 86_400])) { fixture, client in
            let (status, _, problem) = try await Self.call(
                client, .post, "/v1/tokens", as: fixture.session, body: #"{"expires_in": "2d"}"#)
            #expect(status == .badRequest)
            #expect(problem["code"] as? String == "policy_violation")
            #expect(problem["detail"] as? String == "on this server an app token may live at most 1d")
            // Without an expiry the policy's longest is the default: never a silent refusal.
            let (created, _, token) = try await Self.call(client, .post, "/v1/tokens", as: fixture.session)
            #expect(created == .created)
            #expect(token["expires_at"] as? String != nil)
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
                let (status, headers, body) = try await Self.call(client, .get, next, as: fixture.session)
                #expect(status == .ok)
                let tokens = try #require(body["tokens"] as? [[String: Any]])
                titles += tokens.map { $0["title"] as? String }
                pages += 1
                uri = headers[HTTPField.Name("Link")!].flatMap { link in
                    link.hasSuffix(#">; rel="next""#) ? String(link.dropFirst().prefix { $0 != ">" }) : nil
                }
                if pages > 5 { break }
            }
            // The session itself (untitled) is one of the caller's tokens too.
            #expect(titles == [nil, "t0", "t1", "t2", "t3", "t4", "t5"])
            #expect(pages == 3)
            let (status, _, _) = try await Self.call(client, .get, "/v1/tokens?cursor=bogus!", as: fixture.session)
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
                client, .post, "/v1/tokens/self/rotate", as: old, body: #"{"overlap": "1h"}"#, headers: key)
            #expect(status == .created)
            #expect(first["rotated_from"] as? String == issued.token.uuid.uuidString.lowercased())
            let (againStatus, _, again) = try await Self.call(
                client, .post, "/v1/tokens/self/rotate", as: old, body: #"{"overlap": "1h"}"#, headers: key)
            #expect(againStatus == .created)
            #expect(again["token"] as? String == first["token"] as? String)
            let (conflict, _, problem) = try await Self.call(client, .post, "/v1/tokens/self/rotate", as: old)
            #expect(conflict == .conflict)
            #expect(problem["code"] as? String == "already_rotated")

            let new = try #require(first["token"] as? String)
            let (selfStatus, _, itself) = try await Self.call(client, .get, "/v1/tokens/self", as: new)
            #expect(selfStatus == .ok)
            #expect(itself["uuid"] as? String == first["uuid"] as? String)
            let (oldSelf, _, retiring) = try await Self.call(client, .get, "/v1/tokens/self", as: old)
            #expect(oldSelf == .ok, "the old token works through the overlap")
            #expect(retiring["retires_at"] as? String != nil)
            fixture.clock.advance(by: 3_600)
            let (afterOverlap, _, _) = try await Self.call(client, .get, "/v1/tokens/self", as: old)
            #expect(afterOverlap == .unauthorized)

            let uuid = try #require(first["uuid"] as? String)
            let (widened, _, _) = try await Self.call(
                client, .patch, "/v1/tokens/\(uuid)", as: fixture.session, body: #"{"scopes": ["repo:read", "admin"]}"#)
            #expect(widened == .badRequest)
            let (patched, _, changed) = try await Self.call(
                client, .patch, "/v1/tokens/\(uuid)", as: fixture.session,
                body: #"{"title": "renamed", "metadata": null, "allowed_ips": ["10.0.0.0/8"]}"#)
            #expect(patched == .ok)
            #expect(changed["title"] as? String == "renamed")
            #expect(changed["allowed_ips"] as? [String] == ["10.0.0.0/8"])
            let (refused, _, _) = try await Self.call(client, .get, "/v1/tokens/self", as: new)
            #expect(refused == .unauthorized, "the client, 127.0.0.1, is not in 10.0.0.0/8")

            let (deleted, _, _) = try await Self.call(client, .delete, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(deleted == .noContent)
            let (gone, _, _) = try await Self.call(client, .get, "/v1/tokens/\(uuid)", as: fixture.session)
            #expect(gone == .notFound)
        }
    }

    /// A new token usable only from `networks` (JSON strings), with five uses.
    static func pinned(_ fixture: Fixture, _ client: any TestClientProtocol, _ networks: String) async throws
        -> String
    {
        let (status, _, created) = try await call(
            client, .post, "/v1/tokens", as: fixture.session,
            body: #"{"title": "pinned", "max_uses": 5, "allowed_ips": [\#(networks)]}"#)
        #expect(status == .created)
        return try #require(created["token"] as? String)
    }

    /// An allowlist admits its own networks only: a client inside is served (and spends a use),
    /// one outside is refused, and so is one whose address cannot be known.
    @Test(arguments: TestBackend.available)
    func anAllowlistAdmitsInsideRefusesOutsideAndUnknownAddresses(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, over: .live) { fixture, client in
            let inside = try await Self.pinned(fixture, client, #""127.0.0.0/8", "2001:db8::/32""#)
            let outside = try await Self.pinned(fixture, client, #""192.0.2.0/24""#)
            let (served, _, itself) = try await Self.call(client, .get, "/v1/tokens/self", as: inside)
            #expect(served == .ok, "127.0.0.1 is inside 127.0.0.0/8")
            #expect(itself["uses_remaining"] as? Int == 4)
            let (refused, _, _) = try await Self.call(client, .get, "/v1/tokens/self", as: outside)
            #expect(refused == .unauthorized, "127.0.0.1 is outside 192.0.2.0/24")
        }
        // The same kind of token with no client address to judge: refused, though its network
        // would admit loopback.
        try await Fixture.run(on: backend) { fixture, client in
            let inside = try await Self.pinned(fixture, client, #""127.0.0.0/8""#)
            let (unknown, _, _) = try await Self.call(client, .get, "/v1/tokens/self", as: inside)
            #expect(unknown == .unauthorized)
            let (_, _, after) = try await Self.call(client, .get, "/v1/tokens", as: fixture.session)
            let listed = try #require(after["tokens"] as? [[String: Any]])
            #expect(listed.compactMap { $0["uses_remaining"] as? Int } == [5], "the refusal spent no use")
        }
    }
}
