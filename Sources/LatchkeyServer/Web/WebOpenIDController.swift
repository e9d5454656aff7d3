import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import LatchkeyCore
import Logging
import NIOCore

/// Sign-in from a browser with an OpenID Connect provider: the authorization-code flow with
/// PKCE (S256) and a nonce, against the endpoints of the provider's discovery document. The
/// ID token the provider answers is checked by the same verifier as the API's OpenID sign-in,
/// and signs in the same account.
package struct WebOpenIDController {
    static let cookieName = "latchkey_openid"
    static let callbackPath = "/signin/openid/callback"
    /// How long a person may take at the provider.
    static let flowLifetime = 600

    /// Code exchanges per client address: each is a call to the provider, which must not be
    /// made to flood it (and get this service's client id blocked there).
    package static let exchangeLimit = RateLimit(count: 30, window: 60)!

    let web: WebController
    let discovery = OpenIDDiscovery()
    let exchanges: SlidingWindowLimiter
    var services: LatchkeyServices { web.services }

    init(web: WebController) {
        self.web = web
        exchanges = SlidingWindowLimiter(Self.exchangeLimit, clock: web.services.clock)
    }

    func addRoutes(to pages: RouterGroup<AppRequestContext>) {
        pages.get("signin/openid", use: start)
        pages.get("signin/openid/callback", use: callback)
    }

    /// `GET /signin/openid?provider=N`: off to the provider, with state, nonce and PKCE
    /// challenge; the verifier stays in this browser's cookie.
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let providers = services.openID.webProviders
        guard let text = request.uri.queryParameters["provider"], text.count <= 3, let index = Int(text),
            providers.indices.contains(index), let client = providers[index].webClient
        else { throw WebPageError.notFound }
        let endpoints = try await discovery.endpoints(of: providers[index], logger: context.logger)
        let flow = Flow(provider: index)
        guard var address = URLComponents(string: endpoints.authorization) else { throw OpenIDDiscovery.unavailable }
        address.queryItems =
            (address.queryItems ?? []) + [
                URLQueryItem(name: "response_type", value: "code"),
                URLQueryItem(name: "client_id", value: client.clientID),
                URLQueryItem(name: "redirect_uri", value: redirectURI),
                URLQueryItem(name: "scope", value: "openid email profile"),
                URLQueryItem(name: "state", value: flow.state), URLQueryItem(name: "nonce", value: flow.nonce),
                URLQueryItem(name: "code_challenge", value: flow.challenge),
                URLQueryItem(name: "code_challenge_method", value: "S256"),
            ]
        guard let location = address.string else { throw OpenIDDiscovery.unavailable }
        return WebPage.redirect(to: location, cookies: [cookie(flow.cookieValue, maxAge: Self.flowLifetime)])
    }

    /// `GET /signin/openid/callback?code=&state=`: the code exchanged for an ID token, which signs in.
    @Sendable func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let providers = services.openID.webProviders
        guard let flow = request.cookies[Self.cookieName].flatMap({ Flow(cookie: $0.value) }),
            let state = parameters["state"], constantTimeEqual(Data(state.utf8), Data(flow.state.utf8)),
            providers.indices.contains(flow.provider), let client = providers[flow.provider].webClient
        else {
            return failed(request, "This sign-in was not started here, or took too long. Try again.", .badRequest)
        }
        if let error = parameters["error"] {
            // The provider's own word for it (access_denied, …), shown only if it is one.
            let word = error.count <= 64 && error.allSatisfy { $0.isLetter || $0 == "_" } ? " (\(error))" : ""
            return failed(request, "The sign-in provider did not sign you in\(word).", .forbidden)
        }
        guard let code = parameters["code"], !code.isEmpty, code.utf8.count <= 4096 else {
            return failed(request, "The sign-in provider sent no code. Try again.", .badRequest)
        }
        let provider = providers[flow.provider]
        if case .refused(let retryAfter, _) = exchanges.acquire(
            context.clientIP.map(CIDR.limitKey(for:)) ?? "unknown")
        {
            let limit = LimitExceeded(.signIn, retryAfter: retryAfter)
            var response = web.signInForm(request, error: "\(limit)", status: limit.status, headers: limit.retryHeaders)
            response.setCookie(cookie("", maxAge: 0))
            return response
        }
        do {
            let user = try await services.accounts.signIn(
                identifiedBy: {
                    let endpoints = try await discovery.endpoints(of: provider, logger: context.logger)
                    let idToken = try await exchange(
                        String(code), verifier: flow.verifier, client: client, at: endpoints.token,
                        logger: context.logger)
                    let identity = try await services.openID.verify(idToken, nonce: flow.nonce)
                    // Another configured provider's token, handed back by this one's endpoint, is refused.
                    guard identity.provider == provider.issuer else { throw OpenIDError.invalidIssuer }
                    return identity
                }, by: context.origin(via: "web"))
            var response = try await web.startSession(for: user, context: context)
            response.setCookie(cookie("", maxAge: 0))
            return response
        } catch let error as OpenIDSignInFailure {
            // Answered on the sign-in form, in the pages' terms (`WebDialect`, which logs an unavailable provider).
            let dialect = WebDialect()
            let page = dialect.answer(to: error, logger: context.logger) as? WebPageError ?? dialect.internalFailure
            return failed(request, page.message, page.status)
        } catch let error as WebPageError {
            return failed(request, error.message, error.status)
        }
    }

    /// The code and the PKCE verifier for the ID token, at the provider's token endpoint.
    private func exchange(
        _ code: String, verifier: String, client: OpenIDWebClient, at endpoint: String, logger: Logger
    ) async throws -> String {
        var fields = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("client_id", client.clientID), ("code_verifier", verifier),
        ]
        if let secret = client.clientSecret { fields.append(("client_secret", secret)) }
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: fields.map { "\($0)=\(Self.formEncoded($1))" }.joined(separator: "&")))
        struct Answer: Decodable {
            var idToken: String
            enum CodingKeys: String, CodingKey { case idToken = "id_token" }
        }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 256 * 1024)
            guard response.status == .ok else {
                logger.warning(
                    "OpenID Connect token endpoint refused a code", metadata: ["status": "\(response.status.code)"])
                throw WebPageError(
                    status: .badRequest, message: "The sign-in provider refused this sign-in. Try again.")
            }
            return try JSONDecoder().decode(Answer.self, from: Data(buffer: body)).idToken
        } catch let error as WebPageError {
            throw error
        } catch {
            logger.warning(
                "OpenID Connect token endpoint failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw OpenIDDiscovery.unavailable
        }
    }

    private var redirectURI: String { web.configuration.externalBaseURL + Self.callbackPath }

    private func cookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: Self.cookieName, value: value, maxAge: maxAge, path: "/signin/openid", secure: web.secureCookies,
            httpOnly: true, sameSite: .lax)
    }

    /// The sign-in page with the error, the flow's cookie gone.
    private func failed(_ request: Request, _ message: String, _ status: HTTPResponse.Status) -> Response {
        var response = web.signInForm(request, error: message, status: status)
        response.setCookie(cookie("", maxAge: 0))
        return response
    }

    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(
            .init(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// One browser's sign-in under way: which provider, and the random values that tie the
    /// provider's answer to it.
    struct Flow {
        var provider: Int
        var state: String
        var verifier: String
        var nonce: String

        init(provider: Int) {
            self.provider = provider
            state = WebSession.randomToken()
            verifier = WebSession.randomToken()
            nonce = WebSession.randomToken()
        }

        init?(cookie: String) {
            let parts = cookie.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, parts[0].count <= 3, let provider = Int(parts[0]),
                parts.dropFirst().allSatisfy({ $0.nilIfInvalidToken != nil })
            else { return nil }
            (self.provider, state, verifier, nonce) = (provider, parts[1], parts[2], parts[3])
        }

        var cookieValue: String { "\(provider).\(state).\(verifier).\(nonce)" }
        /// RFC 7636's S256: the verifier's SHA-256, base64url.
        var challenge: String { Data(SHA256.hash(data: Data(verifier.utf8))).base64URLEncoded }
    }
}

/// Each provider's authorization and token endpoints, from its discovery document, kept an
/// hour. One fetch per provider at a time; after a failed one, none for 30 s (sign-ins are
/// answered "unavailable" at once instead of each waiting on a dead provider).
actor OpenIDDiscovery {
    struct Endpoints: Sendable {
        var authorization: String
        var token: String
        var fetched: Date
    }

    static let lifetime: TimeInterval = 3600
    static let failureBackoff: TimeInterval = 30
    static let unavailable = WebPageError(
        status: .serviceUnavailable, message: OpenIDSignInFailure.publicUnavailableMessage)
    private var known: [String: Endpoints] = [:]
    private var fetching: [String: Task<Endpoints, any Error>] = [:]
    private var failedUntil: [String: Date] = [:]

    func endpoints(of provider: OpenIDProvider, logger: Logger) async throws -> Endpoints {
        let issuer = provider.issuer
        if let endpoints = known[issuer], Date().timeIntervalSince(endpoints.fetched) < Self.lifetime {
            return endpoints
        }
        if let until = failedUntil[issuer], Date() < until { throw Self.unavailable }
        let task = fetching[issuer] ?? Task { try await Self.fetch(provider) }
        fetching[issuer] = task
        do {
            let endpoints = try await task.value
            fetching[issuer] = nil
            known[issuer] = endpoints
            return endpoints
        } catch {
            fetching[issuer] = nil
            failedUntil[issuer] = Date().addingTimeInterval(Self.failureBackoff)
            logger.warning("OpenID Connect discovery failed", metadata: ["issuer": "\(issuer)"])
            throw Self.unavailable
        }
    }

    private static func fetch(_ provider: OpenIDProvider) async throws -> Endpoints {
        struct Document: Decodable {
            var authorization: String
            var token: String
            enum CodingKeys: String, CodingKey {
                case authorization = "authorization_endpoint"
                case token = "token_endpoint"
            }
        }
        let body = try await IDTokenVerifier.fetchJSON(
            provider.discoveryURL, client: .shared, timeout: .seconds(5), upTo: 256 * 1024)
        let document = try JSONDecoder().decode(Document.self, from: body)
        guard [document.authorization, document.token].allSatisfy(isWebAddress) else {
            throw OpenIDError.providerUnavailable("discovery: endpoints that are not https URLs")
        }
        return Endpoints(authorization: document.authorization, token: document.token, fetched: Date())
    }

    /// https; plain http only on loopback (a provider on this machine), since the token
    /// endpoint is sent the code, the verifier and the client secret.
    private static func isWebAddress(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host else {
            return false
        }
        return scheme == "https" || (scheme == "http" && ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host))
    }
}
