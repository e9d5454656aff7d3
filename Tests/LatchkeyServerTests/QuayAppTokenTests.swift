import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Quay's app-token API through the real router and a real database of each
/// backend, with a manual clock for expiry. Each test names the contract line it proves.
/// Who may call the API, and how a call authenticates, is in QuayAppTokenAccessTests.swift.
@Suite("Quay app tokens", .serialized)
struct QuayAppTokenTests {
    @Test("Create, list, read and delete an app token", arguments: TestBackend.available)
    func createListReadDeleteRoundTrip(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let token = try await create(client, as: fixture.samSession, #"{"title": "my token"}"#)
                let uuid = token.uuid
                let code = try #require(token.tokenCode)
                #expect(UUID(uuidString: uuid) != nil && uuid == uuid.lowercased())
                #expect(token.title == "my token")
                #expect(token.created == "Tue, 21 Oct 2025 19:00:59 -0000")
                #expect(token.nullFields.contains("last_accessed"))
                #expect(token.nullFields.contains("expiration"))

                let listing = try await list(client, as: fixture.samSession)
                #expect(uuids(listing) == [uuid])
                #expect(listing.nullFields.contains("only_expiring"))
                #expect(listing.tokens.allSatisfy { !$0.fieldNames.contains("token_code") })
                #expect(
                    uuids(try await list(client, as: fixture.samSession, query: "?expiring=True")) == [],
                    "never-expiring is not expiring")

                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let body = try decode(QuayTokenEnvelope.self, response)
                    #expect(body.token.tokenCode == code)
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
                let uuid = try await create(client, as: fixture.samSession, #"{"title": "t", "expiration": 60}"#).uuid
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

    @Test("expiring=true lists only the tokens within the window", arguments: TestBackend.available)
    func expiringListsOnlyTokensWithinTheWindow(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let soon = try await create(client, as: fixture.samSession, #"{"title": "a", "expiration": 60}"#).uuid
                _ = try await create(client, as: fixture.samSession, #"{"title": "b", "expiration": 2592000}"#)
                let edge = try await create(
                    client, as: fixture.samSession, #"{"title": "c", "expiration": 241920}"#
                ).uuid
                let beyond = try await create(
                    client, as: fixture.samSession, #"{"title": "d", "expiration": 241921}"#
                ).uuid
                _ = try await create(client, as: fixture.samSession)
                let expiring = try await list(client, as: fixture.samSession, query: "?expiring=true")
                #expect(uuids(expiring) == [soon, edge], "window: 10% of 4 weeks = 241920 s, inclusive")
                #expect(expiring.onlyExpiring == true)

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
                #expect(token.expiration == "Thu, 20 Nov 2025 19:00:59 -0000", "the default lifetime applies")
                let uuid = token.uuid
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
                    #expect(listing.onlyExpiring == expected, "expiring=\(value)")
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
                        let error = try decode(QuayErrorAnswer.self, response)
                        #expect(error.errorType == "invalid_request")
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

    @Test("Garbage collection deletes tokens a day after they expire", arguments: TestBackend.available)
    func garbageCollectionDeletesTokensADayAfterExpiry(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let uuid = try await create(
                    client, as: fixture.samSession, #"{"title": "t", "expiration": 3600}"#
                ).uuid
                let keeper = try await create(client, as: fixture.samSession).uuid
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
                #expect(token.tokenCode != nil, "the create response always shows the new code")
                try await client.execute(
                    uri: "/api/v1/user/apptoken/\(token.uuid)", method: .get, headers: bearer(fixture.samSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let shown = try decode(QuayTokenEnvelope.self, response).token
                    #expect(!shown.fieldNames.contains("token_code"))
                    #expect(shown.uuid == token.uuid)
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
                #expect(token.expiration == "Wed, 22 Oct 2025 19:00:59 -0000")
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
                    let error = try decode(QuayErrorAnswer.self, response)
                    #expect(error.errorType == "invalid_request")
                    #expect(error.detail == "on this server an app token may live at most 1d")
                }
                // No expiration asked, and the server's default (none) is beyond policy: a day.
                let token = try await create(client, as: fixture.samSession)
                #expect(token.expiration == "Wed, 22 Oct 2025 19:00:59 -0000")
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
                    let error = try decode(QuayErrorAnswer.self, response)
                    #expect(error.status == 405)
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

// MARK: Quay's answers, and the calls both files of this suite make

extension QuayAppTokenTests {
    /// An app token as Quay shows it: `token_code` only where Quay shows the secret, `owner`
    /// only in the administrators' listing; `last_accessed` and `expiration` are null when unset.
    struct QuayTokenAnswer: Decodable {
        var uuid: String
        var title: String
        var created: String
        var lastAccessed: String?
        var expiration: String?
        var tokenCode: String?
        var owner: String?

        enum CodingKeys: String, CodingKey {
            case uuid, title, created, expiration, owner
            case lastAccessed = "last_accessed"
            case tokenCode = "token_code"
        }
    }

    /// `{"token": …}`: the answer to a creation or a read.
    struct QuayTokenEnvelope: Decodable {
        var token: Shaped<QuayTokenAnswer>
    }

    /// A listing, the caller's own or the administrators'.
    struct QuayTokenListing: Decodable {
        var tokens: [Shaped<QuayTokenAnswer>]
        var onlyExpiring: Bool?

        enum CodingKeys: String, CodingKey {
            case tokens
            case onlyExpiring = "only_expiring"
        }
    }

    /// `GET /api/v1/user/`: the current user.
    struct QuayUserAnswer: Decodable {
        var anonymous: Bool
        var username: String
        var email: String?
        var verified: Bool
    }

    /// An error in Quay's shape.
    struct QuayErrorAnswer: Decodable {
        var detail: String
        var errorMessage: String
        var errorType: String
        var title: String
        var type: String
        var status: Int

        enum CodingKeys: String, CodingKey {
            case detail, title, type, status
            case errorMessage = "error_message"
            case errorType = "error_type"
        }
    }

    func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    func basic(_ username: String, _ password: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()]
    }

    /// The response's body, decoded as `type`.
    func decode<Answer: Decodable>(_ type: Answer.Type, _ response: TestResponse) throws -> Answer {
        try JSONDecoder().decode(type, from: Data(buffer: response.body))
    }

    /// Creates a token through the API and answers it.
    func create(
        _ client: some TestClientProtocol, as token: String, _ body: String = #"{"title": "t"}"#
    ) async throws -> Shaped<QuayTokenAnswer> {
        try await client.execute(
            uri: "/api/v1/user/apptoken", method: .post, headers: bearer(token), body: ByteBuffer(string: body)
        ) { response in
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            return try decode(QuayTokenEnvelope.self, response).token
        }
    }

    func list(_ client: some TestClientProtocol, as token: String, query: String = "") async throws
        -> Shaped<QuayTokenListing>
    {
        try await client.execute(uri: "/api/v1/user/apptoken\(query)", method: .get, headers: bearer(token)) {
            response in
            #expect(response.status == .ok)
            return try decode(Shaped<QuayTokenListing>.self, response)
        }
    }

    /// The listed tokens' UUIDs, in order.
    func uuids(_ listing: Shaped<QuayTokenListing>) -> [String] { listing.tokens.map { $0.uuid } }
}
