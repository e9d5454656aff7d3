import Crypto
import Foundation
import Hummingbird
import LatchkeyCore

/// A browser's sign-in: a session token (kind `session`) whose secret is the
/// `latchkey_session` cookie (HttpOnly, SameSite=Lax, Secure behind https). The pages never
/// read an `Authorization` header, and the API never reads the cookie: a form on another
/// site cannot act through the API, and every form of the pages carries the session's
/// form token (`csrf`).
struct WebSession: Sendable {
    static let cookieName = "latchkey_session"
    /// The sign-in page's own form token, before there is a session.
    static let signInCookieName = "latchkey_signin"

    let principal: Principal
    /// The form token: an HMAC of a fixed label under the session's secret, so only a page
    /// this session was shown can hold it, and it dies with the session.
    let csrf: String

    init(principal: Principal, secret: String) {
        self.principal = principal
        csrf = Self.formToken(secret: secret)
    }

    static func formToken(secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("latchkey web form".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64URLEncoded
    }

    /// Whether `presented` is this session's form token, compared in constant time.
    func accepts(formToken presented: String?) -> Bool {
        guard let presented else { return false }
        return constantTimeEqual(Data(presented.utf8), Data(csrf.utf8))
    }

    /// A form this session sent from one of its own pages: read, its form token checked.
    func form(of request: Request) async throws -> WebForm {
        let form = try await WebForm.read(request)
        guard accepts(formToken: form["csrf"]) else { throw WebPageError.formExpired }
        return form
    }

    /// The cookie holding a new session's secret; `maxAge` nil clears it.
    static func cookie(_ value: String, maxAge: Int?, secure: Bool, path: String = "/") -> Cookie {
        Cookie(
            name: cookieName, value: value, maxAge: maxAge ?? 0, path: path, secure: secure, httpOnly: true,
            sameSite: .lax)
    }

    static func randomToken(bytes count: Int = 32) -> String {
        Data((0..<count).map { _ in UInt8.random(in: .min ... .max) }).base64URLEncoded
    }
}

/// Reads the session cookie into `context.webSession`: a valid session token of an active
/// user. Anything else (no cookie, an expired or revoked session, an app token put in the
/// cookie) leaves the request signed out; the pages then send the browser to sign in.
struct WebSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // Only a session token is accepted: an app token put in the cookie is not used (no use
        // counted, no last use recorded), and is never a page session.
        guard let secret = request.cookies[WebSession.cookieName]?.value,
            case .valid(let token, let user) = try await tokens.verify(
                secret, clientIP: context.clientIP, userAgent: request.headers[.userAgent], onlyKind: .session)
        else { return try await next(request, context) }
        let principal = Principal(user: user, token: token)
        // One rule: only a sign-in session may use the pages.
        guard (try? authorize(.usePages, principal)) != nil else { return try await next(request, context) }
        var context = context
        context.identity = principal
        context.webSession = WebSession(principal: principal, secret: secret)
        return try await next(request, context)
    }
}

/// A submitted form (`application/x-www-form-urlencoded`), at most 64 KiB.
struct WebForm: Sendable {
    static let maxBytes = 64 * 1024
    private let pairs: [(name: String, value: String)]

    init(pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    static func read(_ request: Request) async throws -> WebForm {
        // No content type with an empty body is an empty form (its missing token then refuses it).
        let contentType = request.headers[.contentType]?.lowercased() ?? "application/x-www-form-urlencoded"
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
            throw WebPageError(status: .unsupportedMediaType, message: "Send this form from its page.")
        }
        let body = try await request.collectBody(upTo: maxBytes)
        return WebForm(pairs: FormEncoding.pairs(String(buffer: body)))
    }

    /// The field's last value, trimmed; nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = pairs.last(where: { $0.name == name })?.value.trimmingCharacters(in: .whitespaces),
            !value.isEmpty
        else { return nil }
        return value
    }

    /// The field's value exactly as sent (a password), nil when absent.
    func raw(_ name: String) -> String? {
        pairs.last(where: { $0.name == name })?.value
    }

    /// Every value of a repeated field (checkboxes).
    func all(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }
}
