import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Quay's app-token API through the real router and a real database of each
/// backend, with a manual clock for expiry. Each test names the contract line it proves.
@Suite("Quay app tokens", .serialized)
struct QuayAppTokenTests {
    @Test("Create, list, read and delete an app token", arguments: TestBackend.available)
    func createListReadDeleteRoundTrip(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let token = try await create(client, as: fixture.samSession, #"{"title": "my token"}"#)
                let uuid = try #require(token["uuid"] as? String)
                let code = try #require(token["token_code"] as? String)
                #expect(UUID(uuidString: uuid) != nil && uuid == uuid.lowercased())
                #expect(token["title"] as? String == "my token")
                #expect(token["created"] as? String == "Tue, 21 Oct 2025 19:00:59 -0000")
                #expect(token["last_accessed"] is NSNull)
                #expect(token["expiration"] is NSNull)

                let listing = try await list(client, as: fixture.samSession)
                #expect(uuids(listing) == [uuid])
                #expect(listing["only_expiring"] is NSNull)
                #expect((listing["tokens"] as? [[String: Any]])?.allSatisfy { $0["token_code"] == nil } == true)
                #expect(
                    uuids(try await list(client, as: fixture.samSession, query: "?expiring=True")) == [],
                    "never-expiring is not expiring")

                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let body = try json(response)
                    #expect((body["token"] as? [String: Any])?["token_code"] as? String == code)
                }
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .delete, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .noContent)
                    #expect(response.body.readableBytes == 0)
                }
                #expect(uuids(try await list(client, as: fixture.samSession)) == [])
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }

    @Test("A token that expired ten seconds ago can still be deleted but not read", arguments: TestBackend.available)
    func aTokenThatExpiredTenSecondsAgoCanStillBeDeletedButNotRead(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let uuid = try #require(
                    try await create(client, as: fixture.samSession, #"{"title": "t", "expiration": 60}"#)["uuid"]
                        as? String)
                fixture.clock.advance(by: 70)
                #expect(
                    uuids(try await list(client, as: fixture.samSession)) == [uuid], "listed until garbage collection")
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    #expect($0.status == .notFound)
                }
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .delete, headers: bearer(fixture.samSession)
                ) {
                    #expect($0.status == .noContent)
                }
                #expect(try await fixture.services.tokens.find(uuid: UUID(uuidString: uuid)!) == nil, "a hard delete")
            }
        }
    }

    @Test("Another user's tokens are invisible", arguments: TestBackend.available)
    func anotherUsersTokensAreInvisible(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let samUUID = try #require(try await create(client, as: fixture.samSession)["uuid"] as? String)
                let kimUUID = try #require(try await create(client, as: fixture.kimSession)["uuid"] as? String)
                #expect(uuids(try await list(client, as: fixture.samSession)) == [samUUID])
                #expect(uuids(try await list(client, as: fixture.kimSession)) == [kimUUID])
                for method in [HTTPRequest.Method.get, .delete] {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken/\(kimUUID)", method: method, headers: bearer(fixture.samSession)
                    ) {
                        response in
                        #expect(response.status == .notFound)
                        let body = try json(response)
                        #expect(body["error_type"] as? String == "not_found")
                    }
                }
                #expect(try await fixture.services.tokens.find(uuid: UUID(uuidString: kimUUID)!) != nil)
            }
        }
    }

    @Test("expiring=true lists only the tokens within the window", arguments: TestBackend.available)
    func expiringListsOnlyTokensWithinTheWindow(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let soon = try #require(
                    try await create(client, as: fixture.samSession, #"{"title": "a", "expiration": 60}"#)["uuid"]
                        as? String)
                _ = try await create(client, as: fixture.samSession, #"{"title": "b", "expiration": 2592000}"#)
                let edge = try #require(
                    try await create(client, as: fixture.samSession, #"{"title": "c", "expiration": 241920}"#)["uuid"]
                        as? String)
                let beyond = try #require(
                    try await create(client, as: fixture.samSession, #"{"title": "d", "expiration": 241921}"#)["uuid"]
                        as? String)
                _ = try await create(client, as: fixture.samSession)
                let expiring = try await list(client, as: fixture.samSession, query: "?expiring=true")
                #expect(uuids(expiring) == [soon, edge], "window: 10% of 4 weeks = 241920 s, inclusive")
                #expect(expiring["only_expiring"] as? Bool == true)

                fixture.clock.advance(by: 61)
                #expect(
                    uuids(try await list(client, as: fixture.samSession, query: "?expiring=1")) == [edge, beyond],
                    "expired is not expiring; the window moved with the clock")
            }
        }
    }

    @Test("The expiring window follows the configured lifetime", arguments: TestBackend.available)
    func theWindowFollowsTheConfiguredLifetime(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            let configuration = ServerConfiguration(appTokenLifetime: 30 * 86_400)
            try await fixture.app(configuration).test(.router) { client in
                let token = try await create(client, as: fixture.samSession)
                #expect(
                    token["expiration"] as? String == "Thu, 20 Nov 2025 19:00:59 -0000", "the default lifetime applies")
                let uuid = try #require(token["uuid"] as? String)
                #expect(uuids(try await list(client, as: fixture.samSession, query: "?expiring=true")) == [])
                fixture.clock.advance(by: 27 * 86_400)
                #expect(
                    uuids(try await list(client, as: fixture.samSession, query: "?expiring=true")) == [uuid],
                    "3 days before expiry"
                )
            }
        }
    }

    @Test("expiring is parsed loosely, as Quay parses it", arguments: TestBackend.available)
    func expiringIsParsedLoosely(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            let cases: [(String, Bool)] = [
                ("false", false), ("False", false), ("FALSE", false), ("0", false), ("", false), ("null", false),
                ("true", true), ("yes", true), ("fAlse", true), ("2", true),
            ]
            try await fixture.app().test(.router) { client in
                for (value, expected) in cases {
                    let listing = try await list(client, as: fixture.samSession, query: "?expiring=\(value)")
                    #expect(listing["only_expiring"] as? Bool == expected, "expiring=\(value)")
                }
            }
        }
    }

    @Test("Anonymous calls are 401 in Quay's error shape", arguments: TestBackend.available)
    func anonymousCallsAre401InQuaysShape(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let calls: [(String, HTTPRequest.Method)] = [
                    ("/api/v1/user/apptoken", .get), ("/api/v1/user/apptoken", .post),
                    ("/api/v1/user/apptoken/someuuid", .get), ("/api/v1/user/apptoken/someuuid", .delete),
                ]
                for (uri, method) in calls {
                    try await client.execute(uri: uri, method: method, headers: [:]) { response in
                        #expect(response.status == .unauthorized)
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                        let body = try json(response)
                        #expect(body["detail"] as? String == "Requires authentication")
                        #expect(body["error_message"] as? String == "Requires authentication")
                        #expect(body["error_type"] as? String == "invalid_token")
                        #expect(body["title"] as? String == "invalid_token")
                        #expect(body["type"] as? String == "http://127.0.0.1:8080/api/v1/error/invalid_token")
                        #expect(body["status"] as? Int == 401)
                    }
                }
                try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer("lk_not_a_token"))
                {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }

    @Test("Bad requests are 400 and unknown UUIDs 404", arguments: TestBackend.available)
    func badRequestsAre400AndUnknownUUIDs404(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                for body in [
                    "{}", #"{"title": 5}"#, "[1]", "not json", #"{"title": "t", "expiration": -1}"#,
                    #"{"title": "t", "expiration": "2000-01-01T00:00:00Z"}"#, #"{"title": "t", "scopes": "x"}"#,
                    #"{"title": "\#(String(repeating: "x", count: 256))"}"#,
                    #"{"title": "t", "scopes": ["two words"]}"#,
                ] {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken", method: .post, headers: bearer(fixture.samSession),
                        body: ByteBuffer(string: body)
                    ) { response in
                        #expect(response.status == .badRequest, "\(body)")
                        let body = try json(response)
                        #expect(body["error_type"] as? String == "invalid_request")
                    }
                }
                #expect(uuids(try await list(client, as: fixture.samSession)) == [], "nothing was created")
                for method in [HTTPRequest.Method.get, .delete] {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken/someuuid", method: method, headers: bearer(fixture.samSession)
                    ) {
                        #expect($0.status == .notFound)
                    }
                }
            }
        }
    }

    @Test("An app token authenticates as Basic $app:<token>", arguments: TestBackend.available)
    func theAppTokenAuthenticatesAsBasicDollarApp(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let code = try #require(try await create(client, as: fixture.samSession)["token_code"] as? String)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) { response in
                    #expect(response.status == .ok)
                    let user = try json(response)
                    #expect(user["username"] as? String == "sam")
                    #expect(user["anonymous"] as? Bool == false)
                    #expect(user["email"] as? String == "sam@example.org")
                    #expect(user["verified"] as? Bool == true)
                }
                let wrongRest = String(code.prefix(20)) + String(repeating: "A", count: code.count - 20)
                for password in [TokenSecret.generate().value, wrongRest, "nonsense"] {
                    try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", password)) {
                        #expect($0.status == .unauthorized)
                    }
                }
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("sam", "password")) {
                    #expect($0.status == .unauthorized, "passwords never authenticate a request")
                }
            }
        }
    }

    @Test("last_accessed records use at most once a minute", arguments: TestBackend.available)
    func lastAccessedRecordsUseAtMostOnceAMinute(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let token = try await create(
                    client, as: fixture.samSession, #"{"title": "t", "scopes": ["user:admin"]}"#)
                let code = try #require(token["token_code"] as? String)
                let uuid = try #require(token["uuid"] as? String)
                func lastAccessed() async throws -> Any? {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                    ) {
                        (try json($0)["token"] as? [String: Any])?["last_accessed"]
                    }
                }
                #expect(try await lastAccessed() is NSNull)
                fixture.clock.advance(by: 5)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) {
                    #expect($0.status == .ok)
                }
                #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:01:04 -0000")
                fixture.clock.advance(by: 30)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) { _ in }
                #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:01:04 -0000")
                fixture.clock.advance(by: 30)
                try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer(code)) {
                    #expect($0.status == .ok)
                }
                #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:02:04 -0000")
            }
        }
    }

    @Test("An app token needs the user:admin scope to manage tokens", arguments: TestBackend.available)
    func anAppTokenNeedsTheUserAdminScopeToManageTokens(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let plainToken = try await create(client, as: fixture.samSession)
                let adminToken = try await create(
                    client, as: fixture.samSession, #"{"title": "a", "scopes": ["user:admin"]}"#)
                let plain = try #require(plainToken["token_code"] as? String)
                let admin = try #require(adminToken["token_code"] as? String)
                for (uri, method) in [
                    ("/api/v1/user/apptoken", HTTPRequest.Method.get), ("/api/v1/user/apptoken", .post),
                    ("/api/v1/user/apptoken/\(UUID())", .get), ("/api/v1/user/apptoken/\(UUID())", .delete),
                ] {
                    for headers in [bearer(plain), basic("$app", plain), [.authorization: "Token \(plain)"]] {
                        try await client.execute(
                            uri: uri, method: method, headers: headers, body: ByteBuffer(string: #"{"title":"x"}"#)
                        ) {
                            response in
                            #expect(response.status == .forbidden)
                            let body = try json(response)
                            #expect(body["error_type"] as? String == "insufficient_scope")
                            #expect(body["detail"] as? String == "Unauthorized")
                        }
                    }
                }
                let created = [
                    try #require(plainToken["uuid"] as? String), try #require(adminToken["uuid"] as? String),
                ]
                #expect(uuids(try await list(client, as: admin)) == created, "nothing refused was created")
                // A token never gets a scope its creator lacks.
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: bearer(admin),
                    body: ByteBuffer(string: #"{"title": "x", "scopes": ["user:admin", "repo:write"]}"#)
                ) { response in
                    #expect(response.status == .forbidden)
                    let body = try json(response)
                    #expect(body["error_type"] as? String == "insufficient_scope")
                }
                _ = try await create(client, as: admin, #"{"title": "y", "scopes": ["user:admin"]}"#)
            }
        }
    }

    @Test("Garbage collection deletes tokens a day after they expire", arguments: TestBackend.available)
    func garbageCollectionDeletesTokensADayAfterExpiry(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let uuid = try #require(
                    try await create(client, as: fixture.samSession, #"{"title": "t", "expiration": 3600}"#)["uuid"]
                        as? String)
                let keeper = try #require(try await create(client, as: fixture.samSession)["uuid"] as? String)
                fixture.clock.advance(by: 3600 + 86_400)
                #expect(try await fixture.services.tokens.deleteExpired(grace: 86_400) == 0)
                #expect(uuids(try await list(client, as: fixture.samSession)) == [uuid, keeper])
                fixture.clock.advance(by: 1)
                #expect(try await fixture.services.tokens.deleteExpired(grace: 86_400) == 1)
                #expect(uuids(try await list(client, as: fixture.samSession)) == [keeper])
            }
        }
    }

    @Test("With recovery turned off, reading a token omits its code", arguments: TestBackend.available)
    func withRecoveryTurnedOffReadingOmitsTheCode(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            let plain = LatchkeyServices(
                storage: fixture.services.storage, secretBox: nil, hasher: fastPasswordHasher, clock: fixture.clock)
            try await fixture.app(services: plain).test(.router) { client in
                let token = try await create(client, as: fixture.samSession)
                #expect(token["token_code"] is String, "the create response always shows the new code")
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(token["uuid"]!)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let shown = try #require(try json(response)["token"] as? [String: Any])
                    #expect(shown["token_code"] == nil)
                    #expect(shown["uuid"] as? String == token["uuid"] as? String)
                }
            }
        }
    }

    @Test("The expiration extension accepts an RFC 3339 instant", arguments: TestBackend.available)
    func expirationExtensionAcceptsAnRFC3339Instant(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let token = try await create(
                    client, as: fixture.samSession, #"{"title": "t", "expiration": "2025-10-22T19:00:59.5Z"}"#)
                #expect(token["expiration"] as? String == "Wed, 22 Oct 2025 19:00:59 -0000")
            }
        }
    }

    @Test(
        "A lifetime beyond policy is 400 in Quay's shape; the default is shortened to fit",
        arguments: TestBackend.available)
    func aLifetimeBeyondPolicyIsRefusedInQuaysShape(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            let bounded = LatchkeyServices(
                storage: fixture.services.storage, secretBox: nil, hasher: fastPasswordHasher, clock: fixture.clock,
                tokenLimits: TokenLimits(maxLifetime: [.app: 86_400]))
            try await fixture.app(services: bounded).test(.router) { client in
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: bearer(fixture.samSession),
                    body: ByteBuffer(string: #"{"title": "t", "expiration": "2025-10-23T19:00:59Z"}"#)
                ) { response in
                    #expect(response.status == .badRequest)
                    let body = try json(response)
                    #expect(body["error_type"] as? String == "invalid_request")
                    #expect(body["detail"] as? String == "on this server an app token may live at most 1d")
                }
                // No expiration asked, and the server's default (none) is beyond policy: a day.
                let token = try await create(client, as: fixture.samSession)
                #expect(token["expiration"] as? String == "Wed, 22 Oct 2025 19:00:59 -0000")
            }
        }
    }

    @Test("Administrators list everyone's tokens, without their codes", arguments: TestBackend.available)
    func administratorsListEveryonesTokensWithoutCodes(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let samUUID = try #require(try await create(client, as: fixture.samSession)["uuid"] as? String)
                let kimUUID = try #require(try await create(client, as: fixture.kimSession)["uuid"] as? String)
                try await client.execute(
                    uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(fixture.kimSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let tokens = try #require(try json(response)["tokens"] as? [[String: Any]])
                    #expect(tokens.compactMap { $0["uuid"] as? String } == [samUUID, kimUUID])
                    #expect(tokens.compactMap { $0["owner"] as? String } == ["sam", "kim"])
                    #expect(tokens.allSatisfy { $0["token_code"] == nil })
                }
                try await client.execute(
                    uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(fixture.samSession)
                ) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(uri: "/api/v1/superuser/apptokens", method: .get) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }

    @Test("Other methods are 405 with Allow", arguments: TestBackend.available)
    func otherMethodsAre405(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .put, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET, POST")
                    let body = try json(response)
                    #expect(body["status"] as? Int == 405)
                }
            }
        }
    }
}

/// What every Quay test starts from: sam and kim (an administrator), each with a
/// long session, on a fresh database, and a clock that moves only when told to.
struct QuayFixture {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_761_073_259))  // Tue, 21 Oct 2025 19:00:59 UTC
    let services: LatchkeyServices
    let sam: User
    let kim: User
    let samSession: String
    let kimSession: String

    /// Runs `body` with a fixture on a new, empty database of `backend`'s kind.
    static func run(on backend: TestBackend, _ body: @Sendable @escaping (QuayFixture) async throws -> Void)
        async throws
    {
        try await backend.withStorage { storage in try await body(try await QuayFixture(storage: storage)) }
    }

    init(storage: any LatchkeyStorage) async throws {
        services = LatchkeyServices(
            storage: storage, secretBox: SecretBox(key: .init(size: .bits256)), hasher: fastPasswordHasher, clock: clock
        )
        sam = try await makeUser(storage, "sam", email: "sam@example.org")
        kim = try await makeUser(storage, "kim", isAdmin: true)
        samSession = try await services.tokens.create(
            for: sam, TokenRequest(kind: .session, expiry: .sliding(365 * 86_400)), by: .cli
        )
        .secret.value
        kimSession = try await services.tokens.create(
            for: kim, TokenRequest(kind: .session, expiry: .sliding(365 * 86_400)), by: .cli
        )
        .secret.value
    }

    func app(_ configuration: ServerConfiguration = ServerConfiguration(), services: LatchkeyServices? = nil)
        -> some ApplicationProtocol
    {
        Application(router: buildRouter(configuration: configuration, services: services ?? self.services))
    }
}

private func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

private func basic(_ username: String, _ password: String) -> HTTPFields {
    [.authorization: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()]
}

private func json(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
}

/// Creates a token through the API and answers its JSON object.
private func create(
    _ client: some TestClientProtocol, as token: String, _ body: String = #"{"title": "t"}"#
) async throws -> [String: Any] {
    try await client.execute(
        uri: "/api/v1/user/apptoken", method: .post, headers: bearer(token), body: ByteBuffer(string: body)
    ) { response in
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try #require(try json(response)["token"] as? [String: Any])
    }
}

private func list(_ client: some TestClientProtocol, as token: String, query: String = "") async throws -> [String: Any]
{
    try await client.execute(uri: "/api/v1/user/apptoken\(query)", method: .get, headers: bearer(token)) { response in
        #expect(response.status == .ok)
        return try json(response)
    }
}

private func uuids(_ listing: [String: Any]) -> [String] {
    (listing["tokens"] as? [[String: Any]] ?? []).compactMap { $0["uuid"] as? String }
}
