import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Walks the authorization table of docs/security.md through the real router on each backend:
/// every route, with no credentials, sessions and app tokens of every relevant scope,
/// of an ordinary user and of an administrator.
@Suite("Authorization table", .serialized)
struct AuthorizationTableTests {
    enum Caller: String, CaseIterable, Sendable {
        case anonymous
        case samSession, samApp, samAccountAdmin
        case kimSession, kimAccountAdmin, kimSuperuser
    }

    struct Fixture {
        let services: LatchkeyServices
        let sam: User
        let kim: User
        let secrets: [Caller: String]

        init(storage: any LatchkeyStorage) async throws {
            services = LatchkeyServices(
                storage: storage, secretBox: SecretBox(key: .init(size: .bits256)), hasher: fastPasswordHasher,
                clock: ManualClock())
            sam = try await makeUser(storage, "sam")
            kim = try await makeUser(storage, "kim", isAdmin: true)
            let tokens = services.tokens
            func make(_ user: User, _ kind: TokenKind, _ scopes: [String]) async throws -> String {
                let expiry: TokenRequest.Expiry = kind == .session ? .sliding(86_400) : .never
                return try await tokens.create(
                    for: user, TokenRequest(kind: kind, scopes: scopes, expiry: expiry), by: .cli
                )
                .secret.value
            }
            secrets = [
                .samSession: try await make(sam, .session, []),
                .samApp: try await make(sam, .app, ["repo:read"]),
                .samAccountAdmin: try await make(sam, .app, ["user:admin"]),
                .kimSession: try await make(kim, .session, []),
                .kimAccountAdmin: try await make(kim, .app, ["user:admin"]),
                .kimSuperuser: try await make(kim, .app, ["superuser"]),
            ]
        }

        func owner(of caller: Caller) -> User { caller.rawValue.hasPrefix("kim") ? kim : sam }

        func headers(_ caller: Caller) -> HTTPFields {
            secrets[caller].map { [.authorization: "Bearer \($0)"] } ?? [:]
        }

        /// A fresh app token of the caller's user, for the calls that name a token.
        func target(of caller: Caller) async throws -> IssuedToken {
            try await services.tokens.create(
                for: owner(of: caller), TokenRequest(kind: .app, title: "target"), by: .cli)
        }
    }

    struct Row: Sendable {
        let route: String
        let method: HTTPRequest.Method
        let uri: @Sendable (IssuedToken) -> String
        var body: String = ""
        var contentType = "application/json"
        let expected: [Caller: HTTPResponse.Status]
    }

    /// Statuses for the common shapes of the table.
    static func allowing(
        _ allowed: Set<Caller>, ok: HTTPResponse.Status, anonymous: HTTPResponse.Status, denied: HTTPResponse.Status
    ) -> [Caller: HTTPResponse.Status] {
        Dictionary(
            uniqueKeysWithValues: Caller.allCases.map { caller in
                (caller, caller == .anonymous ? anonymous : allowed.contains(caller) ? ok : denied)
            })
    }

    static let managers: Set<Caller> = [.samSession, .samAccountAdmin, .kimSession, .kimAccountAdmin]
    static let sessions: Set<Caller> = [.samSession, .kimSession]
    static let everyToken = Set(Caller.allCases).subtracting([.anonymous])

    static let rows: [Row] = [
        Row(
            route: "GET /api/tokens/", method: .get, uri: { _ in "/api/tokens/" },
            expected: allowing(managers, ok: .ok, anonymous: .forbidden, denied: .forbidden)),
        Row(
            route: "POST /api/tokens/ (the request's own credentials)", method: .post, uri: { _ in "/api/tokens/" },
            expected: allowing(sessions, ok: .created, anonymous: .forbidden, denied: .forbidden)),
        Row(
            route: "GET /api/tokens/{id}/", method: .get, uri: { "/api/tokens/\($0.token.key)/" },
            expected: allowing(managers, ok: .ok, anonymous: .notFound, denied: .forbidden)),
        Row(
            route: "DELETE /api/tokens/{id}/", method: .delete, uri: { "/api/tokens/\($0.token.key)/" },
            expected: allowing(managers, ok: .noContent, anonymous: .notFound, denied: .forbidden)),
        Row(
            route: "GET /api/tokens/{secret}/", method: .get, uri: { "/api/tokens/\($0.secret.value)/" },
            expected: allowing(everyToken, ok: .ok, anonymous: .ok, denied: .ok)),
        Row(
            route: "DELETE /api/tokens/{secret}/", method: .delete, uri: { "/api/tokens/\($0.secret.value)/" },
            expected: allowing(everyToken, ok: .noContent, anonymous: .noContent, denied: .noContent)),
        Row(
            route: "GET /api/users/me", method: .get, uri: { _ in "/api/users/me" },
            expected: allowing(everyToken, ok: .ok, anonymous: .forbidden, denied: .forbidden)),
        Row(
            route: "GET /api/v1/user/apptoken", method: .get, uri: { _ in "/api/v1/user/apptoken" },
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "POST /api/v1/user/apptoken", method: .post, uri: { _ in "/api/v1/user/apptoken" },
            body: #"{"title": "made by the table"}"#,
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "GET /api/v1/user/apptoken/{uuid}", method: .get,
            uri: { "/api/v1/user/apptoken/\($0.token.uuid.uuidString.lowercased())" },
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "DELETE /api/v1/user/apptoken/{uuid}", method: .delete,
            uri: { "/api/v1/user/apptoken/\($0.token.uuid.uuidString.lowercased())" },
            expected: allowing(managers, ok: .noContent, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "GET /api/v1/superuser/apptokens", method: .get, uri: { _ in "/api/v1/superuser/apptokens" },
            expected: allowing([.kimSession, .kimSuperuser], ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "GET /api/v1/user/", method: .get, uri: { _ in "/api/v1/user/" },
            expected: allowing(everyToken, ok: .ok, anonymous: .unauthorized, denied: .unauthorized)),
        Row(
            route: "GET /v1/tokens", method: .get, uri: { _ in "/v1/tokens" },
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "POST /v1/tokens", method: .post, uri: { _ in "/v1/tokens" },
            body: #"{"title": "made by the table"}"#,
            expected: allowing(managers, ok: .created, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "GET /v1/tokens/{uuid}", method: .get,
            uri: { "/v1/tokens/\($0.token.uuid.uuidString.lowercased())" },
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "PATCH /v1/tokens/{uuid}", method: .patch,
            uri: { "/v1/tokens/\($0.token.uuid.uuidString.lowercased())" }, body: #"{"title": "renamed"}"#,
            expected: allowing(managers, ok: .ok, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "POST /v1/tokens/{uuid}/rotate", method: .post,
            uri: { "/v1/tokens/\($0.token.uuid.uuidString.lowercased())/rotate" },
            expected: allowing(managers, ok: .created, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "DELETE /v1/tokens/{uuid}", method: .delete,
            uri: { "/v1/tokens/\($0.token.uuid.uuidString.lowercased())" },
            expected: allowing(managers, ok: .noContent, anonymous: .unauthorized, denied: .forbidden)),
        Row(
            route: "GET /v1/tokens/self", method: .get, uri: { _ in "/v1/tokens/self" },
            expected: allowing(everyToken, ok: .ok, anonymous: .unauthorized, denied: .unauthorized)),
        // Every app token may rotate itself (with an overlap, so that it still works for the
        // check after the walk); a session is renewed by signing in instead.
        Row(
            route: "POST /v1/tokens/self/rotate", method: .post, uri: { _ in "/v1/tokens/self/rotate" },
            body: #"{"overlap": "1h"}"#,
            expected: allowing(
                everyToken.subtracting(sessions), ok: .created, anonymous: .unauthorized, denied: .badRequest)),
        Row(
            route: "POST /oauth/introspect (service clients only)", method: .post, uri: { _ in "/oauth/introspect" },
            body: "token=x", contentType: "application/x-www-form-urlencoded",
            expected: allowing([], ok: .ok, anonymous: .unauthorized, denied: .unauthorized)),
        Row(
            route: "POST /api/v1/tokens/leaked", method: .post, uri: { _ in "/api/v1/tokens/leaked" }, body: "[]",
            expected: allowing(everyToken, ok: .accepted, anonymous: .accepted, denied: .accepted)),
        Row(
            route: "GET /healthz", method: .get, uri: { _ in "/healthz" },
            expected: allowing(everyToken, ok: .ok, anonymous: .ok, denied: .ok)),
    ]

    @Test(arguments: TestBackend.available)
    func everyRouteAnswersEveryCallerAsTheTableSays(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage: storage)
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: fixture.services))
            try await app.test(.router) { client in
                for row in Self.rows {
                    for caller in Caller.allCases {
                        let target = try await fixture.target(of: caller)
                        var headers = fixture.headers(caller)
                        headers[.contentType] = row.contentType
                        let status = try await client.execute(
                            uri: row.uri(target), method: row.method, headers: headers,
                            body: ByteBuffer(string: row.body)
                        ) { $0.status }
                        #expect(status == row.expected[caller], "\(row.route) as \(caller)")
                    }
                }
                // Every caller's own token still works: nothing in the walk revoked one.
                for caller in Caller.allCases where caller != .anonymous {
                    let status = try await client.execute(
                        uri: "/api/users/me", method: .get, headers: fixture.headers(caller)
                    ) { $0.status }
                    #expect(status == .ok, "\(caller)")
                }
            }
        }
    }

    /// The `/v1/webhooks` rows: sessions only. An administrator's session manages every endpoint
    /// (here an ordinary user's); an ordinary user's session its own, and never an operator's.
    @Test(arguments: TestBackend.available)
    func webhookRoutesAnswerEveryCallerAsTheTableSays(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let fixture = try await Fixture(storage: storage)
            let webhooks = fixture.services.webhooks
            let operatorEndpoint = try await webhooks.create(
                url: "https://hooks.example.org/all", events: ["*"], owner: nil, description: nil, by: .cli
            ).0
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: fixture.services))
            try await app.test(.router) { client in
                for caller in Caller.allCases {
                    let mine = try await webhooks.create(
                        url: "https://hooks.example.org/sam", events: ["*"], owner: fixture.sam.id, description: nil,
                        by: .cli
                    ).0
                    let id = mine.uuid.uuidString.lowercased()
                    let routes: [(String, HTTPRequest.Method, String, String, HTTPResponse.Status)] = [
                        ("GET /v1/webhooks", .get, "/v1/webhooks", "", .ok),
                        (
                            "POST /v1/webhooks", .post, "/v1/webhooks",
                            #"{"url": "https://hooks.example.org/new", "events": ["token.created"]}"#, .created
                        ),
                        ("GET /v1/webhooks/{id}", .get, "/v1/webhooks/\(id)", "", .ok),
                        ("PATCH /v1/webhooks/{id}", .patch, "/v1/webhooks/\(id)", #"{"disabled": true}"#, .ok),
                        ("POST /v1/webhooks/{id}/rotate-secret", .post, "/v1/webhooks/\(id)/rotate-secret", "", .ok),
                        ("GET /v1/webhooks/{id}/deliveries", .get, "/v1/webhooks/\(id)/deliveries", "", .ok),
                        (
                            "POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver", .post,
                            "/v1/webhooks/\(id)/deliveries/999/redeliver", "", .notFound
                        ),
                        ("DELETE /v1/webhooks/{id}", .delete, "/v1/webhooks/\(id)", "", .noContent),
                    ]
                    for (route, method, uri, body, allowed) in routes {
                        var headers = fixture.headers(caller)
                        headers[.contentType] = "application/json"
                        let status = try await client.execute(
                            uri: uri, method: method, headers: headers, body: ByteBuffer(string: body)
                        ) { $0.status }
                        let expected: HTTPResponse.Status =
                            caller == .anonymous ? .unauthorized : Self.sessions.contains(caller) ? allowed : .forbidden
                        #expect(status == expected, "\(route) as \(caller)")
                    }
                }
                // An ordinary user's session cannot see or change an operator's endpoint.
                for method in [HTTPRequest.Method.get, .delete] {
                    let status = try await client.execute(
                        uri: "/v1/webhooks/\(operatorEndpoint.uuid.uuidString.lowercased())", method: method,
                        headers: fixture.headers(.samSession)
                    ) { $0.status }
                    #expect(status == .notFound)
                }
                #expect(try await webhooks.endpoint(uuid: operatorEndpoint.uuid) != nil)
            }
        }
    }

    @Test func theRequirementsAreTheOnesTheSecurityPageNames() {
        #expect(Operation.manageWebhooks.requirement == .session)
        #expect(Operation.manageTokens.requirement == .scope("user:admin"))
        #expect(Operation.listAllTokens.requirement == .administrator(scope: "superuser"))
        #expect(Operation.mintSession.requirement == .session)
        #expect(Operation.usePages.requirement == .session)
        #expect(Operation.administer.requirement == .administrator(scope: "superuser"))
        #expect(Operation.readAccount.requirement == .anyToken)
        #expect(Operation.useOwnToken.requirement == .anyToken)
        for operation in [Operation.signIn, .presentSecret, .reportLeak, .operations] {
            #expect(operation.requirement == .nothing)
        }
    }
}
