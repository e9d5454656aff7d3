import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Quay's app-token API through the real router and a real database of each
/// backend, with a manual clock for expiry. Each scenario names the contract line it proves.
@Suite("Quay app tokens", .serialized)
struct QuayAppTokenTests {
    @Test(arguments: TestBackend.available, QuayScenario.allCases)
    func scenario(backend: TestBackend, scenario: QuayScenario) async throws {
        try await backend.withStorage { storage in
            try await QuayFixture(storage: storage).run(scenario)
        }
    }
}

enum QuayScenario: String, CaseIterable, Sendable {
    case createListReadDeleteRoundTrip
    case aTokenThatExpiredTenSecondsAgoCanStillBeDeletedButNotRead
    case anotherUsersTokensAreInvisible
    case expiringListsOnlyTokensWithinTheWindow
    case theWindowFollowsTheConfiguredLifetime
    case expiringIsParsedLoosely
    case anonymousCallsAre401InQuaysShape
    case badRequestsAre400AndUnknownUUIDs404
    case theAppTokenAuthenticatesAsBasicDollarApp
    case lastAccessedRecordsUseAtMostOnceAMinute
    case anAppTokenNeedsTheUserAdminScopeToManageTokens
    case garbageCollectionDeletesTokensADayAfterExpiry
    case withRecoveryTurnedOffReadingOmitsTheCode
    case expirationExtensionAcceptsAnRFC3339Instant
    case administratorsListEveryonesTokensWithoutCodes
    case otherMethodsAre405
}

struct QuayFixture {
    func run(_ scenario: QuayScenario) async throws {
        switch scenario {
        case .createListReadDeleteRoundTrip: try await createListReadDeleteRoundTrip()
        case .aTokenThatExpiredTenSecondsAgoCanStillBeDeletedButNotRead:
            try await aTokenThatExpiredTenSecondsAgoCanStillBeDeletedButNotRead()
        case .anotherUsersTokensAreInvisible: try await anotherUsersTokensAreInvisible()
        case .expiringListsOnlyTokensWithinTheWindow: try await expiringListsOnlyTokensWithinTheWindow()
        case .theWindowFollowsTheConfiguredLifetime: try await theWindowFollowsTheConfiguredLifetime()
        case .expiringIsParsedLoosely: try await expiringIsParsedLoosely()
        case .anonymousCallsAre401InQuaysShape: try await anonymousCallsAre401InQuaysShape()
        case .badRequestsAre400AndUnknownUUIDs404: try await badRequestsAre400AndUnknownUUIDs404()
        case .theAppTokenAuthenticatesAsBasicDollarApp: try await theAppTokenAuthenticatesAsBasicDollarApp()
        case .lastAccessedRecordsUseAtMostOnceAMinute: try await lastAccessedRecordsUseAtMostOnceAMinute()
        case .anAppTokenNeedsTheUserAdminScopeToManageTokens: try await anAppTokenNeedsTheUserAdminScopeToManageTokens()
        case .garbageCollectionDeletesTokensADayAfterExpiry: try await garbageCollectionDeletesTokensADayAfterExpiry()
        case .withRecoveryTurnedOffReadingOmitsTheCode: try await withRecoveryTurnedOffReadingOmitsTheCode()
        case .expirationExtensionAcceptsAnRFC3339Instant: try await expirationExtensionAcceptsAnRFC3339Instant()
        case .administratorsListEveryonesTokensWithoutCodes: try await administratorsListEveryonesTokensWithoutCodes()
        case .otherMethodsAre405: try await otherMethodsAre405()
        }
    }

    let clock = ManualClock(Date(timeIntervalSince1970: 1_761_073_259))  // Tue, 21 Oct 2025 19:00:59 UTC
    let services: LatchkeyServices
    let sam: User
    let kim: User
    let samSession: String
    let kimSession: String

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

    func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    func basic(_ username: String, _ password: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()]
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    /// Creates a token through the API and answers its JSON object.
    func create(
        _ client: some TestClientProtocol, as token: String, _ body: String = #"{"title": "t"}"#
    ) async throws -> [String: Any] {
        try await client.execute(
            uri: "/api/v1/user/apptoken", method: .post, headers: bearer(token), body: ByteBuffer(string: body)
        ) { response in
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            return try #require(try json(response)["token"] as? [String: Any])
        }
    }

    func list(_ client: some TestClientProtocol, as token: String, query: String = "") async throws -> [String: Any] {
        try await client.execute(uri: "/api/v1/user/apptoken\(query)", method: .get, headers: bearer(token)) {
            response in
            #expect(response.status == .ok)
            return try json(response)
        }
    }

    func uuids(_ listing: [String: Any]) -> [String] {
        (listing["tokens"] as? [[String: Any]] ?? []).compactMap { $0["uuid"] as? String }
    }

    func createListReadDeleteRoundTrip() async throws {
        try await app().test(.router) { client in
            let token = try await create(client, as: samSession, #"{"title": "my token"}"#)
            let uuid = try #require(token["uuid"] as? String)
            let code = try #require(token["token_code"] as? String)
            #expect(UUID(uuidString: uuid) != nil && uuid == uuid.lowercased())
            #expect(token["title"] as? String == "my token")
            #expect(token["created"] as? String == "Tue, 21 Oct 2025 19:00:59 -0000")
            #expect(token["last_accessed"] is NSNull)
            #expect(token["expiration"] is NSNull)

            let listing = try await list(client, as: samSession)
            #expect(uuids(listing) == [uuid])
            #expect(listing["only_expiring"] is NSNull)
            #expect((listing["tokens"] as? [[String: Any]])?.allSatisfy { $0["token_code"] == nil } == true)
            #expect(
                uuids(try await list(client, as: samSession, query: "?expiring=True")) == [],
                "never-expiring is not expiring")

            try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(samSession)) {
                response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect((body["token"] as? [String: Any])?["token_code"] as? String == code)
            }
            try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .delete, headers: bearer(samSession))
            {
                response in
                #expect(response.status == .noContent)
                #expect(response.body.readableBytes == 0)
            }
            #expect(uuids(try await list(client, as: samSession)) == [])
            try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(samSession)) {
                response in
                #expect(response.status == .notFound)
            }
        }
    }

    func aTokenThatExpiredTenSecondsAgoCanStillBeDeletedButNotRead() async throws {
        try await app().test(.router) { client in
            let uuid = try #require(
                try await create(client, as: samSession, #"{"title": "t", "expiration": 60}"#)["uuid"] as? String)
            clock.advance(by: 70)
            #expect(uuids(try await list(client, as: samSession)) == [uuid], "listed until garbage collection")
            try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(samSession)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/user/apptoken/\(uuid)", method: .delete, headers: bearer(samSession))
            {
                #expect($0.status == .noContent)
            }
            #expect(try await services.tokens.find(uuid: UUID(uuidString: uuid)!) == nil, "a hard delete")
        }
    }

    func anotherUsersTokensAreInvisible() async throws {
        try await app().test(.router) { client in
            let samUUID = try #require(try await create(client, as: samSession)["uuid"] as? String)
            let kimUUID = try #require(try await create(client, as: kimSession)["uuid"] as? String)
            #expect(uuids(try await list(client, as: samSession)) == [samUUID])
            #expect(uuids(try await list(client, as: kimSession)) == [kimUUID])
            for method in [HTTPRequest.Method.get, .delete] {
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(kimUUID)", method: method, headers: bearer(samSession)
                ) {
                    response in
                    #expect(response.status == .notFound)
                    let body = try json(response)
                    #expect(body["error_type"] as? String == "not_found")
                }
            }
            #expect(try await services.tokens.find(uuid: UUID(uuidString: kimUUID)!) != nil)
        }
    }

    func expiringListsOnlyTokensWithinTheWindow() async throws {
        try await app().test(.router) { client in
            let soon = try #require(
                try await create(client, as: samSession, #"{"title": "a", "expiration": 60}"#)["uuid"] as? String)
            _ = try await create(client, as: samSession, #"{"title": "b", "expiration": 2592000}"#)
            let edge = try #require(
                try await create(client, as: samSession, #"{"title": "c", "expiration": 241920}"#)["uuid"] as? String)
            let beyond = try #require(
                try await create(client, as: samSession, #"{"title": "d", "expiration": 241921}"#)["uuid"] as? String)
            _ = try await create(client, as: samSession)
            let expiring = try await list(client, as: samSession, query: "?expiring=true")
            #expect(uuids(expiring) == [soon, edge], "window: 10% of 4 weeks = 241920 s, inclusive")
            #expect(expiring["only_expiring"] as? Bool == true)

            clock.advance(by: 61)
            #expect(
                uuids(try await list(client, as: samSession, query: "?expiring=1")) == [edge, beyond],
                "expired is not expiring; the window moved with the clock")
        }
    }

    func theWindowFollowsTheConfiguredLifetime() async throws {
        let configuration = ServerConfiguration(appTokenLifetime: 30 * 86_400)
        try await app(configuration).test(.router) { client in
            let token = try await create(client, as: samSession)
            #expect(token["expiration"] as? String == "Thu, 20 Nov 2025 19:00:59 -0000", "the default lifetime applies")
            let uuid = try #require(token["uuid"] as? String)
            #expect(uuids(try await list(client, as: samSession, query: "?expiring=true")) == [])
            clock.advance(by: 27 * 86_400)
            #expect(
                uuids(try await list(client, as: samSession, query: "?expiring=true")) == [uuid], "3 days before expiry"
            )
        }
    }

    func expiringIsParsedLoosely() async throws {
        let cases: [(String, Bool)] = [
            ("false", false), ("False", false), ("FALSE", false), ("0", false), ("", false), ("null", false),
            ("true", true), ("yes", true), ("fAlse", true), ("2", true),
        ]
        try await app().test(.router) { client in
            for (value, expected) in cases {
                let listing = try await list(client, as: samSession, query: "?expiring=\(value)")
                #expect(listing["only_expiring"] as? Bool == expected, "expiring=\(value)")
            }
        }
    }

    func anonymousCallsAre401InQuaysShape() async throws {
        try await app().test(.router) { client in
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
                    #expect((body["type"] as? String)?.hasSuffix("/api/v1/error/invalid_token") == true)
                    #expect(body["status"] as? Int == 401)
                }
            }
            try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer("lk_not_a_token")) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    func badRequestsAre400AndUnknownUUIDs404() async throws {
        try await app().test(.router) { client in
            for body in [
                "{}", #"{"title": 5}"#, "[1]", "not json", #"{"title": "t", "expiration": -1}"#,
                #"{"title": "t", "expiration": "2000-01-01T00:00:00Z"}"#, #"{"title": "t", "scopes": "x"}"#,
                #"{"title": "\#(String(repeating: "x", count: 256))"}"#, #"{"title": "t", "scopes": ["two words"]}"#,
            ] {
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: bearer(samSession),
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let body = try json(response)
                    #expect(body["error_type"] as? String == "invalid_request")
                }
            }
            #expect(uuids(try await list(client, as: samSession)) == [], "nothing was created")
            for method in [HTTPRequest.Method.get, .delete] {
                try await client.execute(
                    uri: "/api/v1/user/apptoken/someuuid", method: method, headers: bearer(samSession)
                ) {
                    #expect($0.status == .notFound)
                }
            }
        }
    }

    func theAppTokenAuthenticatesAsBasicDollarApp() async throws {
        try await app().test(.router) { client in
            let code = try #require(try await create(client, as: samSession)["token_code"] as? String)
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

    func lastAccessedRecordsUseAtMostOnceAMinute() async throws {
        try await app().test(.router) { client in
            let token = try await create(client, as: samSession, #"{"title": "t", "scopes": ["user:admin"]}"#)
            let code = try #require(token["token_code"] as? String)
            let uuid = try #require(token["uuid"] as? String)
            func lastAccessed() async throws -> Any? {
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(samSession)
                ) {
                    (try json($0)["token"] as? [String: Any])?["last_accessed"]
                }
            }
            #expect(try await lastAccessed() is NSNull)
            clock.advance(by: 5)
            try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) {
                #expect($0.status == .ok)
            }
            #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:01:04 -0000")
            clock.advance(by: 30)
            try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) { _ in }
            #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:01:04 -0000")
            clock.advance(by: 30)
            try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer(code)) {
                #expect($0.status == .ok)
            }
            #expect(try await lastAccessed() as? String == "Tue, 21 Oct 2025 19:02:04 -0000")
        }
    }

    func anAppTokenNeedsTheUserAdminScopeToManageTokens() async throws {
        try await app().test(.router) { client in
            let plain = try #require(try await create(client, as: samSession)["token_code"] as? String)
            let admin = try #require(
                try await create(client, as: samSession, #"{"title": "a", "scopes": ["user:admin"]}"#)["token_code"]
                    as? String)
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
            #expect(uuids(try await list(client, as: admin)).count == 2)
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

    func garbageCollectionDeletesTokensADayAfterExpiry() async throws {
        try await app().test(.router) { client in
            let uuid = try #require(
                try await create(client, as: samSession, #"{"title": "t", "expiration": 3600}"#)["uuid"] as? String)
            let keeper = try #require(try await create(client, as: samSession)["uuid"] as? String)
            clock.advance(by: 3600 + 86_400)
            #expect(try await services.tokens.deleteExpired(grace: 86_400) == 0)
            #expect(uuids(try await list(client, as: samSession)) == [uuid, keeper])
            clock.advance(by: 1)
            #expect(try await services.tokens.deleteExpired(grace: 86_400) == 1)
            #expect(uuids(try await list(client, as: samSession)) == [keeper])
        }
    }

    func withRecoveryTurnedOffReadingOmitsTheCode() async throws {
        let plain = LatchkeyServices(
            storage: services.storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock)
        try await app(services: plain).test(.router) { client in
            let token = try await create(client, as: samSession)
            #expect(token["token_code"] is String, "the create response always shows the new code")
            try await client.execute(
                uri: "/api/v1/user/apptoken/\(token["uuid"]!)", method: .get, headers: bearer(samSession)
            ) {
                response in
                #expect(response.status == .ok)
                let shown = try #require(try json(response)["token"] as? [String: Any])
                #expect(shown["token_code"] == nil)
                #expect(shown["uuid"] as? String == token["uuid"] as? String)
            }
        }
    }

    func expirationExtensionAcceptsAnRFC3339Instant() async throws {
        try await app().test(.router) { client in
            let token = try await create(
                client, as: samSession, #"{"title": "t", "expiration": "2025-10-22T19:00:59.5Z"}"#)
            #expect(token["expiration"] as? String == "Wed, 22 Oct 2025 19:00:59 -0000")
        }
    }

    func administratorsListEveryonesTokensWithoutCodes() async throws {
        try await app().test(.router) { client in
            let samUUID = try #require(try await create(client, as: samSession)["uuid"] as? String)
            let kimUUID = try #require(try await create(client, as: kimSession)["uuid"] as? String)
            try await client.execute(uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(kimSession)) {
                response in
                #expect(response.status == .ok)
                let tokens = try #require(try json(response)["tokens"] as? [[String: Any]])
                #expect(tokens.compactMap { $0["uuid"] as? String } == [samUUID, kimUUID])
                #expect(tokens.compactMap { $0["owner"] as? String } == ["sam", "kim"])
                #expect(tokens.allSatisfy { $0["token_code"] == nil })
            }
            try await client.execute(uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(samSession)) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/superuser/apptokens", method: .get) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    func otherMethodsAre405() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/user/apptoken", method: .put, headers: bearer(samSession)) {
                response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, POST")
                let body = try json(response)
                #expect(body["status"] as? Int == 405)
            }
        }
    }
}
