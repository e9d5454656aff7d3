import Foundation
import HTTPTypes
import Hummingbird
import LatchkeyCore

/// Latchkey's own token API, `/v1/tokens`: the whole life of a token (usage limits,
/// allowlists, metadata, rotation with overlap). The wire format lives in V1Wire.swift,
/// errors in ProblemDetails.swift.
struct V1TokenController {
    static let defaultPageSize = 50
    static let maxPageSize = 100

    let services: LatchkeyServices
    let dialect = V1Dialect()

    func addRoutes(to router: Router<AppRequestContext>) {
        let api = router.group("v1", speaking: dialect, tokens: services.tokens)
        api.post("tokens", use: create)
        api.get("tokens", use: list)
        api.get("tokens/self", use: readSelf)
        api.post("tokens/self/rotate", use: rotateSelf)
        api.get("tokens/:uuid", use: read)
        api.patch("tokens/:uuid", use: update)
        api.delete("tokens/:uuid", use: revoke)
        api.post("tokens/:uuid/rotate", use: rotate)
        api.refuseMethods(otherThan: [.get, .post], on: "tokens", in: dialect)
        api.refuseMethods(otherThan: [.get], on: "tokens/self", in: dialect)
        api.refuseMethods(otherThan: [.post], on: "tokens/self/rotate", in: dialect)
        api.refuseMethods(otherThan: [.get, .patch, .delete], on: "tokens/:uuid", in: dialect)
        api.refuseMethods(otherThan: [.post], on: "tokens/:uuid/rotate", in: dialect)
    }

    /// `POST /v1/tokens` → 201 with the new app token and, this once, its secret.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageTokens, context)
        let fields = try await V1Fields.decode(
            request, known: ["title", "scopes", "expires_at", "expires_in", "max_uses", "allowed_ips", "metadata"])
        let now = services.clock.now
        let expiry =
            try fields.expiry()
            ?? principal.grant.capping(
                services.tokens.limits.cappingDefault(.never, kind: .app, now: now), now: now)
        let issued = try await services.tokens.create(
            for: principal.user,
            TokenRequest(
                kind: .app, title: try fields.text("title") ?? nil, scopes: try fields.strings("scopes") ?? [],
                expiry: expiry, maxUses: try fields.integer("max_uses", in: 1...TokenLifecycle.maxUses),
                allowedIPs: try fields.networks("allowed_ips") ?? [], metadata: try fields.metadata() ?? nil),
            grantedBy: principal.grant, by: context.origin(via: "v1"))
        return try created(issued, request: request, context: context)
    }

    /// `GET /v1/tokens?limit=&cursor=`: the caller's tokens, oldest first; the next page's
    /// address in `Link: <…>; rel="next"` while there is one.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageTokens, context)
        let parameters = request.uri.queryParameters
        var limit = Self.defaultPageSize
        if let text = parameters["limit"] {
            guard text.count <= 3, let value = Int(text), (1...Self.maxPageSize).contains(value) else {
                throw ProblemDetails.invalidRequest("'limit' must be a whole number from 1 to \(Self.maxPageSize).")
            }
            limit = value
        }
        var afterID: Int64?
        if let cursor = parameters["cursor"] {
            guard let id = PageCursor.position(String(cursor)) else {
                throw ProblemDetails.invalidRequest("'cursor' is not one this API gave.")
            }
            afterID = id
        }
        // One more than the page: whether there is a next page, without counting them all.
        let found = try await services.tokens.list(
            TokenQuery(ownerID: principal.user.id, afterID: afterID, limit: limit + 1))
        let page = found.prefix(limit)
        var response = try context.responseEncoder.encode(
            V1TokenList(tokens: page.map { V1Token($0) }), from: request, context: context)
        if found.count > limit, let last = page.last {
            response.headers[.link] =
                "</v1/tokens?limit=\(limit)&cursor=\(PageCursor.cursor(after: last.id))>; rel=\"next\""
        }
        return response
    }

    /// `GET /v1/tokens/self`: the token the request presents.
    @Sendable func readSelf(_ request: Request, context: AppRequestContext) async throws -> V1Token {
        V1Token(try dialect.principal(for: .useOwnToken, context).token)
    }

    /// `GET /v1/tokens/{uuid}`: one of the caller's tokens, never its secret.
    @Sendable func read(_ request: Request, context: AppRequestContext) async throws -> V1Token {
        let principal = try dialect.principal(for: .manageTokens, context)
        return V1Token(try await ownedToken(context, principal))
    }

    /// `PATCH /v1/tokens/{uuid}`: title, metadata, allowed_ips, and scopes only ever narrower.
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> V1Token {
        let principal = try dialect.principal(for: .manageTokens, context)
        let token = try await ownedToken(context, principal)
        let fields = try await V1Fields.decode(request, known: ["title", "metadata", "allowed_ips", "scopes"])
        let change = TokenChange(
            title: try fields.text("title"), metadata: try fields.metadata(),
            allowedIPs: try fields.has("allowed_ips") ? fields.networks("allowed_ips") ?? [] : nil,
            scopes: try fields.strings("scopes"))
        guard
            let updated = try await services.tokens.update(
                token, change, grantedBy: principal.grant, by: context.origin(via: "v1"))
        else { throw ProblemDetails.notFound }
        return V1Token(updated)
    }

    /// `DELETE /v1/tokens/{uuid}` → 204; the tokens it created go with it.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageTokens, context)
        let token = try await ownedToken(context, principal)
        guard try await services.tokens.revoke(token, by: context.origin(via: "v1")) else {
            throw ProblemDetails.notFound
        }
        return Response(status: .noContent)
    }

    /// `POST /v1/tokens/{uuid}/rotate` → 201 with the successor and its secret.
    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageTokens, context)
        let token = try await ownedToken(context, principal)
        return try await rotate(token, rotatingItself: token.id == principal.token.id, request, context, principal)
    }

    /// `POST /v1/tokens/self/rotate`: any token may rotate itself, never into a longer life.
    @Sendable func rotateSelf(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .useOwnToken, context)
        return try await rotate(principal.token, rotatingItself: true, request, context, principal)
    }

    private func rotate(
        _ token: Token, rotatingItself: Bool, _ request: Request, _ context: AppRequestContext, _ principal: Principal
    ) async throws -> Response {
        let fields = try await V1Fields.decode(request, known: ["overlap", "expires_at", "expires_in"])
        let issued = try await services.tokens.rotate(
            token,
            RotationRequest(
                overlap: try fields.duration("overlap", allowsZero: true) ?? 0, expiry: try fields.expiry(),
                idempotencyKey: request.headers[.idempotencyKey]),
            grantedBy: principal.grant, rotatingItself: rotatingItself, by: context.origin(via: "v1"))
        return try created(issued, request: request, context: context)
    }

    private func created(_ issued: IssuedToken, request: Request, context: AppRequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            V1Token(issued.token, secret: issued.secret), from: request, context: context)
        response.status = .created
        response.headers[.location] = "/v1/tokens/\(issued.token.uuid.uuidString.lowercased())"
        response.markHoldingSecret()
        return response
    }

    /// Another user's token is answered exactly like an unknown one.
    private func ownedToken(_ context: AppRequestContext, _ principal: Principal) async throws -> Token {
        guard let uuid = UUID(uuidString: try context.parameters.require("uuid")),
            let token = try await services.tokens.find(uuid: uuid), token.ownerID == principal.user.id
        else { throw ProblemDetails.notFound }
        return token
    }
}

/// A page's position, opaque to clients: the last id shown, in base64url.
enum PageCursor {
    static func cursor(after id: Int64) -> String {
        Data("\(id)".utf8).base64URLEncoded
    }

    static func position(_ cursor: String) -> Int64? {
        guard cursor.utf8.count <= 32 else { return nil }
        guard let data = Data(base64URLEncoded: cursor), let text = String(data: data, encoding: .utf8),
            text.utf8.count <= 19, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let id = Int64(text)
        else { return nil }
        return id
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let link = HTTPField.Name("Link")!
}
