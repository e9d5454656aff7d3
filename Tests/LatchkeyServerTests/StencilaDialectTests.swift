import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Stencila Hub's token API (`/api/tokens/`, `/api/users/me`) through the real router and a
/// real database of each backend, with a manual clock: the lines of contract/stencila.md, with
/// the exact messages and shapes Hub's clients read. Every expected value is the one just made.
@Suite("Stencila Hub tokens", .serialized)
struct StencilaDialectTests {
    @Test("A session's lifetime is shortened to the longest the policy allows", arguments: TestBackend.available)
    func aSessionsLifetimeIsShortenedToThePolicy(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend, tokenLimits: TokenLimits(maxLifetime: [.session: 86_400])) {
            fixture, client in
            let created = try await fixture.signIn(client)
            #expect(created.expiry == "2027-01-16T08:00:00.250000Z", "a day, not the configured seven")
        }
    }

    @Test("A token without an expiry sends no expiry header", arguments: TestBackend.available)
    func aTokenWithoutExpirySendsNoExpiryHeader(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let issued = try await fixture.services.tokens.create(for: fixture.sam, TokenRequest(kind: .app), by: .cli)
            let me = try await send(client, "/api/users/me", headers: tokenHeader(issued.secret.value))
            #expect(me.status == .ok)
            #expect(me.headers[HTTPField.Name("Latchkey-Token-Expires")!] == nil)
        }
    }

    @Test(
        "Signing in with a username or email and a password answers a new session token",
        arguments: TestBackend.available)
    func signingInAnswersANewSessionToken(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let response = try await fixture.post(client, #"{"username": "sam", "password": "sam-password"}"#)
            #expect(response.status == .created)
            #expect(
                try keys(response) == ["token", "id", "created", "expiry", "user", "username", "firstName", "lastName"])
            let created = try decode(HubCreatedToken.self, response)
            #expect(TokenSecret(created.token) != nil)
            #expect(created.id == String(created.token.prefix(8)), "the id is the token's first 8 characters")
            #expect(created.created == "2027-01-15T08:00:00.250000Z")
            #expect(created.expiry == "2027-01-22T08:00:00.250000Z", "seven days")
            #expect(created.user == fixture.sam.id)
            #expect(created.username == "sam")
            #expect(created.firstName == "Sam")
            #expect(created.lastName == "Tester")

            let me = try await send(client, "/api/users/me", headers: tokenHeader(created.token))
            #expect(me.status == .ok)
            #expect(try decode(HubMe.self, me).id == fixture.sam.id, "the new token authenticates as sam")
            #expect(me.headers[HTTPField.Name("Latchkey-Token-Expires")!] == created.expiry, "when it stops working")

            // The email signs in too (ignoring case); form-encoded and multipart bodies; no trailing slash.
            let boundary = "latchkey-boundary"
            let multipart = [
                "--\(boundary)", #"Content-Disposition: form-data; name="username""#, "", "sam",
                "--\(boundary)", #"Content-Disposition: form-data; name="password""#, "", "sam-password",
                "--\(boundary)--", "",
            ].joined(separator: "\r\n")
            let others: [(uri: String, contentType: String, body: String)] = [
                ("/api/tokens/", "application/json", #"{"username": "SAM@example.ORG", "password": "sam-password"}"#),
                ("/api/tokens/", "application/x-www-form-urlencoded", "username=sam&password=sam-password"),
                ("/api/tokens/", "multipart/form-data; boundary=\(boundary)", multipart),
                ("/api/tokens", "application/json", #"{"username": "sam", "password": "sam-password"}"#),
            ]
            var secrets: Set = [created.token]
            for other in others {
                let response = try await fixture.post(
                    client, other.body, uri: other.uri, contentType: other.contentType)
                #expect(response.status == .created, "\(other.uri) \(other.contentType)")
                let another = try decode(HubCreatedToken.self, response)
                #expect(another.user == fixture.sam.id, "\(other.contentType)")
                secrets.insert(another.token)
            }

            // Without username and password, a valid token on the request mints a new one for its user.
            let minted = try await fixture.post(client, "", headers: tokenHeader(created.token))
            #expect(minted.status == .created)
            let mintedToken = try decode(HubCreatedToken.self, minted)
            #expect(mintedToken.user == fixture.sam.id)
            secrets.insert(mintedToken.token)
            #expect(secrets.count == 6, "every sign-in made a token of its own")
            #expect(try await fixture.services.tokens.count(TokenQuery(ownerID: fixture.sam.id)) == 6)
        }
    }

    @Test(
        "Wrong or missing credentials are 403 with Hub's messages, and make no token", arguments: TestBackend.available)
    func wrongOrMissingCredentialsAre403(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            for body in [
                #"{"username": "sam", "password": "wrong"}"#, #"{"username": "nobody", "password": "sam-password"}"#,
                #"{"username": "kim", "password": "sam-password"}"#,
            ] {
                try expectHubError(
                    try await fixture.post(client, body), .forbidden, "Incorrect authentication credentials.")
            }
            for body in ["", "{}", #"{"username": "sam"}"#, #"{"password": "sam-password"}"#] {
                try expectHubError(
                    try await fixture.post(client, body), .forbidden, "Authentication credentials were not provided.")
            }
            // An ID token is read before anything else about it is checked.
            try expectHubError(
                try await fixture.post(client, #"{"openid": "bar"}"#), .badRequest, "Bad token: Not enough segments")
            #expect(try await fixture.services.tokens.count(TokenQuery()) == 0)
        }
    }

    @Test("Invalid input is 400 with the fields' errors", arguments: TestBackend.available)
    func invalidInputIs400WithTheFieldsErrors(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let cases: [(body: String, errors: [HubError.FieldError])] = [
                (
                    #"{"username": "sam", "password": ""}"#,
                    [.init(field: "password", message: "This field may not be blank.")]
                ),
                (
                    #"{"username": "  ", "password": "x", "openid": ""}"#,
                    [
                        .init(field: "username", message: "This field may not be blank."),
                        .init(field: "openid", message: "This field may not be blank."),
                    ]
                ),
                (
                    #"{"username": null, "password": true}"#,
                    [
                        .init(field: "username", message: "This field may not be null."),
                        .init(field: "password", message: "Not a valid string."),
                    ]
                ),
                (
                    "[1]",
                    [.init(field: "non_field_errors", message: "Invalid data. Expected a dictionary, but got list.")]
                ),
            ]
            for (body, errors) in cases {
                try expectHubError(try await fixture.post(client, body), .badRequest, "Invalid input.", errors: errors)
            }
            try expectHubError(
                try await fixture.post(client, "not json"), .badRequest,
                "JSON parse error - the body is not valid JSON.")
            #expect(try await fixture.services.tokens.count(TokenQuery()) == 0)
        }
    }

    @Test("The list shows the caller's tokens, a limit/offset page at a time", arguments: TestBackend.available)
    func theListShowsTheCallersTokensPageByPage(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            var created: [HubCreatedToken] = []
            for _ in 0..<3 {
                created.append(try await fixture.signIn(client))
                fixture.clock.advance(by: 1)
            }
            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(7 * 86_400)), by: .cli)
            // The first token lists three seconds after it was made: a stored expiry is rewritten
            // only when it moves by more than a minute, so the list shows each as created.
            let all = created.map { HubToken(user: $0.user, id: $0.id, created: $0.created, expiry: $0.expiry) }
            let caller = tokenHeader(created[0].token)
            let base = "http://127.0.0.1:8080/api/tokens/"
            let pages: [(query: String, page: HubTokenPage)] = [
                ("", HubTokenPage(count: 3, next: nil, previous: nil, results: all)),
                (
                    "?limit=1&offset=1",
                    HubTokenPage(
                        count: 3, next: base + "?limit=1&offset=2", previous: base + "?limit=1", results: [all[1]])
                ),
                (
                    "?limit=2",
                    HubTokenPage(count: 3, next: base + "?limit=2&offset=2", previous: nil, results: [all[0], all[1]])
                ),
                (
                    "?limit=2&offset=2",
                    HubTokenPage(count: 3, next: nil, previous: base + "?limit=2", results: [all[2]])
                ),
                ("?limit=0&offset=-5", HubTokenPage(count: 3, next: nil, previous: nil, results: all)),
                ("?offset=3", HubTokenPage(count: 3, next: nil, previous: base + "?limit=50", results: [])),
            ]
            for (query, page) in pages {
                let response = try await send(client, "/api/tokens/" + query, headers: caller)
                #expect(response.status == .ok, "\(query)")
                #expect(try keys(response) == ["count", "next", "previous", "results"], "\(query)")
                #expect(try decode(HubTokenPage.self, response) == page, "\(query)")
            }
            // Without the trailing slash, the links name the URL as it was asked for.
            let bare = try await send(client, "/api/tokens?limit=2", headers: caller)
            #expect(
                try decode(HubTokenPage.self, bare)
                    == HubTokenPage(
                        count: 3, next: "http://127.0.0.1:8080/api/tokens?limit=2&offset=2", previous: nil,
                        results: [all[0], all[1]]))
            // Kim sees only kim's.
            let kimsPage = try await send(client, "/api/tokens/", headers: tokenHeader(kims.secret.value))
            #expect(
                try decode(HubTokenPage.self, kimsPage)
                    == HubTokenPage(
                        count: 1, next: nil, previous: nil,
                        results: [
                            HubToken(
                                user: fixture.kim.id, id: kims.token.key, created: "2027-01-15T08:00:03.250000Z",
                                expiry: "2027-01-22T08:00:03.250000Z")
                        ]))
            try expectHubError(
                try await send(client, "/api/tokens/"), .forbidden, "Authentication credentials were not provided.")
        }
    }

    @Test("Expired tokens stay listed, and a use moves a session's expiry", arguments: TestBackend.available)
    func expiredTokensStayListedAndUseMovesTheExpiry(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let session = try await fixture.signIn(client)
            let shortLived = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            fixture.clock.advance(by: 120)
            let response = try await send(client, "/api/tokens/", headers: tokenHeader(session.token))
            #expect(response.status == .ok)
            #expect(
                try decode(HubTokenPage.self, response)
                    == HubTokenPage(
                        count: 2, next: nil, previous: nil,
                        results: [
                            HubToken(
                                user: fixture.sam.id, id: session.id, created: session.created,
                                expiry: "2027-01-22T08:02:00.250000Z"),
                            HubToken(
                                user: fixture.sam.id, id: shortLived.token.key, created: "2027-01-15T08:00:00.250000Z",
                                expiry: "2027-01-15T08:01:00.250000Z"),
                        ]))
            try expectHubError(
                try await send(client, "/api/users/me", headers: tokenHeader(shortLived.secret.value)), .forbidden,
                "Invalid token.")
        }
    }

    @Test(
        "A token is retrieved and refreshed by its secret, or by its id by its owner", arguments: TestBackend.available)
    func aTokenIsRetrievedBySecretOrByIDByItsOwner(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let first = try await fixture.signIn(client)
            fixture.clock.advance(by: 120)
            // Holding the token is the proof: no other credentials needed. Retrieving it is a use.
            for uri in ["/api/tokens/\(first.token)/", "/api/tokens/\(first.token)"] {
                let response = try await send(client, uri)
                #expect(response.status == .ok, "\(uri)")
                #expect(try keys(response) == ["user", "id", "created", "expiry"])
                #expect(
                    try decode(HubToken.self, response)
                        == HubToken(
                            user: fixture.sam.id, id: first.id, created: first.created,
                            expiry: "2027-01-22T08:02:00.250000Z"))
            }

            let second = try await fixture.signIn(client)
            fixture.clock.advance(by: 120)
            let byID = try await send(client, "/api/tokens/\(second.id)/", headers: tokenHeader(first.token))
            #expect(byID.status == .ok)
            #expect(
                try decode(HubToken.self, byID)
                    == HubToken(
                        user: fixture.sam.id, id: second.id, created: second.created,
                        expiry: "2027-01-22T08:04:00.250000Z"))

            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            let misses: [(uri: String, headers: HTTPFields)] = [
                ("/api/tokens/\(second.id)/", [:]),
                ("/api/tokens/\(second.id)/", tokenHeader(kims.secret.value)),
                ("/api/tokens/foo/", [:]),
                ("/api/tokens/foo/", tokenHeader(first.token)),
                ("/api/tokens/\(TokenSecret.generate().value)/", [:]),
            ]
            for miss in misses {
                try expectHubError(try await send(client, miss.uri, headers: miss.headers), .notFound, "Not found.")
            }
            let expiring = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            fixture.clock.advance(by: 61)
            for uri in ["/api/tokens/\(expiring.secret.value)/", "/api/tokens/\(expiring.token.key)/"] {
                try expectHubError(
                    try await send(client, uri, headers: tokenHeader(first.token)), .notFound, "Not found.")
            }
        }
    }

    @Test("Deleting a token is 204, and it no longer authenticates", arguments: TestBackend.available)
    func deletingATokenIs204AndItNoLongerAuthenticates(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            var created: [HubCreatedToken] = []
            for _ in 0..<3 { created.append(try await fixture.signIn(client)) }
            let (first, second, third) = (created[0], created[1], created[2])

            // By its secret, with no other credentials.
            let deleted = try await send(client, "/api/tokens/\(first.token)/", method: .delete)
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            try expectHubError(
                try await send(client, "/api/users/me", headers: tokenHeader(first.token)), .forbidden, "Invalid token."
            )
            try expectHubError(try await send(client, "/api/tokens/\(first.token)/"), .notFound, "Not found.")
            try expectHubError(
                try await send(client, "/api/tokens/\(first.token)/", method: .delete), .notFound, "Not found.")

            // By its id, by its owner.
            let byID = try await send(
                client, "/api/tokens/\(second.id)/", method: .delete, headers: tokenHeader(third.token))
            #expect(byID.status == .noContent)
            #expect(byID.body.readableBytes == 0)
            try expectHubError(
                try await send(client, "/api/users/me", headers: tokenHeader(second.token)), .forbidden,
                "Invalid token.")

            // Nobody else's id, and no id without credentials.
            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            for headers in [tokenHeader(kims.secret.value), [:]] {
                try expectHubError(
                    try await send(client, "/api/tokens/\(third.id)/", method: .delete, headers: headers), .notFound,
                    "Not found.")
            }
            try expectHubError(try await send(client, "/api/tokens/foo/", method: .delete), .notFound, "Not found.")

            let left = try await send(client, "/api/tokens/", headers: tokenHeader(third.token))
            #expect(
                try decode(HubTokenPage.self, left)
                    == HubTokenPage(
                        count: 1, next: nil, previous: nil,
                        results: [
                            HubToken(user: third.user, id: third.id, created: third.created, expiry: third.expiry)
                        ]
                    ))
        }
    }

    @Test("/api/users/me names the token's user, for Token and Basic credentials", arguments: TestBackend.available)
    func usersMeNamesTheTokensUser(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let session = try await fixture.signIn(client)
            let sam = HubMe(
                id: fixture.sam.id, username: "sam", firstName: "Sam", lastName: "Tester", displayName: "Sam Tester",
                personalAccount: .init(id: fixture.sam.id, tier: 1), dateJoined: "2027-01-15T08:00:00.250000Z",
                lastLogin: nil, emailAddresses: [], linkedAccounts: [])
            for authorization in [
                "Token \(session.token)", "token \(session.token)", "TOKEN  \(session.token)",
                basicHeader("\(session.token):"), basicHeader(session.token),
            ] {
                let response = try await send(client, "/api/users/me", headers: [.authorization: authorization])
                #expect(response.status == .ok, "\(authorization.prefix(6))")
                #expect(
                    try keys(response) == [
                        "id", "username", "firstName", "lastName", "displayName", "personalAccount", "dateJoined",
                        "lastLogin", "emailAddresses", "linkedAccounts",
                    ])
                #expect(try decode(HubMe.self, response) == sam, "\(authorization.prefix(6))")
            }
            try expectHubError(
                try await send(client, "/api/users/me"), .forbidden, "Authentication credentials were not provided.")

            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            try await fixture.services.accounts.setActive(fixture.kim, false, by: .cli)
            try expectHubError(
                try await send(client, "/api/users/me", headers: tokenHeader(kims.secret.value)), .forbidden,
                "User inactive or deleted.")
        }
    }

    @Test(
        "Unreadable or invalid Authorization headers are 403 with knox's messages, everywhere",
        arguments: TestBackend.available)
    func unreadableAuthorizationHeadersAre403Everywhere(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let failures: [(authorization: String, message: String)] = [
                ("Token", "Invalid token header. No credentials provided."),
                ("Token a b", "Invalid token header. Token string should not contain spaces."),
                ("Token fake-token", "Invalid token."),
                ("Token \(TokenSecret.generate().value)", "Invalid token."),
                ("Basic", "Invalid Basic authorization header. No credentials provided."),
                ("Basic a b", "Invalid Basic authorization header. Credentials string should not contain spaces."),
                ("Basic //////", "Invalid Basic authorization header. Credentials not correctly base64 encoded."),
                (
                    basicHeader("username:password"),
                    "Basic authorization with a password is not allowed; use an API token instead."
                ),
                (basicHeader("fake-token"), "Invalid token."),
            ]
            let signIn = #"{"username": "sam", "password": "sam-password"}"#
            for (authorization, message) in failures {
                let headers: HTTPFields = [.authorization: authorization]
                // Even where no authentication is needed: signing in, retrieving by secret.
                try expectHubError(
                    try await fixture.post(client, signIn, headers: headers), .forbidden, message)
                try expectHubError(
                    try await send(client, "/api/tokens/\(TokenSecret.generate().value)/", headers: headers),
                    .forbidden, message)
                try expectHubError(try await send(client, "/api/tokens/", headers: headers), .forbidden, message)
                try expectHubError(try await send(client, "/api/users/me", headers: headers), .forbidden, message)
            }
            #expect(try await fixture.services.tokens.count(TokenQuery()) == 0)
        }
    }

    @Test("Other methods are 405 with Allow", arguments: TestBackend.available)
    func otherMethodsAre405WithAllow(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let id = try await fixture.signIn(client).id
            let refusals: [(uri: String, method: HTTPRequest.Method, allow: String)] = [
                ("/api/tokens/", .put, "GET, POST"), ("/api/tokens/", .delete, "GET, POST"),
                ("/api/tokens", .patch, "GET, POST"),
                ("/api/tokens/\(id)/", .put, "GET, DELETE"), ("/api/tokens/\(id)/", .post, "GET, DELETE"),
                ("/api/tokens/\(id)/", .patch, "GET, DELETE"),
                ("/api/users/me", .post, "GET"), ("/api/users/me", .delete, "GET"),
            ]
            for refusal in refusals {
                let response = try await send(client, refusal.uri, method: refusal.method)
                try expectHubError(
                    response, .methodNotAllowed, "Method \"\(refusal.method.rawValue)\" not allowed.")
                #expect(response.headers[.allow] == refusal.allow, "\(refusal.method) \(refusal.uri)")
            }
        }
    }
}

/// sam (with a password and an email) and kim, on a fresh database, with a clock that
/// moves only when told to, and the real router.
private struct StencilaFixture {
    /// 15 January 2027, 08:00:00.25 UTC: a start with microseconds, which Hub shows.
    static let start = Date(timeIntervalSince1970: 1_800_000_000.25)

    let clock = ManualClock(StencilaFixture.start)
    let services: LatchkeyServices
    let sam: User
    let kim: User

    /// Runs `body` with a fixture on a new, empty database of `backend`'s kind.
    static func run(
        on backend: TestBackend, tokenLimits: TokenLimits = .server,
        _ body: @Sendable @escaping (StencilaFixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await backend.withStorage { storage in
            let fixture = try await StencilaFixture(storage: storage, tokenLimits: tokenLimits)
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: fixture.services))
            try await app.test(.router) { client in try await body(fixture, client) }
        }
    }

    init(storage: any LatchkeyStorage, tokenLimits: TokenLimits = .server) async throws {
        services = LatchkeyServices(
            storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock, tokenLimits: tokenLimits)
        sam = try await makeUser(storage, "sam", email: "sam@example.org", password: "sam-password", clock: clock)
        kim = try await makeUser(storage, "kim", email: "kim@example.org", password: "kim-password", clock: clock)
    }

    /// `POST /api/tokens/`.
    func post(
        _ client: some TestClientProtocol, _ body: String, uri: String = "/api/tokens/",
        contentType: String = "application/json", headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = contentType
        return try await send(client, uri, method: .post, headers: headers, body: body)
    }

    /// Signs sam in with his password: the new token, as the answer shows it.
    func signIn(_ client: some TestClientProtocol) async throws -> HubCreatedToken {
        let response = try await post(client, #"{"username": "sam", "password": "sam-password"}"#)
        try #require(response.status == .created, "\(String(buffer: response.body))")
        return try decode(HubCreatedToken.self, response)
    }
}

/// `POST /api/tokens/`'s answer: the secret, shown this once.
private struct HubCreatedToken: Decodable, Equatable {
    var token: String
    var id: String
    var created: String
    var expiry: String?
    var user: Int64
    var username: String
    var firstName: String
    var lastName: String
}

/// A token as Hub lists and retrieves it.
private struct HubToken: Decodable, Equatable {
    var user: Int64
    var id: String
    var created: String
    var expiry: String?
}

/// Django REST Framework's limit/offset page.
private struct HubTokenPage: Decodable, Equatable {
    var count: Int
    var next: String?
    var previous: String?
    var results: [HubToken]
}

/// Hub's `Me`.
private struct HubMe: Decodable, Equatable {
    struct PersonalAccount: Decodable, Equatable {
        var id: Int64
        var tier: Int
    }

    var id: Int64
    var username: String
    var firstName: String
    var lastName: String
    var displayName: String
    var personalAccount: PersonalAccount
    var dateJoined: String
    var lastLogin: String?
    var emailAddresses: [String]
    var linkedAccounts: [String]
}

/// Hub's error body.
private struct HubError: Decodable, Equatable {
    struct FieldError: Decodable, Equatable {
        var field: String
        var message: String
    }

    var message: String
    var errors: [FieldError]?
}

private func send(
    _ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:],
    body: String? = nil
) async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
        $0
    }
}

private func tokenHeader(_ token: String) -> HTTPFields { [.authorization: "Token \(token)"] }

private func basicHeader(_ credentials: String) -> String {
    "Basic " + Data(credentials.utf8).base64EncodedString()
}

private func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(type, from: Data(buffer: response.body))
}

/// The keys of the response's JSON object: the shape, nulls included.
private func keys(_ response: TestResponse) throws -> Set<String> {
    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
    return Set(try #require(object, "\(String(buffer: response.body))").keys)
}

/// A failure in Hub's shape: `{"message": ...}`, with `errors` only where fields are named.
private func expectHubError(
    _ response: TestResponse, _ status: HTTPResponse.Status, _ message: String,
    errors: [HubError.FieldError]? = nil, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status == status, "\(message)", sourceLocation: sourceLocation)
    #expect(
        try decode(HubError.self, response) == HubError(message: message, errors: errors),
        sourceLocation: sourceLocation)
    #expect(
        try keys(response) == (errors == nil ? ["message"] : ["message", "errors"]), sourceLocation: sourceLocation)
}
