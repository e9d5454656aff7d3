import Foundation
import Hummingbird
import LatchkeyCore

/// For the services that rely on Latchkey: RFC 7662 token introspection and
/// RFC 7009 token revocation, answered in OAuth's own error shape.
struct OAuthController {
    let services: LatchkeyServices

    func addRoutes(to router: Router<AppRequestContext>) {
        let oauth = router.group("oauth").add(middleware: DialectErrorMiddleware(dialect: OAuthDialect()))
        oauth.post("introspect", use: introspect)
        oauth.post("revoke", use: revoke)
    }

    /// `POST /oauth/introspect` (form `token`, optional `token_type_hint`), as a
    /// service client: the token's facts, or exactly `{"active": false}`.
    /// Introspecting counts as a use of the token, from `client_ip` when the service names the
    /// address its own client called from (a token's allowlist is checked against it), else
    /// from the service's address.
    @Sendable func introspect(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await formParameters(request)
        guard try await authenticatedClient(request, form) != nil else { throw OAuthError.invalidClient }
        let token = try tokenParameter(form)
        var address = context.clientIP
        if let named = form["client_ip"] {
            guard CIDR.isAddress(named) else { throw OAuthError.invalidRequest("client_ip is not an IP address") }
            address = named
        }
        guard
            case .valid(let found, let owner) = try await services.tokens.verify(
                token, clientIP: address, userAgent: form["client_user_agent"] ?? request.headers[.userAgent])
        else {
            return try Self.json(["active": false])
        }
        var body: [String: Any] = [
            "active": true, "username": owner.username,
            // A reserved scope only while its owner is an administrator: what a relying service trusts.
            "scope": services.tokens.limits.effectiveScopes(found.scopes, of: owner).joined(separator: " "),
            "sub": String(owner.id), "iat": found.created.secondsSince1970, "token_type": "Bearer",
            "client_id": "latchkey", "jti": found.uuid.uuidString.lowercased(), "token_kind": found.kind.rawValue,
        ]
        if let expires = found.expires {
            body["exp"] = expires.secondsSince1970
            body["expires_at"] = UTCTimestamp(expires).isoFormat
        }
        if let remaining = found.lifecycle.usesRemaining { body["uses_remaining"] = remaining }
        if let metadata = found.lifecycle.metadata,
            let object = try? JSONSerialization.jsonObject(with: Data(metadata.utf8))
        {
            body["metadata"] = object
        }
        return try Self.json(body)
    }

    /// `POST /oauth/revoke` (form `token`): a service client may revoke any token,
    /// a holder only the token it authenticates with. 200 even for unknown tokens.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await formParameters(request)
        let token = try tokenParameter(form)
        var origin = context.origin(via: "oauth")
        if let client = try await authenticatedClient(request, form) {
            origin.via = "client:\(client.clientID)"
        } else {
            guard case .token(let presented) = PresentedCredential(authorization: request.headers[.authorization]),
                presented == token,
                case .valid(let held, _) = try await services.tokens.verify(presented, clientIP: context.clientIP)
            else { throw OAuthError.invalidClient }
            origin.userID = held.ownerID
        }
        if let found = try await services.tokens.find(secret: token) {
            try await services.tokens.revoke(found, by: origin)
        }
        return Response(status: .ok)
    }

    /// The service client a request authenticates as: by HTTP Basic `client_id:client_secret`
    /// (each form-urlencoded) or by `client_id` and `client_secret` in the form body
    /// (`client_secret_post`), as RFC 6749 §2.3.1 allows; nil when it names none. Credentials
    /// that fail are `invalid_client`; both methods at once is `invalid_request` (one per request).
    private func authenticatedClient(_ request: Request, _ form: [String: String]) async throws -> ServiceClient? {
        var basic: (id: String, secret: String)?
        if case .password(let id, let secret) = PresentedCredential(authorization: request.headers[.authorization]) {
            guard let id = id.removingPercentEncoding, let secret = secret.removingPercentEncoding else {
                throw OAuthError.invalidClient
            }
            basic = (id, secret)
        }
        // A `client_id` alone names a public client, which Latchkey has none of: no credentials.
        let posted = form["client_id"].flatMap { id in form["client_secret"].map { (id: id, secret: $0) } }
        if basic != nil && posted != nil {
            throw OAuthError.invalidRequest("authenticate the client one way, not both")
        }
        guard let (id, secret) = basic ?? posted else { return nil }
        guard let client = try await services.clients.authenticate(clientID: id, secret: secret) else {
            throw OAuthError.invalidClient
        }
        return client
    }

    private func formParameters(_ request: Request) async throws -> [String: String] {
        let body = try await request.collectBody(upTo: 16 * 1024)
        return FormEncoding.lastValues(String(buffer: body))
    }

    private func tokenParameter(_ form: [String: String]) throws -> String {
        guard let token = form["token"], !token.isEmpty else {
            throw OAuthError.invalidRequest("the token parameter is required")
        }
        return token
    }

    static func json(_ object: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
