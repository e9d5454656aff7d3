import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import NIOCore
import Testing

/// Signing in on the pages: the sign-in form's own token and where a sign-in may be posted
/// from, and OpenID Connect's authorization-code flow (with the fixture of `WebPagesTests`).
extension WebPagesTests {
    // MARK: The sign-in form's token

    static let signInFields = [("login", "sam"), ("password", "sam-password")]
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    @Test func theSignInFormTokenIsOneTheServerMadeForThisBrowserAndExpires() async throws {
        try await withPages(.sqlite) { _, client in
            // A planted cookie with a field of the planter's choosing: equal, as a plain double
            // submit wants, but no token the server made.
            let planted = Browser(client)
            let chosen = String(repeating: "A", count: 43)
            planted.cookies["latchkey_signin"] = chosen
            let refused = try await planted.post("/signin", Self.signInFields + [("csrf", chosen)])
            #expect(refused.status == .forbidden && refused.errorMessage?.contains("not sent from this site") == true)
            #expect(planted.cookies["latchkey_session"] == nil)

            let browser = Browser(client)
            let token = try #require(try await browser.get("/signin").formToken)
            #expect(token != browser.cookies["latchkey_signin"], "the cookie holds the nonce, not the token")
            // One byte changed: the expiry's last (a later expiry), or one of the MAC's.
            for byte in [7, 20] {
                let tampered = Self.tampered(token, byte: byte)
                #expect(
                    try await browser.post("/signin", Self.signInFields + [("csrf", tampered)]).status == .forbidden)
            }
            // Bound to this browser's nonce: with another's cookie it is refused.
            let other = Browser(client)
            try await other.get("/signin")
            #expect(try await other.post("/signin", Self.signInFields + [("csrf", token)]).status == .forbidden)
            // The server's own token, from this site's own page, signs in.
            let signedIn = try await browser.post(
                "/signin", Self.signInFields + [("csrf", token)], headers: [.origin: "http://localhost"])
            #expect(signedIn.location == "/tokens")

            // An hour later the page's token has expired; the page shown again has a new one.
            let late = Browser(client)
            let old = try #require(try await late.get("/signin").formToken)
            clock.advance(by: 3601)
            #expect(try await late.post("/signin", Self.signInFields + [("csrf", old)]).status == .forbidden)
            let fresh = try #require(try await late.get("/signin").formToken)
            let again = try await late.post(
                "/signin", Self.signInFields + [("csrf", fresh)], headers: [.origin: "http://127.0.0.1:8080"])
            #expect(again.location == "/tokens", "the public URL's origin is this site's too")
        }
    }

    @Test func aSignInPostedFromAnotherSiteIsRefused() async throws {
        let configuration = ServerConfiguration(publicURL: "https://tokens.example.org")
        try await withPages(.sqlite, configuration: configuration) { services, client in
            let refusals: [HTTPFields] = [
                [Self.secFetchSite: "cross-site"],
                [.origin: "https://evil.example.org"],
                // A sibling subdomain is same-site, not same-origin.
                [Self.secFetchSite: "same-site", .origin: "https://sibling.example.org"],
                [Self.secFetchSite: "same-site", .origin: "null"],
                [Self.secFetchSite: "none"],
                // A page over plain http, where this service is https.
                [.origin: "http://localhost"],
            ]
            for headers in refusals {
                let browser = Browser(client)
                let token = try #require(try await browser.get("/signin").formToken)
                let refused = try await browser.post("/signin", Self.signInFields + [("csrf", token)], headers: headers)
                #expect(refused.status == .forbidden && refused.errorMessage != nil, "\(headers)")
                #expect(browser.cookies["latchkey_session"] == nil)
            }
            #expect(try await services.tokens.count(TokenQuery(kind: .session)) == 0)
            let accepted: [HTTPFields] = [
                [:], [Self.secFetchSite: "same-origin", .origin: "https://tokens.example.org"],
                [.origin: "https://localhost"],
                // What a browser sends from this site's own page, whose referrer policy is no-referrer.
                [Self.secFetchSite: "same-origin", .origin: "null"],
            ]
            for headers in accepted {
                let browser = Browser(client)
                let token = try #require(try await browser.get("/signin").formToken)
                let signedIn = try await browser.post(
                    "/signin", Self.signInFields + [("csrf", token)], headers: headers)
                #expect(signedIn.location == "/tokens", "\(headers)")
            }
        }
    }

    @Test func nodesSharingTheServerKeyAcceptEachOthersSignInForms() async throws {
        let shared = SecretBox(key: SymmetricKey(size: .bits256))
        let clock = clock
        try await TestBackend.sqlite.withStorage { storage in
            try await makeUser(storage, "sam", password: "sam-password", clock: clock)
            // One node seals recoverable tokens with the key; the other has it for webhooks only.
            let nodes = [
                LatchkeyServices(storage: storage, secretBox: shared, hasher: fastPasswordHasher, clock: clock),
                LatchkeyServices(
                    storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock, webhookSecrets: shared),
                LatchkeyServices(
                    storage: storage, secretBox: SecretBox(key: SymmetricKey(size: .bits256)),
                    hasher: fastPasswordHasher, clock: clock),
                LatchkeyServices(storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock),
            ]
            @Sendable func on<Value: Sendable>(
                _ node: Int, _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Value
            ) async throws -> Value {
                let router = buildRouter(configuration: ServerConfiguration(), services: nodes[node])
                return try await Application(router: router).test(.router, body)
            }
            let (token, cookies) = try await on(0) { client in
                let browser = Browser(client)
                return (try await browser.get("/signin").formToken ?? "", browser.cookies)
            }
            var statuses: [HTTPResponse.Status] = []
            for node in 1...3 {
                statuses.append(
                    try await on(node) { client in
                        let elsewhere = Browser(client)
                        elsewhere.cookies = cookies
                        return try await elsewhere.post("/signin", Self.signInFields + [("csrf", token)]).status
                    })
            }
            // The other node with the key; not a node with another key, nor one with none.
            #expect(statuses == [.seeOther, .forbidden, .forbidden])
        }
    }

    /// `token` with one of the bytes it encodes changed.
    static func tampered(_ token: String, byte index: Int) -> String {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        var bytes = [UInt8](Data(base64Encoded: base64) ?? Data())
        if bytes.indices.contains(index) { bytes[index] &+= 1 }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    // MARK: OpenID Connect

    @Test func openIDSignInUsesTheAuthorizationCodeFlowWithPKCE() async throws {
        let provider = try await FakeOpenIDProvider.start()
        defer { provider.stop() }
        let verifier = IDTokenVerifier(
            providers: [
                OpenIDProvider(
                    issuer: provider.issuer, audiences: ["latchkey-test"], jwksURL: provider.issuer + "/jwks",
                    webClient: OpenIDWebClient(clientID: "latchkey-test", clientSecret: "s3cret", name: "Example ID"))
            ],
            clock: clock, fetchTimeout: .seconds(15))
        try await withPages(.sqlite, openID: verifier) { _, client in
            let browser = Browser(client)
            let signInPage = try await browser.get("/signin")
            #expect(signInPage.body.contains(#"href="/signin/openid?provider=0""#))
            #expect(signInPage.body.contains("Sign in with Example ID"))

            // Off to the provider, with state, nonce and an S256 challenge.
            func start() async throws -> [String: String] {
                let started = try await browser.get("/signin/openid?provider=0")
                #expect(started.status == .seeOther)
                let location = try #require(started.location.flatMap(URLComponents.init(string:)))
                #expect(location.path == "/authorize")
                return Dictionary(
                    uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            }
            let query = try await start()
            #expect(query["response_type"] == "code" && query["client_id"] == "latchkey-test")
            #expect(query["code_challenge_method"] == "S256")
            #expect(query["redirect_uri"] == "http://127.0.0.1:8080/signin/openid/callback")
            let nonce = try #require(query["nonce"])
            let challenge = try #require(query["code_challenge"])

            var claims = provider.claims(now: clock.now)
            claims["nonce"] = nonce
            provider.issue(code: "code-1", challenge: challenge, idToken: try await provider.sign(claims))
            // A callback whose state is not this browser's is refused before any exchange.
            let forged = try await browser.get("/signin/openid/callback?code=code-1&state=forged")
            #expect(forged.status == .badRequest && forged.errorMessage != nil)
            #expect(provider.exchanges.isEmpty)

            let again = try await start()
            var goodClaims = provider.claims(now: clock.now)
            goodClaims["nonce"] = again["nonce"]
            provider.issue(
                code: "code-2", challenge: try #require(again["code_challenge"]),
                idToken: try await provider.sign(goodClaims))
            let signedIn = try await browser.get("/signin/openid/callback?code=code-2&state=\(again["state"]!)")
            #expect(signedIn.location == "/tokens")
            let exchange = try #require(provider.exchanges.last)
            #expect(exchange["client_secret"] == "s3cret" && exchange["code_verifier"] != nil)
            #expect(exchange["redirect_uri"] == "http://127.0.0.1:8080/signin/openid/callback")
            #expect(try await browser.get("/tokens").body.contains(#"<span class="who">mary</span>"#))

            // An ID token made for another sign-in (its nonce) is refused.
            let other = Browser(client)
            _ = try await other.get("/signin")
            let started = try await other.get("/signin/openid?provider=0")
            let items = Dictionary(
                uniqueKeysWithValues: (URLComponents(string: started.location ?? "")?.queryItems ?? []).map {
                    ($0.name, $0.value ?? "")
                })
            provider.issue(
                code: "code-3", challenge: try #require(items["code_challenge"]),
                idToken: try await provider.sign(claims))  // the first flow's nonce
            let replayed = try await other.get("/signin/openid/callback?code=code-3&state=\(items["state"]!)")
            #expect(replayed.status == .badRequest && replayed.errorMessage?.contains("refused") == true)
            #expect(other.cookies["latchkey_session"] == nil)

            // The provider's own refusal is a message, not a blank page.
            let denied = Browser(client)
            let deniedStart = try await denied.get("/signin/openid?provider=0")
            let deniedState =
                URLComponents(string: deniedStart.location ?? "")?.queryItems?.first { $0.name == "state" }?.value ?? ""
            let refusal = try await denied.get("/signin/openid/callback?error=access_denied&state=\(deniedState)")
            #expect(refusal.status == .forbidden && refusal.errorMessage?.contains("access_denied") == true)
            #expect(try await denied.get("/signin/openid?provider=7").status == .notFound)

            // Code exchanges from one address are limited: the provider is not flooded through us.
            let flooder = Browser(client)
            var statuses: [HTTPResponse.Status] = []
            for index in 0...WebOpenIDController.exchangeLimit.count {
                let begun = try await flooder.get("/signin/openid?provider=0")
                let flowState =
                    URLComponents(string: begun.location ?? "")?.queryItems?.first { $0.name == "state" }?.value ?? ""
                statuses.append(
                    try await flooder.get("/signin/openid/callback?code=junk-\(index)&state=\(flowState)").status)
            }
            // (The exchanges above, from the same test address, count too.)
            let refusedFrom = try #require(statuses.firstIndex(of: .tooManyRequests))
            #expect(statuses[..<refusedFrom].allSatisfy { $0 == .badRequest })
            #expect(statuses[refusedFrom...].allSatisfy { $0 == .tooManyRequests })
        }
    }
}

extension WebPagesTests.Browser {
    func send(_ uri: String, headers: HTTPFields, body: String) async throws -> Page {
        var headers = headers
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0)=\($1)" }.joined(separator: "; ") }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
            Page(status: $0.status, headers: $0.headers, body: String(buffer: $0.body))
        }
    }
}
