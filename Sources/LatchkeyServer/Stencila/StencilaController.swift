import Foundation
import Hummingbird
import LatchkeyCore

/// Stencila Hub's token API (`/api/tokens/`) and its "who am I" (`/api/users/me`).
/// The wire format lives in StencilaWire.swift.
struct StencilaController {
    let services: LatchkeyServices
    let configuration: ServerConfiguration
    let dialect = StencilaDialect()

    func addRoutes(to router: Router<AppRequestContext>) {
        let api = router.group("api", speaking: dialect, tokens: services.tokens)
        // Hummingbird matches a path with or without its trailing slash, as Hub's clients need.
        api.post("tokens", use: create)
        api.get("tokens", use: list)
        api.get("tokens/:token", use: retrieve)
        api.delete("tokens/:token", use: destroy)
        api.get("users/me", use: me)
        api.refuseMethods(otherThan: [.get, .post], on: "tokens", in: dialect)
        api.refuseMethods(otherThan: [.get, .delete], on: "tokens/:token", in: dialect)
        api.refuseMethods(otherThan: [.get], on: "users/me", in: dialect)
    }

    /// `POST /api/tokens/`: sign in with username (or email) and password, an OpenID
    /// Connect ID token, or a session token already on the request; answers a new session token.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> SecretBearing<
        EditedResponse<StencilaCreatedToken>
    > {
        let body = try await StencilaCreateRequest.decode(request)
        let user: User
        var grant = TokenGrant.account
        if let username = body.username, let password = body.password {
            guard
                let found = try await services.accounts.authenticate(
                    login: username, password: password, by: context.origin(via: "stencila"),
                    isWanted: context.isClientConnected)
            else { throw StencilaError.incorrectCredentials }
            user = found
        } else if let openid = body.openid {
            user = try await services.accounts.signIn(
                identifiedBy: { try await services.openID.verify(openid) }, by: context.origin(via: "stencila"))
        } else {
            // An app token never mints a session: a session holds every right of its user.
            let principal = try dialect.principal(for: .mintSession, context)
            user = principal.user
            grant = principal.grant
        }
        let lifetime = services.tokens.limits.cappingDefault(
            .sliding(configuration.sessionLifetime), kind: .session, now: services.clock.now)
        let issued = try await services.tokens.create(
            for: user, TokenRequest(kind: .session, expiry: lifetime),
            grantedBy: grant, by: Origin(userID: user.id, via: "stencila", address: context.clientIP))
        return SecretBearing(EditedResponse(status: .created, response: StencilaCreatedToken(issued, owner: user)))
    }

    /// `GET /api/tokens/`: the caller's tokens, expired ones included, a page at a time.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> StencilaTokenPage {
        let principal = try dialect.principal(for: .manageTokens, context)
        let page = StencilaPagination(
            baseURL: configuration.externalBaseURL + request.uri.path, rawQuery: request.uri.query ?? "")
        let found = try await services.tokens.page(
            TokenQuery(ownerID: principal.user.id, limit: page.limit, offset: page.offset))
        return StencilaTokenPage(
            count: found.total, next: page.next(count: found.total), previous: page.previous,
            results: found.tokens.map(StencilaToken.init))
    }

    /// `GET /api/tokens/{token}/`: retrieve and refresh.
    @Sendable func retrieve(_ request: Request, context: AppRequestContext) async throws -> StencilaToken {
        let named = try context.parameters.require("token")
        if TokenSecret(named) != nil {
            // Holding the token is the proof; retrieving it counts as using it.
            guard
                case .valid(let token, _) = try await services.tokens.verify(
                    named, clientIP: context.clientIP, userAgent: request.headers[.userAgent])
            else { throw StencilaError.notFound }
            return StencilaToken(token)
        }
        let token = try await ownedToken(key: named, context: context)
        // Refreshing extends a life: only for a token within the caller's own grant.
        guard let principal = context.identity, principal.grant.covers(token) else { return StencilaToken(token) }
        return StencilaToken(try await services.tokens.refresh(token))
    }

    /// `DELETE /api/tokens/{token}/`.
    @Sendable func destroy(_ request: Request, context: AppRequestContext) async throws -> Response {
        let named = try context.parameters.require("token")
        let token: Token
        if TokenSecret(named) != nil {
            // Verified as `GET` verifies it (expired, used up, rotated away, allowlist): a token
            // rotated away is reuse, recorded as such, and a thief cannot delete the evidence.
            guard
                case .valid(let found, _) = try await services.tokens.verify(
                    named, clientIP: context.clientIP, userAgent: request.headers[.userAgent])
            else { throw StencilaError.notFound }
            token = found
        } else {
            token = try await ownedToken(key: named, context: context)
        }
        var origin = context.origin(via: "stencila")
        origin.userID = origin.userID ?? token.ownerID  // holding the secret acts for its owner
        guard try await services.tokens.revoke(token, by: origin) else { throw StencilaError.notFound }
        return Response(status: .noContent)
    }

    /// A live token named by its 8-character `id`, only among the caller's own. Without
    /// credentials the id names nothing (404, as for an unknown token).
    private func ownedToken(key: String, context: AppRequestContext) async throws -> Token {
        guard key.count == TokenSecret.keyLength, context.identity != nil else { throw StencilaError.notFound }
        let principal = try dialect.principal(for: .manageTokens, context)
        guard let token = try await services.tokens.find(key: key, ownerID: principal.user.id),
            !token.isExpired(at: services.clock.now)
        else { throw StencilaError.notFound }
        return token
    }

    /// `GET /api/users/me`: the user the request's token belongs to.
    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> StencilaMe {
        StencilaMe(try dialect.principal(for: .readAccount, context).user)
    }
}
