import Crypto
import Foundation
import HTTPTypes
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

/// The sign-in form's token, before there is a session to bind a form to. The browser holds
/// a random nonce in the `latchkey_signin` cookie (the double-submit half); the form carries
/// `base64url(expiry || HMAC-SHA256(key, "latchkey sign-in form" || expiry || nonce))`, the
/// expiry 8 bytes big-endian seconds since 1970, an hour after the page was made (the
/// cookie's Max-Age). A `POST /signin` needs both, and a token that the server made for that
/// nonce and that has not expired: a cookie planted from a sibling subdomain or over plain
/// http, with a field of the planter's choosing, is refused. Binding to the nonce, not
/// putting a nonce in the token, lets each tab's page get a fresh hour while the cookie
/// stays the same, so opening a second tab does not spoil the first one's form.
///
/// What it cannot stop: a planter who first fetches `GET /signin` holds a nonce and a token
/// the server made, and can plant that nonce. Against that login CSRF, `POST /signin` also
/// checks where the browser says the form came from (`isFromOwnPages`).
struct SignInForms: Sendable {
    static let lifetime: TimeInterval = 3600
    private static let label = Data("latchkey sign-in form".utf8)
    private static let tokenBytes = 8 + SHA256.byteCount

    let key: SymmetricKey
    let clock: any WallClock

    /// The form token for the browser whose cookie holds `nonce`, good for an hour from now.
    func token(for nonce: String) -> String {
        let expiry = Self.bigEndian(clock.now.addingTimeInterval(Self.lifetime).secondsSince1970)
        return (expiry + mac(expiry: expiry, nonce: nonce)).base64URLEncoded
    }

    /// Whether `presented` is a token this server (or a node sharing its key) made for
    /// `nonce` and that has not expired; the MAC compared in constant time.
    func accepts(_ presented: String?, nonce: String) -> Bool {
        guard let presented, presented.utf8.count <= 64, let bytes = Data(base64URLEncoded: presented),
            bytes.count == Self.tokenBytes
        else { return false }
        let expiry = Data(bytes.prefix(8))
        guard constantTimeEqual(Data(bytes.suffix(SHA256.byteCount)), mac(expiry: expiry, nonce: nonce)) else {
            return false
        }
        let seconds = expiry.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return seconds <= UInt64(Int64.max) && Int64(seconds) > clock.now.secondsSince1970
    }

    private func mac(expiry: Data, nonce: String) -> Data {
        // Fixed lengths (the label, 8 bytes, a 43-character nonce): no two inputs run together.
        Data(HMAC<SHA256>.authenticationCode(for: Self.label + expiry + Data(nonce.utf8), using: key))
    }

    private static func bigEndian(_ value: Int64) -> Data {
        withUnsafeBytes(of: UInt64(max(value, 0)).bigEndian) { Data($0) }
    }

    /// The MAC key. Several nodes may serve the pages behind one load balancer, so it is
    /// derived (HKDF-SHA256, under a label of its own, never the raw key) from the server key
    /// they all share. Without a server key (PostgreSQL without LATCHKEY_SERVER_KEY) it is
    /// random, made at start: a sign-in form is then good only on the node that served it.
    static func key(from serverKey: SecretBox?) -> SymmetricKey {
        serverKey?.derivedKey(for: "latchkey sign-in form key") ?? SymmetricKey(size: .bits256)
    }

    /// Defence in depth against login CSRF: a `POST /signin` the browser says came from
    /// anywhere but this origin (`Sec-Fetch-Site` other than `same-origin`: another site, or a
    /// sibling subdomain) or from an origin that is neither this request's own (its Host,
    /// https, or http too unless the public URL is https) nor the public URL's is refused. A
    /// request without `Origin`, or with `Origin: null`, passes on `Sec-Fetch-Site` alone:
    /// older browsers and plain clients send none, and a browser sends `null` for a form posted
    /// from a page whose referrer policy is `no-referrer`, as every page here is.
    static func isFromOwnPages(_ request: Request, publicURL: String, secure: Bool) -> Bool {
        if let site = request.headers[secFetchSite]?.lowercased(), site != "same-origin" { return false }
        guard let origin = request.headers[.origin]?.lowercased(), origin != "null" else { return true }
        var own: [String] = []
        if let range = publicURL.range(of: "://") {
            let authority = publicURL[range.upperBound...].prefix { $0 != "/" }
            own.append(Self.origin(String(publicURL[..<range.lowerBound]), String(authority)))
        }
        if let host = request.head.authority {
            own.append(Self.origin("https", host))
            if !secure { own.append(Self.origin("http", host)) }
        }
        return own.contains(origin)
    }

    private static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// An origin as browsers write it: lowercase, without the scheme's default port.
    private static func origin(_ scheme: String, _ authority: String) -> String {
        let scheme = scheme.lowercased()
        var authority = authority.lowercased()
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority.removeLast(defaultPort.count) }
        return "\(scheme)://\(authority)"
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
