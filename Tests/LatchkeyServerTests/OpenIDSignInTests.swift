import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import NIOCore
import Testing

/// `POST /api/tokens/` with `openid`, against a real provider on a loopback port
/// with keys made at test time. Time comes from a manual clock.
@Suite("OpenID Connect sign-in", .serialized)
struct OpenIDSignInTests {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))

    enum KeySource {
        /// The provider's own `/jwks`.
        case published
        /// No JWKS URL: found through `/.well-known/openid-configuration`.
        case discovery
        case url(String)
    }

    func withProvider(
        keys: KeySource = .published, linkByEmail: Bool = false,
        // Generous by default: a loaded test machine can take over a second to answer on loopback.
        fetchTimeout: TimeAmount = .seconds(15),
        _ body: @Sendable @escaping (FakeOpenIDProvider, LatchkeyServices, any TestClientProtocol) async throws -> Void
    ) async throws {
        let provider = try await FakeOpenIDProvider.start()
        defer { provider.stop() }
        let jwksURL: String? =
            switch keys {
            case .published: provider.issuer + "/jwks"
            case .discovery: nil
            case .url(let url): url
            }
        try await withSQLiteStorage { storage in
            let verifier = IDTokenVerifier(
                providers: [
                    OpenIDProvider(
                        issuer: provider.issuer, audiences: ["latchkey-test", "other-app"], jwksURL: jwksURL,
                        linkByEmail: linkByEmail)
                ],
                clock: clock, fetchTimeout: fetchTimeout)
            let services = LatchkeyServices(
                storage: storage, secretBox: nil, hasher: fastPasswordHasher, clock: clock, openID: verifier)
            let app = Application(router: buildRouter(configuration: ServerConfiguration(), services: services))
            try await app.test(.router) { client in try await body(provider, services, client) }
        }
    }

    func signIn(_ client: some TestClientProtocol, _ token: String) async throws -> (HTTPResponse.Status, [String: Any])
    {
        let body = try JSONSerialization.data(withJSONObject: ["openid": token])
        return try await client.execute(
            uri: "/api/tokens/", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(bytes: body)
        ) { response in
            let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
            return (response.status, json)
        }
    }

    func expectRefusal(
        _ client: some TestClientProtocol, _ token: String, _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let (status, body) = try await signIn(client, token)
        #expect(status == .badRequest, sourceLocation: sourceLocation)
        #expect(body as NSDictionary == ["message": message] as NSDictionary, sourceLocation: sourceLocation)
    }

    @Test func aValidTokenFromAnRSAOrECKeySignsInWithAUsableSessionToken() async throws {
        try await withProvider { provider, services, client in
            for kid in [FakeOpenIDProvider.rsaKid, FakeOpenIDProvider.ecKid] {
                let token = try await provider.sign(provider.claims(now: clock.now), kid: kid)
                let (status, body) = try await signIn(client, token)
                #expect(status == .created, "\(body)")
                #expect(body["username"] as? String == "mary")
                #expect(body["firstName"] as? String == "Mary")
                #expect(body["lastName"] as? String == "Morris")
                let secret = try #require(body["token"] as? String)
                let verification = try await services.tokens.verify(secret)
                guard case .valid(let issued, let user) = verification else {
                    Issue.record("the returned token does not authenticate: \(verification)")
                    continue
                }
                #expect(issued.kind == .session)
                #expect(user.email == "mary@example.org")
            }
            #expect(try await services.storage.userCount() == 1, "the second sign-in found the same account")
        }
    }

    @Test func eachFailureHasHubsMessageInHubsOrder() async throws {
        try await withProvider { provider, _, client in
            let now = clock.now
            try await expectRefusal(client, "bar", "Bad token: Not enough segments")
            try await expectRefusal(client, "a.b", "Bad token: Not enough segments")
            try await expectRefusal(client, "!!.e30.sig", "Bad token: Invalid header padding")
            try await expectRefusal(client, "e30.!!.sig", "Bad token: Invalid payload padding")

            var claims = provider.claims(now: now)
            claims["exp"] = Int(now.timeIntervalSince1970) - 60
            claims["iss"] = "https://wrong.example"  // expiry is checked first
            try await expectRefusal(client, try await provider.sign(claims), "Token has expired")

            claims = provider.claims(now: now)
            claims["iss"] = "https://wrong.example"
            claims["aud"] = "wrong"
            try await expectRefusal(client, try await provider.sign(claims), "Invalid token issuer")
            claims.removeValue(forKey: "iss")
            try await expectRefusal(client, try await provider.sign(claims), "Invalid token issuer")

            claims = provider.claims(now: now)
            claims["aud"] = "someone-else"
            claims["email_verified"] = false
            try await expectRefusal(client, try await provider.sign(claims), "Invalid token audience")

            claims = provider.claims(now: now)
            claims["email_verified"] = false
            let unverifiedEmail = try await provider.sign(claims)
            let tampered = try await provider.sign(provider.claims(now: now)).split(separator: ".")
            let forged = [tampered[0], unverifiedEmail.split(separator: ".")[1], tampered[2]].joined(separator: ".")
            try await expectRefusal(client, forged, "Token could not be verified")

            try await expectRefusal(client, unverifiedEmail, "Email address has not been verified")
            claims["email_verified"] = "true"
            let (status, _) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created, "a string \"true\" counts, as some providers send it")
        }
    }

    @Test func audienceMayBeAListContainingOurs() async throws {
        try await withProvider { provider, _, client in
            var claims = provider.claims(now: clock.now)
            claims["aud"] = ["someone-else", "other-app"]
            let (status, _) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created)
        }
    }

    @Test func noneAndHMACTokensAreRefused() async throws {
        try await withProvider { provider, _, client in
            let claims = provider.claims(now: clock.now)
            try await expectRefusal(
                client, try unsignedToken(claims, alg: "none", kid: FakeOpenIDProvider.rsaKid),
                "Token could not be verified")
            try await expectRefusal(
                client,
                try unsignedToken(claims, alg: "HS256", kid: FakeOpenIDProvider.rsaKid, hmacKey: provider.rsaPublicPEM),
                "Token could not be verified")
            try await expectRefusal(
                client, try unsignedToken(claims, alg: "RS512", kid: FakeOpenIDProvider.rsaKid),
                "Token could not be verified")
        }
    }

    @Test func notBeforeAndIssuedAtInTheFutureAreRefused() async throws {
        try await withProvider { provider, _, client in
            var claims = provider.claims(now: clock.now)
            claims["nbf"] = Int(clock.now.timeIntervalSince1970) + 600
            try await expectRefusal(client, try await provider.sign(claims), "Token could not be verified")
            claims = provider.claims(now: clock.now)
            claims["iat"] = Int(clock.now.timeIntervalSince1970) + 600
            try await expectRefusal(client, try await provider.sign(claims), "Token could not be verified")
            claims["iat"] = Int(clock.now.timeIntervalSince1970) + 10  // within the leeway
            let (status, _) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created)
        }
    }

    @Test func aRotatedKeyIsAcceptedAfterTheNextRefresh() async throws {
        try await withProvider { provider, _, client in
            let first = try await signIn(client, try await provider.sign(provider.claims(now: clock.now)))
            #expect(first.0 == .created)

            let rotated = try await provider.sign(provider.claims(now: clock.now), kid: FakeOpenIDProvider.rotatedKid)
            try await expectRefusal(client, rotated, "Token could not be verified")  // not published yet

            provider.publish([FakeOpenIDProvider.rotatedKid])
            clock.advance(by: 30)
            try await expectRefusal(client, rotated, "Token could not be verified")  // fetched under a minute ago
            clock.advance(by: 31)
            let fresh = try await provider.sign(provider.claims(now: clock.now), kid: FakeOpenIDProvider.rotatedKid)
            #expect(try await signIn(client, fresh).0 == .created)
        }
    }

    @Test func aWithdrawnKeyStopsVerifyingWithinTheKeySetLifetime() async throws {
        try await withProvider { provider, _, client in
            #expect(try await signIn(client, try await provider.sign(provider.claims(now: clock.now))).0 == .created)
            provider.publish([FakeOpenIDProvider.ecKid])  // the RSA key is withdrawn (say, compromised)
            clock.advance(by: 3601)
            let withdrawn = try await provider.sign(provider.claims(now: clock.now))
            try await expectRefusal(client, withdrawn, "Token could not be verified")
            let current = try await provider.sign(provider.claims(now: clock.now), kid: FakeOpenIDProvider.ecKid)
            #expect(try await signIn(client, current).0 == .created)
        }
    }

    @Test func keysAreFoundByDiscoveryWhenNoJWKSURLIsGiven() async throws {
        try await withProvider(keys: .discovery) { provider, _, client in
            let (status, _) = try await signIn(client, try await provider.sign(provider.claims(now: clock.now)))
            #expect(status == .created)
        }
    }

    @Test func aProviderThatIsDownOrSlowIsAClearErrorWithinTheTimeout() async throws {
        let closedPort = try freePort()
        let silent = try ListeningSocket()  // accepts connections, never answers
        defer { silent.close() }
        for url in ["http://127.0.0.1:\(closedPort)/jwks", "http://127.0.0.1:\(silent.port)/jwks"] {
            try await withProvider(keys: .url(url), fetchTimeout: .seconds(1)) { provider, _, client in
                let started = ContinuousClock.now
                let (status, body) = try await signIn(client, try await provider.sign(provider.claims(now: clock.now)))
                #expect(status == .serviceUnavailable)
                // The provider's URL is for the operator's log, never for the client.
                #expect(
                    body["message"] as? String == "The sign-in provider's keys could not be fetched; try again shortly."
                )
                #expect(ContinuousClock.now - started < .seconds(10), "bounded by the fetch timeout")
            }
        }
    }

    @Test func concurrentSignInsShareOneKeyFetchAndAFailedFetchBacksOff() async throws {
        try await withProvider { provider, _, client in
            provider.setFailing(true)
            let token = try await provider.sign(provider.claims(now: clock.now))
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 { group.addTask { try await signIn(client, token).0 } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: .serviceUnavailable, count: 20))
            #expect(provider.jwksFetches == 1, "one fetch in flight for all twenty sign-ins")

            provider.setFailing(false)
            let (status, _) = try await signIn(client, token)
            #expect(status == .serviceUnavailable, "no new fetch during the back-off")
            #expect(provider.jwksFetches == 1)

            clock.advance(by: 31)
            let (after, body) = try await signIn(client, try await provider.sign(provider.claims(now: clock.now)))
            #expect(after == .created, "\(body)")
            #expect(provider.jwksFetches == 2)
        }
    }

    @Test func anExistingAccountsEmailSignsInOnlyWhereTheProviderIsTrustedToLink() async throws {
        try await withProvider { provider, services, client in
            let pete = try await makeUser(services.storage, "pete", email: "pete@example.com")
            let (status, body) = try await signIn(
                client, try await provider.sign(provider.claims(now: clock.now, email: "Pete@example.com")))
            #expect(status == .forbidden)
            #expect(
                body["message"] as? String
                    == "For security reasons, please verify your email address first: an account with Pete@example.com already exists; sign in to it another way."
            )
            #expect(
                try await services.storage.linkedUser(provider: provider.issuer, subject: "subject-Pete@example.com")
                    == nil)
            #expect(try await services.storage.userCount() == 1, "no second account with pete's email")
            _ = pete
        }
        try await withProvider(linkByEmail: true) { provider, services, client in
            let admin = try await makeUser(services.storage, "root", email: "root@example.com", isAdmin: true)
            let kim = try await makeUser(services.storage, "kim", email: "kim@example.org")
            // Never to an administrator, even from a trusted provider.
            var (status, _) = try await signIn(
                client, try await provider.sign(provider.claims(now: clock.now, email: "root@example.com")))
            #expect(status == .forbidden)
            // The Kelvin sign (U+212A) folds to K: never linked onto kim's account.
            (status, _) = try await signIn(
                client, try await provider.sign(provider.claims(now: clock.now, email: "\u{212A}im@example.org")))
            #expect(status == .forbidden)
            var body: [String: Any]
            (status, body) = try await signIn(
                client, try await provider.sign(provider.claims(now: clock.now, email: "KIM@example.org")))
            #expect(status == .created)
            #expect(body["username"] as? String == "kim")
            #expect(
                try await services.storage.linkedUser(provider: provider.issuer, subject: "subject-KIM@example.org")?.id
                    == kim.id)
            #expect(
                try await services.storage.linkedUser(provider: provider.issuer, subject: "subject-root@example.com")
                    == nil)
            _ = admin
        }
    }

    @Test func anAccountIsFoundByEmailThenBySubjectEvenAfterTheEmailChanges() async throws {
        try await withProvider(linkByEmail: true) { provider, services, client in
            let pete = try await makeUser(services.storage, "pete", email: "Pete@Example.com")
            var claims = provider.claims(now: clock.now, email: "pete@example.COM")
            claims["sub"] = "pete-subject"
            var (status, body) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created)
            #expect(body["user"] as? Int64 == pete.id || (body["user"] as? Int).map(Int64.init) == pete.id)

            claims["email"] = "pete@new.example"
            (status, body) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created)
            #expect(body["username"] as? String == "pete")
            #expect(try await services.storage.userCount() == 1)

            try await services.storage.setActive(userID: pete.id, false)
            (status, body) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .forbidden)
        }
    }

    @Test func namesComeFromNameWhenGivenAndFamilyAreMissing() async throws {
        try await withProvider { provider, _, client in
            var claims = provider.claims(now: clock.now, email: "lee@example.org")
            claims.removeValue(forKey: "given_name")
            claims.removeValue(forKey: "family_name")
            claims["name"] = "Lee Van Cleef"
            let (status, body) = try await signIn(client, try await provider.sign(claims))
            #expect(status == .created)
            #expect(body["firstName"] as? String == "Lee")
            #expect(body["lastName"] as? String == "Van Cleef")
        }
    }
}

@Suite("Username derivation")
struct UsernameDerivationTests {
    /// Stencila Hub's own sequence of cases for `generate_username`.
    @Test(arguments: TestBackend.available)
    func hubsCases(backend: TestBackend) async throws {
        try await backend.withStorage { (storage: any LatchkeyStorage) async throws in
            let derive = UsernameDerivation(storage: storage)
            func next(_ email: String?, _ given: String?, _ family: String?) async throws -> String {
                let name = try await derive.username(email: email, givenName: given, familyName: family)
                try await makeUser(storage, name)
                return name
            }
            #expect(try await next(nil, nil, nil) == "user-1")
            #expect(try await next(nil, nil, nil) == "user-2")
            #expect(try await derive.username(email: nil, givenName: nil, familyName: nil) == "user-3")
            #expect(try await next("joe@example.com", nil, nil) == "joe")
            #expect(try await next("joe@example.org", nil, nil) == "joeexampleorg")
            #expect(try await next("joe@example.biz", "Joseph", nil) == "joseph")
            #expect(try await next("joe@example.nz", "Joseph", "James") == "joseph-james")
            #expect(
                try await derive.username(email: "joe@example.us", givenName: "Joseph", familyName: "James")
                    == "joeexampleus")
        }
    }

    @Test func slugifyFoldsAccentsAndSeparators() {
        #expect(UsernameDerivation.slugify("Márta  O'Neil--Smith") == "marta-oneil-smith")
        #expect(UsernameDerivation.slugify("  ...  ") == "")
        #expect(UsernameDerivation.slugify("_x_") == "x")
    }
}
