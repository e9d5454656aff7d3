import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// The defects of the security review, each as a user would meet it through the real
/// router: numbers and dates from outside are bounded, tokens hand on no more than
/// they hold, and no link or error points where a request's `Host` says.
@Suite("Hostile input and grants", .removingScratchDirectories)
struct HostileInputTests {
    let clock = ManualClock()
    let services: LatchkeyServices
    let sam: User
    let session: String

    init() async throws {
        let storage = try makeSQLiteStorage()
        services = LatchkeyServices(
            storage: storage, secretBox: SecretBox(key: .init(size: .bits256)), hasher: fastPasswordHasher, clock: clock
        )
        sam = try await makeUser(storage, "sam")
        session = try await services.tokens.create(
            for: sam, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli
        )
        .secret.value
    }

    func app(_ configuration: ServerConfiguration = ServerConfiguration()) -> some ApplicationProtocol {
        Application(router: buildRouter(configuration: configuration, services: services))
    }

    func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
    }

    func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)", .contentType: "application/json"]
    }

    @Test func hugeOffsetsAndLimitsAreAnEmptyPageNotACrash() async throws {
        try await app().test(.router) { client in
            for query in [
                "offset=9223372036854775807", "offset=9223372036854775808&limit=9223372036854775807",
                "offset=99999999999999999999999999&limit=-9223372036854775808", "limit=1e308&offset=-1",
            ] {
                try await client.execute(uri: "/api/tokens/?\(query)", method: .get, headers: bearer(session)) {
                    response in
                    #expect(response.status == .ok, "\(query)")
                    #expect(json(response)["count"] as? Int == 1, "\(query)")
                }
            }
            try await client.execute(
                uri: "/api/tokens/?offset=9223372036854775807", method: .get, headers: bearer(session)
            ) {
                response in
                #expect((json(response)["results"] as? [Any])?.isEmpty == true)
                #expect(
                    json(response)["previous"] as? String
                        == "http://127.0.0.1:8080/api/tokens/?limit=50&offset=999999950")
            }
        }
    }

    @Test func farFutureAndOverflowingExpiriesAreA400() async throws {
        try await app().test(.router) { client in
            for expiration in [
                #""300000-01-01T00:00:00Z""#, #""99999-01-01T00:00:00Z""#, "9223372036854775807", "1e308", "-1",
                "18446744073709551615", #""-0001-01-01T00:00:00Z""#,
            ] {
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: bearer(session),
                    body: ByteBuffer(string: #"{"title": "t", "expiration": \#(expiration)}"#)
                ) { response in
                    #expect(response.status == .badRequest, "\(expiration)")
                    #expect(json(response)["error_type"] as? String == "invalid_request")
                }
            }
        }
        #expect(try await services.tokens.count(TokenQuery(ownerID: sam.id, kind: .app)) == 0)
    }

    @Test func anAppTokenNeverMintsASession() async throws {
        let app = try await services.tokens.create(
            for: sam, TokenRequest(kind: .app, scopes: ["repo:read", "user:admin"], expiry: .after(3600)), by: .cli)
        try await self.app().test(.router) { client in
            try await client.execute(uri: "/api/tokens/", method: .post, headers: bearer(app.secret.value)) {
                response in
                #expect(response.status == .forbidden)
                #expect(json(response)["message"] as? String == "You do not have permission to perform this action.")
            }
        }
        #expect(try await services.tokens.count(TokenQuery(ownerID: sam.id, kind: .session)) == 1, "only the fixture's")
    }

    @Test func anAppTokenCreatesOnlyNarrowerShorterLivedTokens() async throws {
        let parent = try await services.tokens.create(
            for: sam, TokenRequest(kind: .app, scopes: ["user:admin", "repo:read"], expiry: .after(3600)), by: .cli)
        let headers = bearer(parent.secret.value)
        try await app(ServerConfiguration(appTokenLifetime: 30 * 86_400)).test(.router) { client in
            // Scopes it lacks, or a life beyond its own, are refused.
            for body in [
                #"{"title": "t", "scopes": ["repo:write"]}"#, #"{"title": "t", "expiration": 7200}"#,
                #"{"title": "t", "scopes": ["superuser"]}"#,
            ] {
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: headers, body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .forbidden, "\(body)")
                    #expect(json(response)["error_type"] as? String == "insufficient_scope")
                }
            }
            // The server's 30-day default is shortened to the creator's hour.
            let child = try await client.execute(
                uri: "/api/v1/user/apptoken", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"title": "child", "scopes": ["repo:read"]}"#)
            ) { response in
                #expect(response.status == .ok)
                return json(response)["token"] as? [String: Any] ?? [:]
            }
            let childUUID = try #require(child["uuid"] as? String)
            let childID = try #require(UUID(uuidString: childUUID))
            let stored = try #require(try await services.tokens.find(uuid: childID))
            #expect(stored.expires == parent.token.expires)

            // It reads the code of a narrower sibling, never of a wider one.
            let childCode = try #require(child["token_code"] as? String)
            let wider = try await services.tokens.create(
                for: sam, TokenRequest(kind: .app, scopes: ["user:admin", "repo:write"], recoverable: true), by: .cli)
            let shown: [(uuid: String, code: String?)] = [
                (childUUID, childCode), (wider.token.uuid.uuidString.lowercased(), nil),
            ]
            for (uuid, code) in shown {
                try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: headers) {
                    response in
                    #expect(response.status == .ok)
                    let token = json(response)["token"] as? [String: Any] ?? [:]
                    #expect(token["uuid"] as? String == uuid)
                    #expect(token["token_code"] as? String == code, "\(uuid)")
                }
            }
        }
    }

    @Test func linksAndErrorURLsComeFromThePublicURLNeverFromTheRequest() async throws {
        let hostile: HTTPFields = [
            .authorization: "Bearer \(session)", .init("Host")!: "evil.example", .init("X-Forwarded-Proto")!: "https",
        ]
        for (configuration, base) in [
            (ServerConfiguration(), "http://127.0.0.1:8080"),
            (ServerConfiguration(publicURL: "https://tokens.example.org/"), "https://tokens.example.org"),
        ] {
            try await app(configuration).test(.router) { client in
                try await client.execute(uri: "/api/tokens/?limit=1&offset=1", method: .get, headers: hostile) {
                    response in
                    #expect(json(response)["previous"] as? String == "\(base)/api/tokens/?limit=1")
                }
                try await client.execute(uri: "/api/v1/user/apptoken/nope", method: .get, headers: hostile) {
                    response in
                    #expect(json(response)["type"] as? String == "\(base)/api/v1/error/not_found")
                }
            }
        }
    }
}
