import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

// What the Stencila dialect's suites share: a fixture, and Hub's answers as its clients read them.

/// sam (with a password and an email) and kim, on a fresh database, with a clock that
/// moves only when told to, and the real router.
struct StencilaFixture {
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
        return try await sendToHub(client, uri, method: .post, headers: headers, body: body)
    }

    /// Signs sam in with his password: the new token, as the answer shows it.
    func signIn(_ client: some TestClientProtocol) async throws -> HubCreatedToken {
        let response = try await post(client, #"{"username": "sam", "password": "sam-password"}"#)
        try #require(response.status == .created, "\(String(buffer: response.body))")
        return try decodeHub(HubCreatedToken.self, response)
    }
}

/// `POST /api/tokens/`'s answer: the secret, shown this once.
struct HubCreatedToken: Decodable, Equatable {
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
struct HubToken: Decodable, Equatable {
    var user: Int64
    var id: String
    var created: String
    var expiry: String?
}

/// Django REST Framework's limit/offset page.
struct HubTokenPage: Decodable, Equatable {
    var count: Int
    var next: String?
    var previous: String?
    var results: [HubToken]
}

/// Hub's `Me`.
struct HubMe: Decodable, Equatable {
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
struct HubError: Decodable, Equatable {
    struct FieldError: Decodable, Equatable {
        var field: String
        var message: String
    }

    var message: String
    var errors: [FieldError]?
}

func sendToHub(
    _ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:],
    body: String? = nil
) async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
        $0
    }
}

func hubTokenHeader(_ token: String) -> HTTPFields { [.authorization: "Token \(token)"] }

func hubBasicHeader(_ credentials: String) -> String {
    "Basic " + Data(credentials.utf8).base64EncodedString()
}

func decodeHub<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(type, from: Data(buffer: response.body))
}

/// The keys of the response's JSON object: the shape, nulls included.
func hubKeys(_ response: TestResponse) throws -> Set<String> {
    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
    return Set(try #require(object, "\(String(buffer: response.body))").keys)
}

/// A failure in Hub's shape: `{"message": ...}`, with `errors` only where fields are named.
func expectHubError(
    _ response: TestResponse, _ status: HTTPResponse.Status, _ message: String,
    errors: [HubError.FieldError]? = nil, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status == status, "\(message)", sourceLocation: sourceLocation)
    #expect(
        try decodeHub(HubError.self, response) == HubError(message: message, errors: errors),
        sourceLocation: sourceLocation)
    #expect(
        try hubKeys(response) == (errors == nil ? ["message"] : ["message", "errors"]), sourceLocation: sourceLocation)
}
