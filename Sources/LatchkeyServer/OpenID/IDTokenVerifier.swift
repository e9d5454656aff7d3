import AsyncHTTPClient
import Foundation
import JWTKit
import LatchkeyCore
import NIOCore
import NIOHTTP1

/// Verifies OpenID Connect ID tokens against the configured providers, in Stencila
/// Hub's order: shape, expiry, issuer, audience, signature (and `nbf`/`iat`), then
/// `email_verified`. Keys are fetched from each provider's JWKS, cached, and
/// fetched again when a token names an unknown key id, at most once a minute. One fetch
/// per provider is in flight at a time (every request waiting for keys shares it), and
/// after a failed fetch none is tried for `failureBackoff`: meanwhile sign-ins that need
/// new keys are answered "unavailable" at once instead of each waiting on a dead provider.
public actor IDTokenVerifier {
    /// Asymmetric algorithms only: `none` and the HMAC family are never accepted.
    static let allowedAlgorithms: Set<String> = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]
    static let refetchInterval: TimeInterval = 60
    /// Keys are fetched again after this long even when every key id is known, so that a key
    /// the provider withdrew stops verifying (while the provider is down, the cached keys serve).
    static let keySetLifetime: TimeInterval = 3600

    private let providers: [String: OpenIDProvider]
    /// The providers people can sign in with from a browser (with a `webClient`), in the order configured.
    public nonisolated let webProviders: [OpenIDProvider]
    private let clock: any WallClock
    private let httpClient: HTTPClient
    private let fetchTimeout: TimeAmount
    private let leeway: TimeInterval
    private let failureBackoff: TimeInterval
    private var keySets: [String: KeySet] = [:]
    private var fetchesInFlight: [String: Task<KeySet, any Error>] = [:]
    /// Per issuer: no fetch before this time, and why the last one failed.
    private var backoffs: [String: (until: Date, reason: String)] = [:]

    private struct KeySet {
        var keys: JWTKeyCollection
        /// Each key id with the algorithm its JWK declares, if it declares one.
        var declaredAlgorithms: [String: String?]
        var fetched: Date
    }

    public init(
        providers: [OpenIDProvider], clock: any WallClock, httpClient: HTTPClient = .shared,
        fetchTimeout: TimeAmount = .seconds(5), leeway: TimeInterval = 30, failureBackoff: TimeInterval = 30
    ) {
        self.providers = Dictionary(providers.map { ($0.issuer, $0) }, uniquingKeysWith: { first, _ in first })
        webProviders = providers.filter { $0.webClient != nil }
        self.clock = clock
        self.httpClient = httpClient
        self.fetchTimeout = fetchTimeout
        self.leeway = leeway
        self.failureBackoff = failureBackoff
    }

    /// - Parameter nonce: what the token's `nonce` claim must say: the one this server sent the
    ///   provider with a browser's sign-in, so that a token made for another sign-in is refused.
    public func verify(_ token: String, nonce: String? = nil) async throws -> VerifiedIdentity {
        let parsed = try ParsedJWT(token)
        let now = clock.now.timeIntervalSince1970
        if let exp = parsed.claims["exp"]?.number, exp + leeway < now { throw OpenIDError.expired }
        guard case .string(let issuer) = parsed.claims["iss"], let provider = providers[issuer] else {
            throw OpenIDError.invalidIssuer
        }
        let audiences: [String] =
            switch parsed.claims["aud"] {
            case .string(let audience): [audience]
            case .array(let items): items.compactMap { if case .string(let text) = $0 { text } else { nil } }
            default: []
            }
        guard audiences.contains(where: provider.audiences.contains) else { throw OpenIDError.invalidAudience }

        try await verifySignature(parsed, token: token, provider: provider)
        guard let exp = parsed.claims["exp"]?.number, exp + leeway >= now,
            parsed.claims["nbf"]?.number.map({ $0 <= now + leeway }) ?? true,
            parsed.claims["iat"]?.number.map({ $0 <= now + leeway }) ?? true,
            case .string(let subject) = parsed.claims["sub"], !subject.isEmpty
        else { throw OpenIDError.notVerified }

        let emailVerified: Bool =
            switch parsed.claims["email_verified"] {
            case .bool(let flag): flag
            case .string(let text): text.lowercased() == "true"  // some providers send a string
            default: false
            }
        guard emailVerified else { throw OpenIDError.emailNotVerified }
        if let nonce {
            guard case .string(let claimed) = parsed.claims["nonce"], claimed == nonce else {
                throw OpenIDError.notVerified
            }
        }

        var givenName = parsed.claims["given_name"]?.text
        var familyName = parsed.claims["family_name"]?.text
        if givenName == nil, familyName == nil, let name = parsed.claims["name"]?.text {
            let words = name.split(whereSeparator: \.isWhitespace)
            givenName = words.first.map(String.init)
            familyName = words.count > 1 ? words.dropFirst().joined(separator: " ") : nil
        }
        return VerifiedIdentity(
            provider: issuer, subject: subject, email: parsed.claims["email"]?.text, givenName: givenName,
            familyName: familyName, mayLinkByEmail: provider.linkByEmail)
    }

    private func verifySignature(_ parsed: ParsedJWT, token: String, provider: OpenIDProvider) async throws {
        guard case .string(let algorithm) = parsed.header["alg"], Self.allowedAlgorithms.contains(algorithm) else {
            throw OpenIDError.notVerified
        }
        let kid = parsed.header["kid"]?.text
        let keySet = try await keySet(for: provider, refreshingFor: kid)
        if let kid, keySet.declaredAlgorithms[kid] == nil {
            throw OpenIDError.notVerified  // still unknown after the refresh (or refreshed too recently)
        }
        if let kid, let declared = keySet.declaredAlgorithms[kid] ?? nil, declared != algorithm {
            throw OpenIDError.notVerified  // the key says it signs with something else
        }
        do {
            _ = try await keySet.keys.verify(token, as: OpaqueClaims.self)
        } catch {
            throw OpenIDError.notVerified
        }
    }

    /// The provider's keys, fetched now if none are cached or if `kid` is unknown
    /// and the last fetch was at least a minute ago; during a back-off after a failed
    /// fetch, the cached keys or an immediate "unavailable".
    private func keySet(for provider: OpenIDProvider, refreshingFor kid: String?) async throws -> KeySet {
        let issuer = provider.issuer
        let now = clock.now
        let cached = keySets[issuer]
        let known = cached.map { set in kid.map { set.declaredAlgorithms[$0] != nil } ?? true } ?? false
        if let cached {
            let age = now.timeIntervalSince(cached.fetched)
            if age < Self.refetchInterval || (known && age < Self.keySetLifetime) { return cached }
        }
        if let backoff = backoffs[issuer], now < backoff.until {
            if let cached, known { return cached }
            throw OpenIDError.providerUnavailable(backoff.reason)
        }
        let fetch: Task<KeySet, any Error>
        if let running = fetchesInFlight[issuer] {
            fetch = running
        } else {
            fetch = Task { try await self.fetchKeySet(provider, at: now) }
            fetchesInFlight[issuer] = fetch
        }
        do {
            let fetched = try await fetch.value
            if fetchesInFlight[issuer] == fetch {
                fetchesInFlight[issuer] = nil
                keySets[issuer] = fetched
                backoffs[issuer] = nil
            }
            return fetched
        } catch {
            if fetchesInFlight[issuer] == fetch {
                fetchesInFlight[issuer] = nil
                let reason = if case OpenIDError.providerUnavailable(let reason) = error { reason } else { "\(error)" }
                backoffs[issuer] = (clock.now.addingTimeInterval(failureBackoff), reason)
            }
            if let cached, known { return cached }  // stale keys beat none while the provider is down
            throw error
        }
    }

    private func fetchKeySet(_ provider: OpenIDProvider, at now: Date) async throws -> KeySet {
        var jwksURL = provider.jwksURL
        if jwksURL == nil {
            let discovery = try? JSONDecoder().decode(JSONValue.self, from: try await fetch(provider.discoveryURL))
            guard case .object(let document)? = discovery, let uri = document["jwks_uri"]?.text else {
                throw OpenIDError.providerUnavailable("its discovery document names no jwks_uri")
            }
            jwksURL = uri
        }
        let body = try await fetch(jwksURL!)
        guard case .object(let set) = try? JSONDecoder().decode(JSONValue.self, from: body),
            case .array(let entries) = set["keys"]
        else {
            throw OpenIDError.providerUnavailable("its JWKS has no keys")
        }
        var declared: [String: String?] = [:]
        for case .object(let key) in entries {
            if let kid = key["kid"]?.text { declared[kid] = key["alg"]?.text }
        }
        let keys = JWTKeyCollection()
        do {
            try await keys.add(jwksJSON: String(decoding: body, as: UTF8.self))
        } catch {
            throw OpenIDError.providerUnavailable("its JWKS cannot be read")
        }
        return KeySet(keys: keys, declaredAlgorithms: declared, fetched: now)
    }

    private func fetch(_ url: String) async throws -> Data {
        try await Self.fetchJSON(url, client: httpClient, timeout: fetchTimeout, upTo: 1 << 20)
    }

    /// A provider's JSON document (discovery, JWKS); every failure is `providerUnavailable`.
    static func fetchJSON(_ url: String, client: HTTPClient, timeout: TimeAmount, upTo limit: Int) async throws
        -> Data
    {
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await client.execute(request, timeout: timeout)
            guard response.status == .ok else {
                throw OpenIDError.providerUnavailable("\(url) answered \(response.status.code)")
            }
            return Data(buffer: try await response.body.collect(upTo: limit))
        } catch let error as OpenIDError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .connectTimeout {
            throw OpenIDError.providerUnavailable("\(url) did not answer in time")
        } catch {
            throw OpenIDError.providerUnavailable("\(url) could not be reached")
        }
    }
}

/// Claims are checked by `IDTokenVerifier` in Hub's order, so jwt-kit only checks the signature.
private struct OpaqueClaims: JWTPayload {
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A JWT split and decoded, not yet trusted. Errors carry PyJWT's reasons.
struct ParsedJWT {
    let header: [String: JSONValue]
    let claims: [String: JSONValue]

    init(_ token: String) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { throw OpenIDError.badToken("Not enough segments") }
        guard parts.count == 3 else { throw OpenIDError.badToken("Too many segments") }
        guard let headerData = Data(base64URLEncoded: parts[0]) else {
            throw OpenIDError.badToken("Invalid header padding")
        }
        guard case .object(let header) = try? JSONDecoder().decode(JSONValue.self, from: headerData) else {
            throw OpenIDError.badToken("Invalid header string: must be a json object")
        }
        guard let payloadData = Data(base64URLEncoded: parts[1]) else {
            throw OpenIDError.badToken("Invalid payload padding")
        }
        guard case .object(let claims) = try? JSONDecoder().decode(JSONValue.self, from: payloadData) else {
            throw OpenIDError.badToken("Invalid payload string: must be a json object")
        }
        guard Data(base64URLEncoded: parts[2]) != nil else { throw OpenIDError.badToken("Invalid crypto padding") }
        self.header = header
        self.claims = claims
    }
}
