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

/// The web pages through the real router on each backend: sessions in cookies, form tokens,
/// the authorization rule, readable errors, the headers every page sends, and OpenID sign-in
/// with the authorization-code flow against a real provider on loopback. The browser suite
/// (Tests/compat/test_web_*.py) drives the same pages in Chromium.
@Suite("Web pages", .serialized)
struct WebPagesTests {
    /// A browser's cookie jar over the test client.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var attributes: [String: String] = [:]

        init(_ client: any TestClientProtocol) { self.client = client }

        struct Page {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: String

            /// The value of the first hidden `csrf` field.
            var formToken: String? { body.firstMatch(of: /name="csrf" value="([^"]*)"/).map { String($0.1) } }
            var location: String? { headers[.location] }
            var errorMessage: String? {
                body.firstMatch(of: /<p class="error" role="alert">([^<]*)<\/p>/).map { String($0.1) }
            }
        }

        @discardableResult
        func get(_ uri: String, headers extra: HTTPFields = [:]) async throws -> Page {
            try await send(uri, .get, headers: extra)
        }

        @discardableResult
        func post(_ uri: String, _ fields: [(String, String)], headers extra: HTTPFields = [:]) async throws -> Page {
            let body = fields.map { "\($0)=\(Self.encoded($1))" }.joined(separator: "&")
            var headers = extra
            headers[.contentType] = "application/x-www-form-urlencoded"
            return try await send(uri, .post, headers: headers, body: ByteBuffer(string: body))
        }

        private func send(
            _ uri: String, _ method: HTTPRequest.Method, headers extra: HTTPFields, body: ByteBuffer? = nil
        )
            async throws -> Page
        {
            var headers = extra
            if !cookies.isEmpty {
                headers[.cookie] = cookies.map { "\($0)=\($1)" }.joined(separator: "; ")
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                for line in response.headers[values: .setCookie] {
                    let parts = line.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                    let pair = parts[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let name = String(pair[0])
                    self.attributes[name] = line
                    if parts.contains("Max-Age=0") {
                        self.cookies[name] = nil
                    } else {
                        self.cookies[name] = String(pair[1])
                    }
                }
                return Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
            }
        }

        /// Signs in with a password through the sign-in form.
        @discardableResult
        func signIn(_ login: String, _ password: String) async throws -> Page {
            let form = try await get("/signin")
            return try await post(
                "/signin", [("login", login), ("password", password), ("csrf", form.formToken ?? "")])
        }

        static func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }
    }

    let clock = ManualClock()

    func withPages(
        _ backend: TestBackend, limits: TokenLimits = .default, signInLimits: SignInLimits = .default,
        configuration: ServerConfiguration = ServerConfiguration(), openID: IDTokenVerifier? = nil,
        _ body: @Sendable @escaping (LatchkeyServices, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await backend.withStorage { storage in
            let services = LatchkeyServices(
                storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock, openID: openID,
                tokenLimits: limits, signInLimits: signInLimits)
            try await makeUser(storage, "sam", password: "sam-password", clock: clock)
            try await makeUser(storage, "kim", password: "kim-password", isAdmin: true, clock: clock)
            let app = Application(router: buildRouter(configuration: configuration, services: services))
            try await app.test(.router) { client in try await body(services, client) }
        }
    }

    @Test(arguments: TestBackend.available)
    func signingInSetsAnHttpOnlySessionCookieAndEveryPageSendsItsSecurityHeaders(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let browser = Browser(client)
            #expect(try await browser.get("/tokens").location == "/signin")
            let signedIn = try await browser.signIn("sam", "sam-password")
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.location == "/tokens")
            let cookie = try #require(browser.attributes["latchkey_session"])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"))
            #expect(!cookie.contains("Secure"))
            let page = try await browser.get("/tokens")
            #expect(page.status == .ok)
            #expect(page.body.contains("Web sign-in"))
            // Every page, signed in or not, an error page too: the headers of docs/web.md, each in full.
            let unknown = "/tokens/\(UUID().uuidString.lowercased())/revoke"
            let pages = [
                ("/tokens", page), ("/tokens/new", try await browser.get("/tokens/new")),
                (unknown, try await browser.get(unknown)), ("/admin", try await browser.get("/admin")),
                ("/signin", try await Browser(client).get("/signin")),
            ]
            for (path, shown) in pages {
                #expect(shown.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
                #expect(
                    shown.headers[.contentSecurityPolicy]
                        == "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'", "\(path)")
                #expect(shown.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(shown.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(path)")
                #expect(shown.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(path)")
                #expect(shown.headers[.cacheControl] == "no-store", "\(path)")
            }
            // The session is a real session token of sam's: the API knows it too.
            let sessions = try await services.tokens.list(TokenQuery(kind: .session))
            #expect(sessions.count == 1)
        }
    }

    @Test func theSessionCookieIsSecureBehindHttps() async throws {
        try await withPages(.sqlite, configuration: ServerConfiguration(publicURL: "https://tokens.example.org")) {
            _, client in
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            #expect(browser.attributes["latchkey_session"]?.contains("Secure") == true)
        }
    }

    @Test(arguments: TestBackend.available)
    func aWrongPasswordAndThrottlingAreMessagesOnTheSignInPage(backend: TestBackend) async throws {
        let limits = SignInLimits(
            perAccount: RateLimit(count: 2, window: 900)!, perAddress: RateLimit(count: 100, window: 900)!)
        try await withPages(backend, signInLimits: limits) { services, client in
            let browser = Browser(client)
            let wrong = try await browser.signIn("sam", "not-it")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.errorMessage == "The username or password is incorrect.")
            #expect(wrong.body.contains(#"value="sam""#), "the login typed is kept")
            try await browser.signIn("sam", "not-it")
            let throttled = try await browser.signIn("sam", "sam-password")
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.headers[.retryAfter] != nil)
            #expect(throttled.errorMessage?.contains("Too many sign-in attempts") == true)
            #expect(browser.cookies["latchkey_session"] == nil)
            // The same audit as the API's sign-in.
            let events = try await services.tokens.audit.events(AuditQuery(kind: .signInFailed))
            #expect(events.count == 2 && events.allSatisfy { $0.origin.via == "web" })
        }
    }

    @Test(arguments: TestBackend.available)
    func aFormWithoutItsFormTokenIsRefusedAndChangesNothing(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let browser = Browser(client)
            // Sign-in itself needs the sign-in page's token (no logging in a victim as someone else).
            let forged = try await browser.post("/signin", [("login", "sam"), ("password", "sam-password")])
            #expect(forged.status == .forbidden)
            #expect(forged.errorMessage?.contains("not sent from this site") == true)
            // Nor does an empty cookie (one another site could plant) match an empty field.
            browser.cookies["latchkey_signin"] = ""
            let planted = try await browser.post(
                "/signin", [("login", "sam"), ("password", "sam-password"), ("csrf", "")])
            #expect(planted.status == .forbidden)
            browser.cookies["latchkey_signin"] = nil
            try await browser.signIn("sam", "sam-password")
            let before = try await services.tokens.count(TokenQuery())
            for fields in [
                [("title", "x"), ("lifetime", "30")], [("title", "x"), ("lifetime", "30"), ("csrf", "wrong")],
            ] {
                let refused = try await browser.post("/tokens", fields)
                #expect(refused.status == .forbidden)
                #expect(refused.headers[.contentType] == "text/html; charset=utf-8")
            }
            #expect(try await services.tokens.count(TokenQuery()) == before)
            // Another session's form token is not this one's.
            let other = Browser(client)
            try await other.signIn("sam", "sam-password")
            let othersToken = try #require(try await other.get("/tokens/new").formToken)
            #expect(
                try await browser.post("/tokens", [("lifetime", "30"), ("csrf", othersToken)]).status == .forbidden)
            #expect(try await services.tokens.count(TokenQuery()) == before + 1)  // only the second sign-in
        }
    }

    @Test(arguments: TestBackend.available)
    func aTokenIsCreatedRotatedAndRevokedFromThePages(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            let form = try await browser.get("/tokens/new")
            #expect(!form.body.contains(#"value="superuser""#), "only administrators are offered superuser")
            let csrf = try #require(form.formToken)
            let created = try await browser.post(
                "/tokens",
                [
                    ("csrf", csrf), ("title", "laptop"), ("lifetime", "7"), ("scopes", "repo:read"),
                    ("scopes", "user:read"), ("other_scopes", "deploy:staging"),
                ])
            #expect(created.status == .ok)
            #expect(created.headers[.cacheControl] == "no-store")
            let secret = try #require(
                created.body.firstMatch(of: /<code id="secret">([^<]+)<\/code>/).map { String($0.1) })
            guard case .valid(let token, _) = try await services.tokens.verify(secret) else {
                Issue.record("the secret shown does not verify")
                return
            }
            #expect(token.title == "laptop" && token.kind == .app)
            #expect(token.scopes == ["repo:read", "user:read", "deploy:staging"])
            #expect(token.expires == clock.now.addingTimeInterval(7 * 86_400))
            // Listed without its secret, with the badge of a token expiring within a week.
            let list = try await browser.get("/tokens")
            #expect(list.body.contains(token.uuid.uuidString.lowercased()) && !list.body.contains(secret))
            #expect(list.body.contains("badge-expiring"))

            let uuid = token.uuid.uuidString.lowercased()
            #expect(try await browser.get("/tokens/\(uuid)/rotate").status == .ok)
            let rotated = try await browser.post("/tokens/\(uuid)/rotate", [("csrf", csrf), ("overlap", "3600")])
            #expect(rotated.status == .ok)
            let successor = try #require(
                rotated.body.firstMatch(of: /<code id="secret">([^<]+)<\/code>/).map { String($0.1) })
            guard case .valid(let next, _) = try await services.tokens.verify(successor) else {
                Issue.record("the successor does not verify")
                return
            }
            #expect(next.scopes == token.scopes)
            // The overlap chosen: the old token works for its hour, not after.
            #expect(try await services.tokens.verify(secret).isValid)
            clock.advance(by: 3601)
            #expect(try await !services.tokens.verify(secret).isValid)
            let again = try await browser.post("/tokens/\(uuid)/rotate", [("csrf", csrf), ("overlap", "0")])
            #expect(again.status == .conflict && again.errorMessage != nil)
            // An overlap the page did not offer.
            let nextUUID = next.uuid.uuidString.lowercased()
            let odd = try await browser.post(
                "/tokens/\(nextUUID)/rotate", [("csrf", csrf), ("overlap", "999999999999")])
            #expect(odd.status == .badRequest)

            #expect(try await browser.get("/tokens/\(nextUUID)/revoke").body.contains(#"id="confirm""#))
            let revoked = try await browser.post("/tokens/\(nextUUID)/revoke", [("csrf", csrf)])
            #expect(revoked.location == "/tokens?notice=revoked")
            #expect(try await browser.get("/tokens?notice=revoked").body.contains(#"class="notice""#))
            #expect(try await !services.tokens.verify(successor).isValid)
        }
    }

    @Test func theListsShowTheNewestTokensAndSayHowManyThereAre() async throws {
        try await withPages(.sqlite) { services, client in
            let sam = try #require(try await services.accounts.user(named: "sam"))
            for index in 0..<WebController.listLimit {
                _ = try await services.tokens.create(
                    for: sam, TokenRequest(kind: .app, title: "old \(index)"), by: .cli)
            }
            let newest = try await services.tokens.create(for: sam, TokenRequest(kind: .app, title: "newest"), by: .cli)
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            let page = try await browser.get("/tokens")
            #expect(page.body.contains(newest.token.uuid.uuidString.lowercased()))
            #expect(!page.body.contains(">old 0<"), "the oldest drops off the page, not the newest")
            #expect(
                page.body.contains("Showing the newest \(WebController.listLimit) of \(WebController.listLimit + 2)."))
        }
    }

    @Test(arguments: TestBackend.available)
    func anotherUsersTokenIsNotFoundOnTheOwnersPages(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let kim = try #require(try await services.accounts.user(named: "kim"))
            let kims = try await services.tokens.create(for: kim, TokenRequest(kind: .app, title: "kim's"), by: .cli)
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            let csrf = try #require(try await browser.get("/tokens").formToken)
            let uuid = kims.token.uuid.uuidString.lowercased()
            #expect(try await browser.get("/tokens/\(uuid)/revoke").status == .notFound)
            #expect(try await browser.post("/tokens/\(uuid)/revoke", [("csrf", csrf)]).status == .notFound)
            #expect(try await services.tokens.verify(kims.secret.value).isValid)
        }
    }

    @Test(arguments: TestBackend.available)
    func policyRefusalsAreShownOnTheFormAsItWasFilledIn(backend: TestBackend) async throws {
        let limits = TokenLimits(maxLifetime: [.app: 30 * 86_400])
        try await withPages(backend, limits: limits) { _, client in
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            let form = try await browser.get("/tokens/new")
            #expect(form.body.contains(#"value="30""#) && !form.body.contains(#"value="90""#))
            #expect(!form.body.contains(#"value="never""#), "no expiry is not offered where policy forbids it")
            let csrf = try #require(form.formToken)
            let tooLong = try await browser.post(
                "/tokens", [("csrf", csrf), ("title", "kept"), ("lifetime", "custom"), ("expires_on", "2099-01-01")])
            #expect(tooLong.status == .badRequest)
            #expect(tooLong.errorMessage != nil)
            #expect(tooLong.body.contains(#"value="kept""#) && tooLong.body.contains(#"value="2099-01-01""#))
            for (fields, message) in [
                ([("lifetime", "custom"), ("expires_on", "2026-02-31")], "Enter the date"),
                ([("lifetime", "never")], "Choose how long"),
                ([("lifetime", "30"), ("scopes", "superuser")], "Only administrators"),
            ] {
                let refused = try await browser.post("/tokens", [("csrf", csrf)] + fields)
                #expect(refused.status == .badRequest)
                #expect(refused.errorMessage?.contains(message) == true, "\(fields)")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func thePagesFollowTheAuthorizationTable(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let sam = Browser(client)
            try await sam.signIn("sam", "sam-password")
            let kim = Browser(client)
            try await kim.signIn("kim", "kim-password")
            let samUser = try #require(try await services.accounts.user(named: "sam"))
            let samsApp = try await services.tokens.create(
                for: samUser, TokenRequest(kind: .app, scopes: ["user:admin"]), by: .cli)
            let adminPages = ["/admin/users", "/admin/tokens", "/admin/audit"]
            for page in adminPages {
                let refused = try await sam.get(page)
                #expect(refused.status == .forbidden, "\(page)")
                #expect(refused.errorMessage == "Only administrators may see this page.")
                #expect(try await kim.get(page).status == .ok, "\(page)")
                // Not signed in: to the sign-in page.
                #expect(try await Browser(client).get(page).location == "/signin")
            }
            #expect(try await sam.get("/tokens").body.contains("admin-link") == false)
            #expect(try await kim.get("/tokens").body.contains("admin-link"))
            // An app token is never a page session, in the cookie or in a header.
            let withApp = Browser(client)
            withApp.cookies["latchkey_session"] = samsApp.secret.value
            #expect(try await withApp.get("/tokens").location == "/signin?notice=ended")
            #expect(withApp.cookies["latchkey_session"] == nil, "the cookie is cleared")
            // …and is not even used: a token with one use left keeps it.
            let oneUse = try await services.tokens.create(
                for: samUser, TokenRequest(kind: .app, scopes: ["user:admin"], maxUses: 1), by: .cli)
            withApp.cookies["latchkey_session"] = oneUse.secret.value
            #expect(try await withApp.get("/tokens").location == "/signin?notice=ended")
            #expect(try await services.tokens.find(uuid: oneUse.token.uuid)?.lifecycle.usesRemaining == 1)
            let header = try await Browser(client).get(
                "/tokens", headers: [.authorization: "Bearer \(samsApp.secret.value)"])
            #expect(header.location == "/signin")
            // Nor is an administrator's session token sent as a header.
            let kimSession = try #require(kim.cookies["latchkey_session"])
            #expect(
                try await Browser(client).get("/admin/users", headers: [.authorization: "Bearer \(kimSession)"])
                    .location
                    == "/signin")
        }
    }

    @Test(arguments: TestBackend.available)
    func anAdministratorRevokesAnotherUsersTokenAndDeactivatesTheAccount(backend: TestBackend) async throws {
        try await withPages(backend) { services, client in
            let samUser = try #require(try await services.accounts.user(named: "sam"))
            let samsApp = try await services.tokens.create(
                for: samUser, TokenRequest(kind: .app, title: "ci of sam"), by: .cli)
            let kim = Browser(client)
            try await kim.signIn("kim", "kim-password")
            let listing = try await kim.get("/admin/tokens")
            let uuid = samsApp.token.uuid.uuidString.lowercased()
            #expect(
                listing.body.contains(uuid) && listing.body.contains("ci of sam")
                    && !listing.body.contains(samsApp.secret.value))
            let csrf = try #require(listing.formToken)
            #expect(try await kim.get("/admin/tokens/\(uuid)/revoke").status == .ok)
            #expect(
                try await kim.post("/admin/tokens/\(uuid)/revoke", [("csrf", csrf)]).location
                    == "/admin/tokens?notice=revoked")
            #expect(try await !services.tokens.verify(samsApp.secret.value).isValid)

            let sam = Browser(client)
            try await sam.signIn("sam", "sam-password")
            #expect(try await sam.get("/tokens").status == .ok)
            #expect(
                try await kim.post("/admin/users/\(samUser.id)/deactivate", []).status == .forbidden, "no form token")
            let deactivated = try await kim.post("/admin/users/\(samUser.id)/deactivate", [("csrf", csrf)])
            #expect(deactivated.location == "/admin/users?notice=deactivated")
            #expect(try await sam.get("/tokens").location == "/signin?notice=ended")
            let kimUser = try #require(try await services.accounts.user(named: "kim"))
            #expect(try await kim.post("/admin/users/\(kimUser.id)/deactivate", [("csrf", csrf)]).status == .badRequest)

            // The audit log, filtered by event.
            let audit = try await kim.get("/admin/audit?kind=user.deactivated&since=24h")
            #expect(audit.body.contains("<code>user.deactivated</code>"))
            #expect(!audit.body.contains("<code>token.revoked</code>"))
            let unknown = try await kim.get("/admin/audit?user=nobody")
            #expect(unknown.status == .notFound && unknown.errorMessage?.contains("nobody") == true)
        }
    }

    @Test(arguments: TestBackend.available)
    func signingOutRevokesTheSessionAndAnEndedSessionSaysSo(backend: TestBackend) async throws {
        try await withPages(backend, configuration: ServerConfiguration(sessionLifetime: 3600)) { services, client in
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            let session = try #require(browser.cookies["latchkey_session"])
            let csrf = try #require(try await browser.get("/tokens").formToken)
            let out = try await browser.post("/signout", [("csrf", csrf)])
            #expect(out.location == "/signin?notice=signedout")
            #expect(try await !services.tokens.verify(session).isValid)

            // Signing in again ends the session this browser had, rather than orphaning it.
            let form = try await browser.get("/signin")
            let formCookie = try #require(browser.cookies["latchkey_signin"])
            let fields = [("login", "sam"), ("password", "sam-password"), ("csrf", form.formToken ?? "")]
            try await browser.post("/signin", fields)
            let first = try #require(browser.cookies["latchkey_session"])
            browser.cookies["latchkey_signin"] = formCookie  // a second tab's form, say
            #expect(try await browser.post("/signin", fields).location == "/tokens")
            #expect(browser.cookies["latchkey_session"] != first)
            #expect(try await !services.tokens.verify(first).isValid)
            clock.advance(by: 3601)
            let ended = try await browser.get("/tokens")
            #expect(ended.location == "/signin?notice=ended")
            #expect(try await browser.get("/signin?notice=ended").body.contains("Your session has ended"))
        }
    }

    @Test func failuresOnPagesArePagesNotJSON() async throws {
        try await withPages(.sqlite) { _, client in
            let browser = Browser(client)
            try await browser.signIn("sam", "sam-password")
            for uri in ["/tokens/not-a-uuid/revoke", "/tokens/00000000-0000-0000-0000-000000000000/rotate"] {
                let page = try await browser.get(uri)
                #expect(page.status == .notFound)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8" && page.errorMessage != nil)
            }
            let json = try await browser.send(
                "/tokens", headers: [.contentType: "application/json"], body: #"{"title": "x"}"#)
            #expect(json.status == .unsupportedMediaType && json.errorMessage != nil)
            let huge = try await browser.post("/tokens", [("title", String(repeating: "x", count: 70_000))])
            #expect(huge.status == .contentTooLarge && huge.errorMessage != nil)
            #expect(try await browser.get("/static/latchkey.css").headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await browser.get("/static/nothing.css").status == .notFound)
        }
    }

}

extension TokenVerification {
    var isValid: Bool { if case .valid = self { true } else { false } }
}
