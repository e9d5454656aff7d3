import Foundation
import Hummingbird
import LatchkeyCore

/// For the services that rely on Latchkey: RFC 7662 token introspection and
/// RFC 7009 token revocation, answered in OAuth's own error shape.
struct OAuthController {
    let services: LatchkeyServices

    func addRoutes(to router: Router<AppRequestContext>) {
        let oauth = router.group("oauth").add(middleware: OAuthErrorMiddleware())
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
        return try await ClientService(storage: services.storage, clock: services.clock)
            .authenticate(clientID: clientID, secret: clientSecret)
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

/// RFC 6749's error body: `{"error": "...", "error_description": "..."}`.
struct OAuthError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let description: String?
    var headers: HTTPFields = [:]

    static let invalidClient = OAuthError(
        status: .unauthorized, code: "invalid_client", description: "client authentication failed",
        headers: [.wwwAuthenticate: #"Basic realm="latchkey""#])

    static func invalidRequest(_ description: String) -> OAuthError {
        OAuthError(status: .badRequest, code: "invalid_request", description: description)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = ["error": code]
        if let description { body["error_description"] = description }
        var response = try OAuthController.json(body)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }
}

struct OAuthErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as OAuthError {
            throw error
        } catch let error as LimitExceeded {
            throw OAuthError(
                status: error.status, code: error.isOverload ? "temporarily_unavailable" : "slow_down",
                description: "\(error)", headers: error.retryHeaders)
        } catch let error as StorageUnavailable {
            context.logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            throw OAuthError(status: .serviceUnavailable, code: "temporarily_unavailable", description: nil)
        } catch let error as any HTTPResponseError {
            throw OAuthError(status: error.status, code: "invalid_request", description: error.status.reasonPhrase)
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw OAuthError(status: .internalServerError, code: "server_error", description: nil)
        }
    }
}
