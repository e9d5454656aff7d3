import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Introspection (RFC 7662), revocation (RFC 7009) and leaked-token reports,
/// through the real router on a real SQLite file, with a manual clock.
@Suite("Service APIs", .removingScratchDirectories)
struct ServiceAPITests {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let services: LatchkeyServices
    let sam: User
    let clientID: String
    let clientSecret: String

    init() async throws {
        let storage = try makeSQLiteStorage()
        services = LatchkeyServices(storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock)
        sam = try await makeUser(storage, "sam")
        let (client, secret) = try await ClientService(storage: storage, clock: clock).create(name: "billing")
        clientID = client.clientID
        clientSecret = secret
    }

    var clientAuth: HTTPFields {
        [
            .authorization: "Basic " + Data("\(clientID):\(clientSecret)".utf8).base64EncodedString(),
            .contentType: "application/x-www-form-urlencoded",
        ]
    }

    func post(
        _ client: some TestClientProtocol, _ uri: String, _ form: String, headers: HTTPFields
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: form)) {
            response in
            let json =
                response.body.readableBytes == 0
                ? [:] : (try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:])
            return (response.status, json)
        }
    }

    func issue(_ request: TokenRequest) async throws -> IssuedToken {
        try await services.tokens.create(for: sam, request, by: .cli)
    }

    @Test func introspectionDescribesALiveTokenAndCountsAsAUse() async throws {
        let issued = try await issue(
            TokenRequest(kind: .app, scopes: ["repo:read", "repo:write"], expiry: .after(3600)))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            let (status, body) = try await post(
                client, "/oauth/introspect", "token=\(issued.secret.value)", headers: clientAuth)
            #expect(status == .ok)
            #expect(body["active"] as? Bool == true)
            #expect(body["scope"] as? String == "repo:read repo:write")
            #expect(body["username"] as? String == "sam")
            #expect(body["sub"] as? String == String(sam.id))
            #expect(body["exp"] as? Int == 1_800_003_600)
            #expect(body["iat"] as? Int == 1_800_000_000)
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["jti"] as? String == issued.token.uuid.uuidString.lowercased())
            #expect(body["client_id"] as? String == "latchkey")
        }
        #expect(try await services.tokens.find(uuid: issued.token.uuid)?.lastUsed == clock.now)
    }

    @Test func introspectionChecksTheAllowlistAgainstTheAddressTheServiceNames() async throws {
        let issued = try await issue(
            TokenRequest(
                kind: .app, expiry: .after(3600), maxUses: 5, allowedIPs: [try CIDR("2001:db8::/32")],
                metadata: #"{"plan":"pro"}"#))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            let token = "token=\(issued.secret.value)"
            let (status, body) = try await post(
                client, "/oauth/introspect", token + "&client_ip=2001:db8::1&client_user_agent=app/1.0",
                headers: clientAuth)
            #expect(status == .ok)
            #expect(body["active"] as? Bool == true)
            #expect(body["uses_remaining"] as? Int == 4)
            #expect((body["metadata"] as? [String: Any])?["plan"] as? String == "pro")
            #expect((body["expires_at"] as? String)?.hasPrefix("2027-01-15T09:00:00") == true)
            let used = try await services.tokens.find(uuid: issued.token.uuid)
            #expect(used?.lastUsedIP == "2001:db8::1")
            #expect(used?.lifecycle.lastUsedAgent == "app/1.0")

            let (_, outside) = try await post(
                client, "/oauth/introspect", token + "&client_ip=192.0.2.1", headers: clientAuth)
            #expect(outside.count == 1 && outside["active"] as? Bool == false)
            // Without client_ip the address checked is the service's own, not in the allowlist.
            let (_, unnamed) = try await post(client, "/oauth/introspect", token, headers: clientAuth)
            #expect(unnamed.count == 1 && unnamed["active"] as? Bool == false)
            let (bad, problem) = try await post(
                client, "/oauth/introspect", token + "&client_ip=not-an-address", headers: clientAuth)
            #expect(bad == .badRequest)
            #expect(problem["error"] as? String == "invalid_request")
        }
    }

    @Test func anythingNotValidIsExactlyInactive() async throws {
        let expired = try await issue(TokenRequest(kind: .app, expiry: .after(60)))
        let revoked = try await issue(TokenRequest(kind: .app))
        try await services.tokens.revoke(revoked.token, by: .cli)
        clock.advance(by: 61)
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            for token in [
                expired.secret.value, revoked.secret.value, "lk_garbage", TokenSecret.generate().value, "%20",
            ] {
                try await client.execute(
                    uri: "/oauth/introspect", method: .post, headers: clientAuth,
                    body: ByteBuffer(string: "token=\(token)&token_type_hint=access_token")
                ) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"active":false}"#)
                }
            }
        }
    }

    @Test func introspectionNeedsAServiceClient() async throws {
        let issued = try await issue(TokenRequest(kind: .app))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        let wrongSecret: HTTPFields = [
            .authorization: "Basic " + Data("\(clientID):wrong".utf8).base64EncodedString()
        ]
        try await app.test(.router) { client in
            for headers in [HTTPFields(), wrongSecret, [.authorization: "Bearer \(issued.secret.value)"]] {
                let (status, body) = try await post(
                    client, "/oauth/introspect", "token=\(issued.secret.value)", headers: headers)
                #expect(status == .unauthorized)
                #expect(body["error"] as? String == "invalid_client")
            }
            let (status, body) = try await post(client, "/oauth/introspect", "nothing=here", headers: clientAuth)
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "invalid_request")
        }
        _ = try await ClientService(storage: services.storage).storage.deleteClient(clientID: clientID)
        try await app.test(.router) { client in
            let (status, _) = try await post(
                client, "/oauth/introspect", "token=\(issued.secret.value)", headers: clientAuth)
            #expect(status == .unauthorized, "a revoked client can no longer introspect")
        }
    }

    /// RFC 6749 §2.3.1's `client_secret_post`, which OAuth libraries (Authlib, oauthlib) offer beside Basic.
    @Test func aClientMayAuthenticateInTheFormBodyInsteadOfBasic() async throws {
        let issued = try await issue(TokenRequest(kind: .app))
        let other = try await issue(TokenRequest(kind: .app))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        let posted = "client_id=\(clientID)&client_secret=\(clientSecret)"
        try await app.test(.router) { client in
            let (status, body) = try await post(
                client, "/oauth/introspect", "token=\(issued.secret.value)&\(posted)", headers: form)
            #expect(status == .ok)
            #expect(body["active"] as? Bool == true)

            let wrong = try await post(
                client, "/oauth/introspect",
                "token=\(issued.secret.value)&client_id=\(clientID)&client_secret=wrong", headers: form)
            #expect(wrong.0 == .unauthorized)
            #expect(wrong.1["error"] as? String == "invalid_client")

            let noSecret = try await post(
                client, "/oauth/introspect", "token=\(issued.secret.value)&client_id=\(clientID)", headers: form)
            #expect(noSecret.0 == .unauthorized, "a client id alone authenticates nothing")

            let both = try await post(
                client, "/oauth/introspect", "token=\(issued.secret.value)&\(posted)", headers: clientAuth)
            #expect(both.0 == .badRequest, "one method per request")
            #expect(both.1["error"] as? String == "invalid_request")

            #expect(
                try await post(client, "/oauth/revoke", "token=\(other.secret.value)&\(posted)", headers: form).0 == .ok
            )
            // A holder revoking its own token may name a (public) client id: still the holder's call.
            let holder: HTTPFields = [
                .authorization: "Bearer \(issued.secret.value)", .contentType: "application/x-www-form-urlencoded",
            ]
            #expect(
                try await post(client, "/oauth/revoke", "token=\(issued.secret.value)&client_id=cli", headers: holder).0
                    == .ok)
        }
        #expect(try await services.tokens.find(uuid: other.token.uuid) == nil, "revoked by the posted client")
        #expect(try await services.tokens.find(uuid: issued.token.uuid) == nil, "revoked by its holder")
    }

    @Test func revocationByAClientOrByTheHolderAlways200() async throws {
        let first = try await issue(TokenRequest(kind: .app))
        let second = try await issue(TokenRequest(kind: .app))
        let other = try await issue(TokenRequest(kind: .app))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { (client: any TestClientProtocol) async throws in
            #expect(
                try await post(client, "/oauth/revoke", "token=\(first.secret.value)", headers: clientAuth).0 == .ok)
            #expect(
                try await post(client, "/oauth/revoke", "token=\(TokenSecret.generate().value)", headers: clientAuth).0
                    == .ok)
            let holder: HTTPFields = [.authorization: "Bearer \(second.secret.value)"]
            #expect(
                try await post(client, "/oauth/revoke", "token=\(other.secret.value)", headers: holder).0
                    == .unauthorized)
            #expect(try await post(client, "/oauth/revoke", "token=\(second.secret.value)", headers: holder).0 == .ok)
        }
        #expect(try await services.tokens.find(uuid: first.token.uuid) == nil)
        #expect(try await services.tokens.find(uuid: second.token.uuid) == nil)
        #expect(try await services.tokens.find(uuid: other.token.uuid)?.id == other.token.id)
    }

    @Test func leakedTokensAreRevokedRecordedAndNotDisclosed() async throws {
        let leaked = try await issue(TokenRequest(kind: .app))
        let kept = try await issue(TokenRequest(kind: .app))
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { client in
            // The URL where it was found may itself carry secrets (the token, a password in the query).
            let report =
                #"[{"token": "\#(leaked.secret.value)", "url": "https://paste.example/x/\#(kept.secret.value)?token=\#(kept.secret.value)&password=hunter2"}, "lk_nope", "\#(TokenSecret.generate().value)"]"#
            let (status, body) = try await post(
                client, "/api/v1/tokens/leaked", report, headers: [.contentType: "application/json"])
            #expect(status == .accepted)
            #expect(body as NSDictionary == ["received": 3] as NSDictionary, "the same answer whatever was valid")
            let (again, _) = try await post(client, "/api/v1/tokens/leaked", "[]", headers: [:])
            #expect(again == .accepted)
            let (tooMany, _) = try await post(
                client, "/api/v1/tokens/leaked",
                "[" + Array(repeating: "\"x\"", count: 1001).joined(separator: ",") + "]",
                headers: [:])
            #expect(tooMany == .badRequest)
            let (notAList, _) = try await post(client, "/api/v1/tokens/leaked", #"{"token": "x"}"#, headers: [:])
            #expect(notAList == .badRequest)
        }
        #expect(try await services.tokens.find(uuid: leaked.token.uuid) == nil)
        #expect(try await services.tokens.find(uuid: kept.token.uuid)?.id == kept.token.id)
        let events = try await services.storage.events(AuditQuery()).filter { $0.kind == "token.leaked" }
        #expect(events.count == 1)
        #expect(events.first?.kind == "token.leaked")
        #expect(events.first?.tokenUUID == leaked.token.uuid)
        let detail = try #require(events.first?.detail)
        #expect(detail.contains("https://paste.example/x/\(kept.secret.key)…[redacted]"), "\(detail)")
        #expect(!detail.contains(leaked.secret.value) && !detail.contains(kept.secret.value))
        #expect(!detail.contains("hunter2"), "the query is not recorded")
    }

    @Test func leakReportsAreRateLimitedPerAddress() async throws {
        let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
        try await app.test(.router) { (client: any TestClientProtocol) async throws in
            for _ in 0..<10 {
                #expect(try await post(client, "/api/v1/tokens/leaked", "[]", headers: [:]).0 == .accepted)
            }
            let retryAfter = try await client.execute(
                uri: "/api/v1/tokens/leaked", method: .post, body: ByteBuffer(string: "[]")
            ) { response in
                #expect(response.status == .tooManyRequests)
                return Int(response.headers[.retryAfter] ?? "") ?? 0
            }
            // The window slides: ten reports at its start leave room for one more 6 s into the next window.
            #expect(retryAfter == 66)
            clock.advance(by: TimeInterval(retryAfter - 1))
            #expect(try await post(client, "/api/v1/tokens/leaked", "[]", headers: [:]).0 == .tooManyRequests)
            clock.advance(by: 1)
            #expect(try await post(client, "/api/v1/tokens/leaked", "[]", headers: [:]).0 == .accepted)
        }
    }
}
