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
    /// Introspecting counts as a use of the token.
    @Sendable func introspect(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard try await authenticatedClient(request) != nil else { throw OAuthError.invalidClient }
        let token = try await tokenParameter(request)
        guard case .valid(let found, let owner) = try await services.tokens.verify(token, clientIP: context.clientIP)
        else {
            return try Self.json(["active": false])
        }
        var body: [String: Any] = [
            "active": true, "scope": found.scopes.joined(separator: " "), "username": owner.username,
            "sub": String(owner.id), "iat": found.created.secondsSince1970, "token_type": "Bearer",
            "client_id": "latchkey", "jti": found.uuid.uuidString.lowercased(), "token_kind": found.kind.rawValue,
        ]
        if let expires = found.expires { body["exp"] = expires.secondsSince1970 }
        return try Self.json(body)
    }

    /// `POST /oauth/revoke` (form `token`): a service client may revoke any token,
    /// a holder only the token it authenticates with. 200 even for unknown tokens.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let token = try await tokenParameter(request)
        var origin = context.origin(via: "oauth")
        if let client = try await authenticatedClient(request) {
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

    /// The service client named by HTTP Basic `client_id:client_secret` (each
    /// form-urlencoded, as RFC 6749 asks).
    private func authenticatedClient(_ request: Request) async throws -> ServiceClient? {
        guard case .password(let id, let secret) = PresentedCredential(authorization: request.headers[.authorization]),
            let clientID = id.removingPercentEncoding, let clientSecret = secret.removingPercentEncoding
        else { return nil }
        return try await services.clients.authenticate(clientID: clientID, secret: clientSecret)
    }

    private func tokenParameter(_ request: Request) async throws -> String {
        let body = try await request.collectBody(upTo: 16 * 1024)
        guard let token = FormEncoding.lastValues(String(buffer: body))["token"], !token.isEmpty else {
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
