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
            let me = try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(issued.secret.value))
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
                try hubKeys(response) == [
                    "token", "id", "created", "expiry", "user", "username", "firstName", "lastName",
                ])
            let created = try decodeHub(HubCreatedToken.self, response)
            #expect(TokenSecret(created.token) != nil)
            #expect(created.id == String(created.token.prefix(8)), "the id is the token's first 8 characters")
            #expect(created.created == "2027-01-15T08:00:00.250000Z")
            #expect(created.expiry == "2027-01-22T08:00:00.250000Z", "seven days")
            #expect(created.user == fixture.sam.id)
            #expect(created.username == "sam")
            #expect(created.firstName == "Sam")
            #expect(created.lastName == "Tester")

            let me = try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(created.token))
            #expect(me.status == .ok)
            #expect(try decodeHub(HubMe.self, me).id == fixture.sam.id, "the new token authenticates as sam")
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
                let another = try decodeHub(HubCreatedToken.self, response)
                #expect(another.user == fixture.sam.id, "\(other.contentType)")
                secrets.insert(another.token)
            }

            // Without username and password, a valid token on the request mints a new one for its user.
            let minted = try await fixture.post(client, "", headers: hubTokenHeader(created.token))
            #expect(minted.status == .created)
            let mintedToken = try decodeHub(HubCreatedToken.self, minted)
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
            let caller = hubTokenHeader(created[0].token)
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
                let response = try await sendToHub(client, "/api/tokens/" + query, headers: caller)
                #expect(response.status == .ok, "\(query)")
                #expect(try hubKeys(response) == ["count", "next", "previous", "results"], "\(query)")
                #expect(try decodeHub(HubTokenPage.self, response) == page, "\(query)")
            }
            // Without the trailing slash, the links name the URL as it was asked for.
            let bare = try await sendToHub(client, "/api/tokens?limit=2", headers: caller)
            #expect(
                try decodeHub(HubTokenPage.self, bare)
                    == HubTokenPage(
                        count: 3, next: "http://127.0.0.1:8080/api/tokens?limit=2&offset=2", previous: nil,
                        results: [all[0], all[1]]))
            // Kim sees only kim's.
            let kimsPage = try await sendToHub(client, "/api/tokens/", headers: hubTokenHeader(kims.secret.value))
            #expect(
                try decodeHub(HubTokenPage.self, kimsPage)
                    == HubTokenPage(
                        count: 1, next: nil, previous: nil,
                        results: [
                            HubToken(
                                user: fixture.kim.id, id: kims.token.key, created: "2027-01-15T08:00:03.250000Z",
                                expiry: "2027-01-22T08:00:03.250000Z")
                        ]))
            try expectHubError(
                try await sendToHub(client, "/api/tokens/"), .forbidden, "Authentication credentials were not provided."
            )
        }
    }

    @Test("Expired tokens stay listed, and a use moves a session's expiry", arguments: TestBackend.available)
    func expiredTokensStayListedAndUseMovesTheExpiry(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let session = try await fixture.signIn(client)
            let shortLived = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            fixture.clock.advance(by: 120)
            let response = try await sendToHub(client, "/api/tokens/", headers: hubTokenHeader(session.token))
            #expect(response.status == .ok)
            #expect(
                try decodeHub(HubTokenPage.self, response)
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
                try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(shortLived.secret.value)),
                .forbidden,
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
                let response = try await sendToHub(client, uri)
                #expect(response.status == .ok, "\(uri)")
                #expect(try hubKeys(response) == ["user", "id", "created", "expiry"])
                #expect(
                    try decodeHub(HubToken.self, response)
                        == HubToken(
                            user: fixture.sam.id, id: first.id, created: first.created,
                            expiry: "2027-01-22T08:02:00.250000Z"))
            }

            let second = try await fixture.signIn(client)
            fixture.clock.advance(by: 120)
            let byID = try await sendToHub(client, "/api/tokens/\(second.id)/", headers: hubTokenHeader(first.token))
            #expect(byID.status == .ok)
            #expect(
                try decodeHub(HubToken.self, byID)
                    == HubToken(
                        user: fixture.sam.id, id: second.id, created: second.created,
                        expiry: "2027-01-22T08:04:00.250000Z"))

            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            let misses: [(uri: String, headers: HTTPFields)] = [
                ("/api/tokens/\(second.id)/", [:]),
                ("/api/tokens/\(second.id)/", hubTokenHeader(kims.secret.value)),
                ("/api/tokens/foo/", [:]),
                ("/api/tokens/foo/", hubTokenHeader(first.token)),
                ("/api/tokens/\(TokenSecret.generate().value)/", [:]),
            ]
            for miss in misses {
                try expectHubError(
                    try await sendToHub(client, miss.uri, headers: miss.headers), .notFound, "Not found.")
            }
            let expiring = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            fixture.clock.advance(by: 61)
            for uri in ["/api/tokens/\(expiring.secret.value)/", "/api/tokens/\(expiring.token.key)/"] {
                try expectHubError(
                    try await sendToHub(client, uri, headers: hubTokenHeader(first.token)), .notFound, "Not found.")
            }
        }
    }
}
