import Foundation
import Hummingbird
import LatchkeyCore

/// The web pages of one's own account: sign in and out, one's tokens, a new token (its
/// secret shown once), rotation and revocation. Server-rendered (`Templates/`), one
/// stylesheet and a few lines of script (`Static/`); every failure is a page (`WebDialect`).
package struct WebController {
    package static let listLimit = 500
    static let notices = [
        "revoked": "The token was revoked; it no longer works.",
        "signedout": "You have signed out.",
        "ended": "Your session has ended; sign in again.",
        "activated": "The account was activated.",
        "deactivated": "The account was deactivated; its tokens no longer work.",
    ]

    /// The first path segments of the pages: HTML for people, outside the API's description.
    package static let pageSegments: Set<String> = ["", "signin", "signout", "tokens", "admin", "static"]

    package static func isPage(_ path: String) -> Bool {
        pageSegments.contains(
            String(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().first ?? ""))
    }

    let services: LatchkeyServices
    let configuration: ServerConfiguration

    func addRoutes(to router: Router<AppRequestContext>) {
        WebResources.load()
        let pages = Self.group(router, tokens: services.tokens)
        pages.get("/", use: home)
        pages.get("signin", use: signInPage)
        pages.post("signin", use: signIn)
        pages.post("signout", use: signOut)
        pages.get("tokens", use: tokensPage)
        pages.get("tokens/new", use: newTokenPage)
        pages.post("tokens", use: create)
        pages.get("tokens/:uuid/revoke", use: revokePage)
        pages.post("tokens/:uuid/revoke", use: revoke)
        pages.get("tokens/:uuid/rotate", use: rotatePage)
        pages.post("tokens/:uuid/rotate", use: rotate)
        WebOpenIDController(web: self).addRoutes(to: pages)
        WebAdminController(services: services, secureCookies: secureCookies).addRoutes(to: pages)
    }

    /// The routes of pages: failures as pages, the session from its cookie. The stylesheet
    /// and script need no session: their requests do not look one up.
    static func group(_ router: Router<AppRequestContext>, tokens: TokenService) -> RouterGroup<AppRequestContext> {
        let pages = router.group().add(middleware: DialectErrorMiddleware(dialect: WebDialect()))
        pages.get("static/:file", use: asset)
        return pages.add(middleware: WebSessionMiddleware(tokens: tokens))
    }

    // MARK: Signing in and out

    @Sendable func home(_ request: Request, context: AppRequestContext) async throws -> Response {
        WebPage.redirect(to: context.webSession == nil ? "/signin" : "/tokens")
    }

    @Sendable func signInPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        if context.webSession != nil { return WebPage.redirect(to: "/tokens") }
        return signInForm(request, notice: Self.notice(request))
    }

    /// The sign-in form, with a form token made for this browser's nonce, which its cookie
    /// keeps until there is a session (`SignInForms`).
    func signInForm(
        _ request: Request, login: String = "", notice: String? = nil, error: String? = nil,
        status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) -> Response {
        // The nonce is kept across pages, so that each tab's form stays good. It may be one
        // planted: what counts is the token, which only the server makes for it.
        let nonce = request.cookies[WebSession.signInCookieName]?.value.nilIfInvalidToken ?? WebSession.randomToken()
        let formToken = services.signInForms.token(for: nonce)
        var chrome = PageChrome(title: "Sign in", notice: notice, error: error)
        chrome.csrf = formToken
        let providers = services.openID.webProviders.enumerated().map { index, provider in
            SignInView.Provider(index: index, name: provider.webClient?.name ?? provider.issuer)
        }
        var response = WebPage.html(
            WebPage.render(
                "signin",
                SignInView(csrf: formToken, login: login, providers: providers, hasProviders: !providers.isEmpty),
                chrome: chrome),
            status: status, headers: headers)
        response.setCookie(
            Cookie(
                name: WebSession.signInCookieName, value: nonce, maxAge: Int(SignInForms.lifetime), path: "/signin",
                secure: secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }

    /// `POST /signin`: the same throttling and audit as the API's password sign-in. Only from
    /// this site's own page: a form another site posts would sign the browser in to an account
    /// of its choosing (login CSRF).
    @Sendable func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard SignInForms.isFromOwnPages(request, publicURL: configuration.externalBaseURL, secure: secureCookies)
        else { throw WebPageError.formExpired }
        let form = try await WebForm.read(request)
        guard let nonce = request.cookies[WebSession.signInCookieName]?.value.nilIfInvalidToken,
            services.signInForms.accepts(form["csrf"], nonce: nonce)
        else { throw WebPageError.formExpired }
        let login = form["login"] ?? ""
        guard !login.isEmpty, let password = form.raw("password"), !password.isEmpty else {
            return signInForm(
                request, login: login, error: "Enter your username (or email) and your password.",
                status: .badRequest)
        }
        let user: User?
        do {
            user = try await services.accounts.authenticate(
                login: login, password: password, by: context.origin(via: "web"), isWanted: context.isClientConnected)
        } catch let limit as LimitExceeded {
            return signInForm(
                request, login: login, error: "\(limit)", status: limit.status, headers: limit.retryHeaders)
        }
        guard let user else {
            return signInForm(
                request, login: login, error: "The username or password is incorrect.", status: .unauthorized)
        }
        return try await startSession(for: user, context: context)
    }

    /// A new sign-in session for `user`, in the cookie, and on to their tokens.
    func startSession(for user: User, context: AppRequestContext) async throws -> Response {
        // A browser holds one session: the one it signed in with before ends, not orphaned.
        if let previous = context.webSession {
            _ = try await services.tokens.revoke(previous.principal.token, by: context.origin(via: "web"))
        }
        let lifetime = services.tokens.limits.cappingDefault(
            .sliding(configuration.sessionLifetime), kind: .session, now: services.clock.now)
        let issued = try await services.tokens.create(
            for: user, TokenRequest(kind: .session, title: "Web sign-in", expiry: lifetime), grantedBy: .account,
            by: Origin(userID: user.id, via: "web", address: context.clientIP))
        let maxAge = Int(min(max(configuration.sessionLifetime, 60), Lifetime.maximum))
        return WebPage.redirect(
            to: "/tokens",
            cookies: [
                WebSession.cookie(issued.secret.value, maxAge: maxAge, secure: secureCookies),
                Cookie(
                    name: WebSession.signInCookieName, value: "", maxAge: 0, path: "/signin", secure: secureCookies,
                    httpOnly: true, sameSite: .lax),
            ])
    }

    /// `POST /signout`: the session is revoked, not only forgotten by the browser.
    @Sendable func signOut(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (session, _) = try await submitted(request, context)
        _ = try await services.tokens.revoke(session.principal.token, by: context.origin(via: "web"))
        return signedOut(notice: "signedout")
    }

    func signedOut(notice: String) -> Response {
        WebPage.redirect(
            to: "/signin?notice=\(notice)", cookies: [WebSession.cookie("", maxAge: nil, secure: secureCookies)])
    }

    // MARK: Tokens

    @Sendable func tokensPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try requireSession(request, context)
        let now = services.clock.now
        let query = TokenQuery(ownerID: session.principal.user.id)
        let rows = try await services.tokens.list(query.newest(Self.listLimit)).map {
            WebTokenRow($0, now: now, currentID: session.principal.token.id)
        }
        return WebPage.response(
            "tokens", try await TokensView(rows, of: query, tokens: services.tokens),
            chrome: PageChrome(title: "Your tokens", session: session, notice: Self.notice(request)))
    }

    @Sendable func newTokenPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try requireSession(request, context)
        return newTokenForm(NewTokenView(session: session, limits: services.tokens.limits), session: session)
    }

    func newTokenForm(_ view: NewTokenView, session: WebSession, error: String? = nil) -> Response {
        WebPage.response(
            "new-token", view, chrome: PageChrome(title: "New token", session: session, error: error),
            status: error == nil ? .ok : .badRequest)
    }

    /// `POST /tokens`: a new app token, its secret shown this once. A refusal shows the form
    /// again, as it was filled in, with the reason.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (session, form) = try await submitted(request, context)
        let view = NewTokenView(session: session, limits: services.tokens.limits, form: form)
        let now = services.clock.now
        do {
            let scopes = try view.requestedScopes()
            let issued = try await services.tokens.create(
                for: session.principal.user,
                TokenRequest(
                    kind: .app, title: form["title"], scopes: scopes, expiry: try view.requestedExpiry(now: now)),
                grantedBy: session.principal.grant, by: context.origin(via: "web"))
            return secretPage(issued, heading: "Your new token", session: session)
        } catch let error as WebFormError {
            return newTokenForm(view, session: session, error: error.message)
        } catch let error as TokenError {
            return newTokenForm(view, session: session, error: WebDialect.sentence(error))
        }
    }

    func secretPage(_ issued: IssuedToken, heading: String, session: WebSession) -> Response {
        let now = services.clock.now
        return WebPage.response(
            "secret",
            SecretView(
                heading: heading, secret: issued.secret.value,
                token: WebTokenRow(issued.token, now: now)),
            chrome: PageChrome(title: heading, session: session))
    }

    @Sendable func revokePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try requireSession(request, context)
        let token = try await ownedToken(context, session)
        return WebPage.response(
            "revoke",
            RevokeView(
                csrf: session.csrf,
                token: WebTokenRow(token, now: services.clock.now, currentID: session.principal.token.id),
                action: "/tokens/\(token.uuid.uuidString.lowercased())/revoke", cancel: "/tokens"),
            chrome: PageChrome(title: "Revoke a token", session: session))
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (session, _) = try await submitted(request, context)
        let token = try await ownedToken(context, session)
        _ = try await services.tokens.revoke(token, by: context.origin(via: "web"))
        // Revoking the session in use signs this browser out.
        if token.id == session.principal.token.id { return signedOut(notice: "signedout") }
        return WebPage.redirect(to: "/tokens?notice=revoked")
    }

    @Sendable func rotatePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try requireSession(request, context)
        let token = try await ownedToken(context, session)
        return rotateForm(token, session: session)
    }

    func rotateForm(_ token: Token, session: WebSession, error: String? = nil, status: HTTPResponse.Status = .ok)
        -> Response
    {
        WebPage.response(
            "rotate",
            RotateView(
                csrf: session.csrf, token: WebTokenRow(token, now: services.clock.now),
                action: "/tokens/\(token.uuid.uuidString.lowercased())/rotate",
                overlaps: RotateView.overlaps(longest: services.tokens.limits.maxRotationOverlap)),
            chrome: PageChrome(title: "Rotate a token", session: session, error: error), status: status)
    }

    /// `POST /tokens/{uuid}/rotate`: the successor's secret shown once; the old token works
    /// on for the overlap chosen.
    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (session, form) = try await submitted(request, context)
        let token = try await ownedToken(context, session)
        let choices = RotateView.overlaps(longest: services.tokens.limits.maxRotationOverlap)
        guard
            let overlap = form["overlap"].flatMap(Int.init).flatMap({ seconds in
                choices.first(where: { $0.seconds == seconds })
            })
        else {
            return rotateForm(
                token, session: session, error: "Choose one of the overlaps offered.", status: .badRequest)
        }
        do {
            let issued = try await services.tokens.rotate(
                token, RotationRequest(overlap: TimeInterval(overlap.seconds)), grantedBy: session.principal.grant,
                rotatingItself: false, by: context.origin(via: "web"))
            return secretPage(issued, heading: "Your rotated token", session: session)
        } catch let error as TokenError {
            return rotateForm(
                token, session: session, error: WebDialect.sentence(error),
                status: error == .alreadyRotated ? .conflict : .badRequest)
        }
    }

    @Sendable static func asset(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let asset = WebResources.assets[try context.parameters.require("file")] else {
            throw WebPageError.notFound
        }
        return Response(
            status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: asset.body))
    }

    // MARK: Shared

    var secureCookies: Bool { configuration.externalBaseURL.lowercased().hasPrefix("https://") }

    static func notice(_ request: Request) -> String? {
        request.uri.queryParameters["notice"].flatMap { notices[String($0)] }
    }

    /// The signed-in session, else the way to sign in (saying the session ended if the
    /// browser had one).
    static func requireSession(_ request: Request, _ context: AppRequestContext, secure: Bool) throws -> WebSession {
        if let session = context.webSession { return session }
        guard request.cookies[WebSession.cookieName] != nil else {
            throw WebPageError(status: .seeOther, message: "Sign in first.", location: "/signin")
        }
        throw WebPageError(
            status: .seeOther, message: "Your session has ended.", location: "/signin?notice=ended",
            cookies: [WebSession.cookie("", maxAge: nil, secure: secure)])
    }

    func requireSession(_ request: Request, _ context: AppRequestContext) throws -> WebSession {
        try Self.requireSession(request, context, secure: secureCookies)
    }

    /// A form sent by a signed-in session from one of its own pages.
    func submitted(_ request: Request, _ context: AppRequestContext) async throws -> (WebSession, WebForm) {
        let session = try requireSession(request, context)
        return (session, try await session.form(of: request))
    }

    /// One of the session user's own tokens; another's is answered like an unknown one.
    private func ownedToken(_ context: AppRequestContext, _ session: WebSession) async throws -> Token {
        guard let uuid = UUID(uuidString: try context.parameters.require("uuid")),
            let token = try await services.tokens.find(uuid: uuid), token.ownerID == session.principal.user.id
        else { throw WebPageError.notFound }
        return token
    }
}

extension String {
    /// The text, if it could be a random token this server made (base64url, 43 characters).
    var nilIfInvalidToken: String? {
        utf8.count == 43 && utf8.allSatisfy { $0.isBase64URL } ? self : nil
    }
}

extension UInt8 {
    fileprivate var isBase64URL: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || self == 0x2D
            || self == 0x5F
    }
}
