import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// The third security round, through the real router on each backend: answers carrying a
/// secret are never cached, a secret in the path is verified as a use, reserved scopes are
/// administrators' alone, and labels people read hold no control or format characters.
@Suite("Secrets and scopes on the wire", .serialized, .removingScratchDirectories)
struct SecretsAndScopesOnTheWireTests {
    struct Fixture {
        let clock = ManualClock()
        let storage: any LatchkeyStorage
        let services: LatchkeyServices
        let sam: User
        let kim: User
        /// Sam's and Kim's (an administrator's) sign-in sessions.
        let samSession: String
        let kimSession: String

        static func run(
            on backend: TestBackend, tokenLimits: TokenLimits = .server,
            _ body: @Sendable @escaping (Fixture, any TestClientProtocol) async throws -> Void
        ) async throws {
            try await backend.withStorage { storage in
                let fixture = try await Fixture(storage: storage, tokenLimits: tokenLimits)
                let app = Application(
                    router: buildRouter(configuration: ServerConfiguration(), services: fixture.services))
                try await app.test(.router) { client in try await body(fixture, client) }
            }
        }

        init(storage: any LatchkeyStorage, tokenLimits: TokenLimits) async throws {
            self.storage = storage
            services = LatchkeyServices(
                storage: storage, secretBox: SecretBox(key: .init(size: .bits256)), hasher: fastPasswordHasher,
                clock: clock, tokenLimits: tokenLimits)
            sam = try await makeUser(storage, "sam", password: "correct horse")
            kim = try await makeUser(storage, "kim", isAdmin: true)
            let session = TokenRequest(kind: .session, expiry: .sliding(86_400))
            samSession = try await services.tokens.create(for: sam, session, by: .cli).secret.value
            kimSession = try await services.tokens.create(for: kim, session, by: .cli).secret.value
        }

        func app(_ scopes: [String] = [], of owner: User? = nil) async throws -> IssuedToken {
            try await services.tokens.create(for: owner ?? sam, TokenRequest(kind: .app, scopes: scopes), by: .cli)
        }
    }

    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, as secret: String? = nil,
        body: String = ""
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let secret { headers[.authorization] = "Bearer \(secret)" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: body)) {
            ($0.status, $0.headers, String(buffer: $0.body))
        }
    }

    /// Every answer that carries a token's or a webhook's secret, in every dialect.
    @Test(arguments: TestBackend.available)
    func everyAnswerCarryingASecretSaysNoStore(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            let recoverable = try await fixture.services.tokens.create(
                for: fixture.sam, TokenRequest(kind: .app, recoverable: true), by: .cli)
            let rotatable = try await fixture.app()
            let itself = try await fixture.app(["user:admin"])
            let webhook = try #require(
                try? JSONSerialization.jsonObject(
                    with: Data(
                        try await Self.call(
                            client, .post, "/v1/webhooks", as: fixture.kimSession,
                            body: #"{"url": "https://hooks.example.org/x", "events": ["*"]}"#
                        ).body.utf8)) as? [String: Any])
            let webhookID = try #require(webhook["id"] as? String)
            let rows: [(route: String, method: HTTPRequest.Method, uri: String, as: String?, body: String)] = [
                ("Stencila sign-in", .post, "/api/tokens/", nil, #"{"username": "sam", "password": "correct horse"}"#),
                ("Stencila new session", .post, "/api/tokens/", fixture.samSession, ""),
                ("Quay create", .post, "/api/v1/user/apptoken", fixture.samSession, #"{"title": "laptop"}"#),
                (
                    "Quay read with token_code", .get, "/api/v1/user/apptoken/\(recoverable.token.uuid)",
                    fixture.samSession, ""
                ),
                ("/v1 create", .post, "/v1/tokens", fixture.samSession, #"{"title": "deploy"}"#),
                ("/v1 rotate", .post, "/v1/tokens/\(rotatable.token.uuid)/rotate", fixture.samSession, "{}"),
                ("/v1 rotate itself", .post, "/v1/tokens/self/rotate", itself.secret.value, "{}"),
                ("/v1 webhook secret", .post, "/v1/webhooks/\(webhookID)/rotate-secret", fixture.kimSession, ""),
            ]
            for row in rows {
                let answer = try await Self.call(client, row.method, row.uri, as: row.as, body: row.body)
                #expect(answer.status.kind == .successful, "\(row.route): \(answer.status)")
                #expect(answer.body.contains("lk_") || answer.body.contains("whsec_"), "\(row.route) shows a secret")
                #expect(answer.headers[.cacheControl] == "no-store", "\(row.route)")
            }
        }
    }

    /// `DELETE /api/tokens/{secret}/` verifies the secret as `GET` does: a token rotated away
    /// is reuse, recorded and answered by policy, and a thief cannot delete the evidence.
    @Test(arguments: TestBackend.available)
    func deletingARotatedAwayTokenByItsSecretIsRefusedAsReuse(backend: TestBackend) async throws {
        for onReuse in ReuseResponse.allCases {
            try await Fixture.run(on: backend, tokenLimits: TokenLimits(onReuse: onReuse)) { fixture, client in
                let old = try await fixture.app()
                let new = try await fixture.services.tokens.rotate(
                    old.token, RotationRequest(), grantedBy: .account, by: .cli)

                let deleted = try await Self.call(client, .delete, "/api/tokens/\(old.secret.value)/")
                #expect(deleted.status == .notFound)
                #expect(deleted.body.contains("Not found."), "\(deleted.body)")
                #expect(try await fixture.storage.token(uuid: old.token.uuid) != nil, "the evidence stays")
                let reuses = try await fixture.storage.events(AuditQuery(kind: .tokenReuseDetected))
                #expect(reuses.map(\.tokenUUID) == [old.token.uuid])
                let successor = try await fixture.storage.token(uuid: new.token.uuid)
                #expect((successor == nil) == (onReuse == .revokeFamily), "\(onReuse)")
            }
        }
    }

    /// `superuser` (always) and the scopes the operator reserves, in every place that creates
    /// a token: only an administrator's tokens hold them.
    @Test(arguments: TestBackend.available)
    func reservedScopesAreRefusedToOtherAccountsInEachDialect(backend: TestBackend) async throws {
        var limits = TokenLimits.server
        limits = TokenLimits(
            maxLivePerUser: limits.maxLivePerUser, creationRate: limits.creationRate, reservedScopes: ["org:admin"])
        try await Fixture.run(on: backend, tokenLimits: limits) { fixture, client in
            for scope in ["superuser", "org:admin"] {
                let v1 = try await Self.call(
                    client, .post, "/v1/tokens", as: fixture.samSession, body: #"{"scopes": ["\#(scope)"]}"#)
                #expect(v1.status == .forbidden)
                #expect(v1.body.contains("insufficient_grant") && v1.body.contains("'\(scope)'"), "\(v1.body)")
                let quay = try await Self.call(
                    client, .post, "/api/v1/user/apptoken", as: fixture.samSession,
                    body: #"{"title": "t", "scopes": ["\#(scope)"]}"#)
                #expect(quay.status == .forbidden)
                #expect(quay.body.contains("insufficient_scope"), "\(quay.body)")
                let admins = try await Self.call(
                    client, .post, "/v1/tokens", as: fixture.kimSession, body: #"{"scopes": ["\#(scope)"]}"#)
                #expect(admins.status == .created, "\(admins.body)")
            }
            #expect(try await fixture.storage.tokens(TokenQuery(ownerID: fixture.sam.id, kind: .app)).isEmpty)
        }
    }

    /// A token that gave itself `superuser` before reserved scopes were enforced: introspection
    /// no longer tells a relying service that it holds it.
    @Test(arguments: TestBackend.available)
    func introspectionReportsAReservedScopeOnlyForAnAdministratorsToken(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            let (serviceClient, clientSecret) = try await fixture.services.clients.create(name: "registry")
            let secret = TokenSecret.generate()
            _ = try await fixture.storage.insertToken(
                NewToken(
                    uuid: UUID(), key: secret.key, ownerID: fixture.sam.id, title: "old", kind: .app,
                    scopes: ["repo:read", "superuser"], created: fixture.clock.now, expires: nil, slidingLifetime: nil,
                    digest: secret.digest, sealedSecret: nil))
            let admins = try await fixture.app(["repo:read", "superuser"], of: fixture.kim)
            for (token, scope) in [(secret.value, "repo:read"), (admins.secret.value, "repo:read superuser")] {
                let answer = try await client.execute(
                    uri: "/oauth/introspect", method: .post,
                    headers: [
                        .authorization: "Basic "
                            + Data("\(serviceClient.clientID):\(clientSecret)".utf8).base64EncodedString(),
                        .contentType: "application/x-www-form-urlencoded",
                    ], body: ByteBuffer(string: "token=\(token)")
                ) { try JSONSerialization.jsonObject(with: Data(buffer: $0.body)) as? [String: Any] }
                #expect(answer?["scope"] as? String == scope)
            }
        }
    }

    /// Bidirectional overrides, zero-width characters and line separators would spoof what
    /// the CLI, the pages and webhook payloads show: refused in every label, in each dialect.
    @Test(arguments: TestBackend.available)
    func labelsWithFormatCharactersAreRefusedInEachDialect(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            let existing = try await fixture.app()
            for spoof in ["invoice\u{202E}fdp.exe", "a\u{2066}b", "zero\u{200B}width", "line\u{2028}break"] {
                let json = String(decoding: try JSONEncoder().encode(spoof), as: UTF8.self)
                let calls: [(String, HTTPRequest.Method, String, String, String)] = [
                    ("/v1 title", .post, "/v1/tokens", fixture.samSession, #"{"title": \#(json)}"#),
                    (
                        "/v1 rename", .patch, "/v1/tokens/\(existing.token.uuid)", fixture.samSession,
                        #"{"title": \#(json)}"#
                    ),
                    ("/v1 metadata key", .post, "/v1/tokens", fixture.samSession, #"{"metadata": {\#(json): 1}}"#),
                    ("Quay title", .post, "/api/v1/user/apptoken", fixture.samSession, #"{"title": \#(json)}"#),
                    (
                        "webhook description", .post, "/v1/webhooks", fixture.kimSession,
                        #"{"url": "https://hooks.example.org/x", "events": ["*"], "description": \#(json)}"#
                    ),
                ]
                for (field, method, uri, secret, body) in calls {
                    let answer = try await Self.call(client, method, uri, as: secret, body: body)
                    #expect(answer.status == .badRequest, "\(field) \(spoof.unicodeScalars.map(\.value))")
                }
            }
            #expect(try await fixture.storage.tokens(TokenQuery(ownerID: fixture.sam.id, kind: .app)).count == 1)
            #expect(try await fixture.storage.token(uuid: existing.token.uuid)?.title == nil)
        }
    }
}
