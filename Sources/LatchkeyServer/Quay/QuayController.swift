import Foundation
import Hummingbird
import LatchkeyCore

/// Quay's app-specific token API (`/api/v1/user/apptoken`), its administrators'
/// listing and its current-user call. The wire format lives in QuayWire.swift.
struct QuayController {
    let services: LatchkeyServices
    let configuration: ServerConfiguration
    let dialect: QuayDialect

    init(services: LatchkeyServices, configuration: ServerConfiguration) {
        self.services = services
        self.configuration = configuration
        dialect = QuayDialect(externalBaseURL: configuration.externalBaseURL)
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let api = router.group("api/v1", speaking: dialect, tokens: services.tokens)
        api.post("user/apptoken", use: create)
        api.get("user/apptoken", use: list)
        api.get("user/apptoken/:uuid", use: read)
        api.delete("user/apptoken/:uuid", use: revoke)
        api.get("superuser/apptokens", use: listAll)
        api.get("user", use: currentUser)
        api.refuseMethods(otherThan: [.get, .post], on: "user/apptoken", in: dialect)
        api.refuseMethods(otherThan: [.get, .delete], on: "user/apptoken/:uuid", in: dialect)
        api.refuseMethods(otherThan: [.get], on: "superuser/apptokens", in: dialect)
        api.refuseMethods(otherThan: [.get], on: "user", in: dialect)
    }

    /// `POST /api/v1/user/apptoken` → 200 with the new token and its code. A token never
    /// creates a token with a scope it lacks or a later expiry than its own.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> SecretBearing<
        QuayTokenEnvelope
    > {
        let principal = try dialect.principal(for: .manageTokens, context)
        let now = services.clock.now
        let body = try await QuayCreateRequest.decode(request, now: now)
        // The server's default lifetime, shortened to the policy's longest and the creator's own
        // expiry; an explicit one is checked as asked.
        let serverDefault = services.tokens.limits.cappingDefault(
            configuration.appTokenLifetime.map { .after($0) } ?? .never, kind: .app, now: now)
        let expiry = body.expiration ?? principal.grant.capping(serverDefault, now: now)
        let issued: IssuedToken
        do {
            issued = try await services.tokens.create(
                for: principal.user,
                TokenRequest(
                    kind: .app, title: body.title, scopes: body.scopes, expiry: expiry,
                    recoverable: services.tokens.secretBox != nil),
                grantedBy: principal.grant, by: context.origin(via: "quay"))
        } catch TokenError.exceedsGrant(let violation) {
            throw QuayError(status: .forbidden, kind: .insufficientScope, detail: "\(violation)")
        } catch let error as TokenError {
            throw QuayError.invalidRequest("\(error)")
        }
        return SecretBearing(QuayTokenEnvelope(token: QuayToken(issued.token, code: issued.secret)))
    }

    /// `GET /api/v1/user/apptoken[?expiring=]`: the caller's app tokens, expired ones
    /// included until garbage collection; never their codes.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> QuayTokenList {
        let principal = try dialect.principal(for: .manageTokens, context)
        return try await tokenList(request, owner: principal.user.id) { token in QuayToken(token) }
    }

    /// `GET /api/v1/superuser/apptokens[?expiring=]`: every user's app tokens, for administrators.
    @Sendable func listAll(_ request: Request, context: AppRequestContext) async throws -> QuayTokenList {
        _ = try dialect.principal(for: .listAllTokens, context)
        let usernames = try await services.accounts.usernames()
        return try await tokenList(request, owner: nil) { token in QuayToken(token, owner: usernames[token.ownerID]) }
    }

    private func tokenList(_ request: Request, owner: Int64?, view: (Token) -> QuayToken) async throws -> QuayTokenList
    {
        var query = TokenQuery(ownerID: owner, kind: .app)
        let expiring = request.uri.queryParameters["expiring"].map { QuayWire.truthy(String($0)) }
        if expiring == true {
            let now = services.clock.now
            query.expiringAfter = now
            query.expiringUntil = now.addingTimeInterval(expiringWindow)
        }
        return QuayTokenList(tokens: try await services.tokens.list(query).map(view), onlyExpiring: expiring)
    }

    /// "Expiring soon": within 10% of the default app-token lifetime (4 weeks when
    /// none is set), rounded up to whole seconds, at least one second.
    var expiringWindow: TimeInterval {
        max(1, ((configuration.appTokenLifetime ?? 4 * 604_800) * 0.1).rounded(.up))
    }

    /// `GET /api/v1/user/apptoken/{uuid}`: the caller's live token, with its code when
    /// recoverable and within the caller's own grant (a narrow token never reads the
    /// code of a wider or longer-lived one).
    @Sendable func read(_ request: Request, context: AppRequestContext) async throws -> SecretBearing<
        QuayTokenEnvelope
    > {
        let principal = try dialect.principal(for: .manageTokens, context)
        let token = try await ownedToken(context, principal)
        guard !token.isExpired(at: services.clock.now) else { throw QuayError.notFound }
        var code = principal.grant.covers(token) ? services.tokens.recoverSecret(of: token) : nil
        // Before a secret is handed on, the grant as the database holds it: an app token rotated
        // away on another node a moment ago (this node's cache not told yet) is shown nothing.
        if code != nil, principal.token.kind == .app {
            let current = try await services.tokens.find(uuid: principal.token.uuid)
            if !(current.map { TokenGrant(of: $0).covers(token) } ?? false) { code = nil }
        }
        return SecretBearing(QuayTokenEnvelope(token: QuayToken(token, code: code)))
    }

    /// `DELETE /api/v1/user/apptoken/{uuid}` → 204, expired or not (a hard delete).
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageTokens, context)
        guard
            try await services.tokens.revoke(try await ownedToken(context, principal), by: context.origin(via: "quay"))
        else {
            throw QuayError.notFound
        }
        return Response(status: .noContent)
    }

    /// `GET /api/v1/user/`: who the credentials belong to.
    @Sendable func currentUser(_ request: Request, context: AppRequestContext) async throws -> QuayUser {
        QuayUser(try dialect.principal(for: .readAccount, context).user)
    }

    /// Another user's token is answered exactly like an unknown one.
    private func ownedToken(_ context: AppRequestContext, _ principal: Principal) async throws -> Token {
        guard let uuid = UUID(uuidString: try context.parameters.require("uuid")),
            let token = try await services.tokens.find(uuid: uuid),
            token.ownerID == principal.user.id, token.kind == .app
        else { throw QuayError.notFound }
        return token
    }
}
