import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

@Suite("Prometheus metrics")
struct MetricsTests {
    @Test func requestsVerificationsLoginsAndTokensAreCountedWithoutSecrets() async throws {
        try await withSQLiteStorage { storage in
            let services = LatchkeyServices(storage: storage, secretBox: nil, hasher: fastPasswordHasher)
            try await makeUser(storage, "sam", password: "sam-password")
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
            let (secret, scrape): (String, String) = try await app.test(.router) { client in
                let login = #"{"username": "sam", "password": "sam-password"}"#
                let secret = try await client.execute(
                    uri: "/api/tokens/", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: login)
                ) { response in
                    let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    return body?["token"] as? String ?? ""
                }
                let wrong = #"{"username": "sam", "password": "nope"}"#
                _ = try await client.execute(
                    uri: "/api/tokens/", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: wrong))
                _ = try await client.execute(uri: "/api/tokens/\(secret)/", method: .get)
                _ = try await client.execute(
                    uri: "/api/users/me", method: .get, headers: [.authorization: "Token lk_bad"])
                _ = try await client.execute(uri: "/api/tokens/\(secret)/", method: .delete)
                let scrape = try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                    return String(buffer: response.body)
                }
                return (secret, scrape)
            }
            func value(_ series: String) -> Double? {
                scrape.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap {
                    Double($0.split(separator: " ").last!)
                }
            }
            #expect(value(#"latchkey_logins_total{method="password",outcome="success"}"#) == 1)
            #expect(value(#"latchkey_logins_total{method="password",outcome="failure"}"#) == 1)
            // Presenting the secret in the path is a use, to retrieve it and to delete it.
            #expect(value(#"latchkey_token_verifications_total{outcome="valid"}"#) == 2)
            #expect(value(#"latchkey_token_verifications_total{outcome="malformed"}"#) == 1)
            #expect(value(#"latchkey_tokens_created_total{kind="session"}"#) == 1)
            #expect(value(#"latchkey_tokens_revoked_total{reason="revoked"}"#) == 1)
            #expect(value(#"http_requests_total{route="/api/tokens",method="POST",status="201"}"#) == 1)
            #expect(value(#"http_requests_total{route="/api/tokens",method="POST",status="403"}"#) == 1)
            #expect(value(#"http_requests_total{route="/api/tokens/{token}",method="GET",status="200"}"#) == 1)
            #expect(scrape.contains("http_request_duration_seconds_bucket"))
            #expect(TokenSecret(secret) != nil, "the sign-in answered a token")
            #expect(!scrape.contains(secret) && !scrape.contains(String(secret.prefix(8))))
            #expect(!scrape.contains("sam"), "no username in any label")
        }
    }

    @Test func eachRefusalOfAStoredTokenIsAnOutcomeOfItsOwn() async throws {
        try await withSQLiteStorage { storage in
            let clock = ManualClock()
            let services = LatchkeyServices(
                storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock)
            let sam = try await makeUser(storage, "sam")
            let tokens = services.tokens
            let once = try await tokens.create(for: sam, TokenRequest(kind: .app, maxUses: 1), by: .cli)
            let fenced = try await tokens.create(
                for: sam, TokenRequest(kind: .app, allowedIPs: [try CIDR("10.0.0.0/8")]), by: .cli)
            let rotated = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)
            _ = try await tokens.rotate(rotated.token, RotationRequest(), grantedBy: .account, by: .cli)
            let brief = try await tokens.create(for: sam, TokenRequest(kind: .app, expiry: .after(60)), by: .cli)
            clock.advance(by: 60)
            for secret in [once, once, fenced, rotated, brief].map(\.secret.value) {
                _ = try await tokens.verify(secret, clientIP: "192.0.2.1")
            }
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
            let scrape = try await app.test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            }
            for outcome in ["valid", "exhausted", "address_not_allowed", "rotated_away", "expired"] {
                #expect(scrape.contains(#"latchkey_token_verifications_total{outcome="\#(outcome)"} 1"#), "\(outcome)")
            }
        }
    }
}
