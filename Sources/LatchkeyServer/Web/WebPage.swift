import Foundation
import HTTPTypes
import Hummingbird
import LatchkeyCore
import Mustache
import NIOCore

/// The pages' templates (`Templates/*.mustache`) and their stylesheet and script (`Static/`),
/// resource files of this target, read once at start-up.
enum WebResources {
    /// Every template a page renders.
    static let names = [
        "layout", "error", "signin", "tokens", "token-table", "new-token", "secret", "revoke", "rotate", "admin-nav",
        "admin-users", "admin-tokens", "admin-audit",
    ]

    /// Reads both now, at start-up: a missing or broken resource stops the server here, not
    /// on some request later.
    static func load() {
        for name in names where templates.getTemplate(named: name) == nil {
            preconditionFailure("the template \(name).mustache is missing from the LatchkeyServer resources")
        }
        precondition(assets["latchkey.css"] != nil && assets["latchkey.js"] != nil, "Static/ is incomplete")
    }

    static let templates: MustacheLibrary = {
        var library = MustacheLibrary()
        let directory = resourceDirectory("Templates")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasSuffix(".mustache") {
            guard let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else {
                preconditionFailure("the template \(name) cannot be read")
            }
            do {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } catch {
                preconditionFailure("the template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    /// Each file of `Static/` by name, with its content type.
    static let assets: [String: (contentType: String, body: ByteBuffer)] = {
        let directory = resourceDirectory("Static")
        let types = ["css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"]
        var assets: [String: (String, ByteBuffer)] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] {
            guard let type = types[(name as NSString).pathExtension],
                let data = try? Data(contentsOf: directory.appendingPathComponent(name))
            else { continue }
            assets[name] = (type, ByteBuffer(bytes: data))
        }
        return assets
    }()

    private static func resourceDirectory(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil) else {
            preconditionFailure("\(name)/ is missing from the LatchkeyServer resources")
        }
        return url
    }
}

/// What every page shows around its content: the title, who is signed in, the navigation,
/// and a notice or an error (`layout.mustache`).
struct PageChrome: Sendable {
    var title: String
    var signedIn = false
    var username = ""
    var isAdmin = false
    /// The form token of the session (or of the sign-in page), put in every form.
    var csrf = ""
    var notice: String?
    var error: String?

    init(title: String, session: WebSession? = nil, notice: String? = nil, error: String? = nil) {
        self.title = title
        if let session {
            signedIn = true
            username = session.principal.user.username
            isAdmin = session.principal.user.isAdmin
            csrf = session.csrf
        }
        self.notice = notice
        self.error = error
    }
}

/// A page: a template rendered inside the layout, sent with the headers every page carries.
enum WebPage {
    /// No script or style but this service's own files, no framing, no form sent elsewhere,
    /// no referrer (a sign-in callback's URL holds a code).
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'",
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
        // Pages hold personal data, and some a secret shown once: no cache keeps any of them.
        .cacheControl: "no-store",
    ]

    static func render(_ template: String, _ view: Any, chrome: PageChrome) -> String {
        let content = WebResources.templates.render(view, withTemplate: template) ?? ""
        let layout = Layout(
            title: chrome.title, signedIn: chrome.signedIn, username: chrome.username, isAdmin: chrome.isAdmin,
            csrf: chrome.csrf, hasNotice: chrome.notice != nil, notice: chrome.notice ?? "",
            hasError: chrome.error != nil, error: chrome.error ?? "", content: content)
        return WebResources.templates.render(layout, withTemplate: "layout") ?? ""
    }

    static func response(
        _ template: String, _ view: Any = EmptyView(), chrome: PageChrome, status: HTTPResponse.Status = .ok
    ) -> Response {
        html(render(template, view, chrome: chrome), status: status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = securityHeaders
        fields[.contentType] = "text/html; charset=utf-8"
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a form, the browser GETs the next page (a reload sends nothing again).
    static func redirect(to location: String, cookies: [Cookie] = []) -> Response {
        var response = Response(status: .seeOther, headers: securityHeaders)
        response.headers[.location] = location
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    private struct Layout {
        var title: String
        var signedIn: Bool
        var username: String
        var isAdmin: Bool
        var csrf: String
        var hasNotice: Bool
        var notice: String
        var hasError: Bool
        var error: String
        var content: String
    }

    struct EmptyView {}
}

/// Whatever goes wrong on a page, as a page: a readable message, never JSON or a blank page;
/// or, where the browser must sign in first, the way to the sign-in page.
struct WebPageError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var headers: HTTPFields = [:]
    /// Where to send the browser instead of showing the message (303).
    var location: String?
    /// Cookies to set with it (clearing an ended session's).
    var cookies: [Cookie] = []

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if let location { return WebPage.redirect(to: location, cookies: cookies) }
        return WebPage.html(
            WebPage.render(
                "error", WebPage.EmptyView(), chrome: PageChrome(title: status.reasonPhrase, error: message)),
            status: status, headers: headers)
    }

    static func badRequest(_ message: String) -> WebPageError { WebPageError(status: .badRequest, message: message) }
    static let notFound = WebPageError(status: .notFound, message: "There is no such page, or no such token.")
    static let formExpired = WebPageError(
        status: .forbidden,
        message:
            "This form was not sent from this site's own page, or has expired. Go back, reload the page and try again.")
}

/// The pages' error shape: every failure under the pages' routes as `WebPageError`.
struct WebDialect: Dialect {
    func failure(for error: any HTTPResponseError) -> WebPageError? {
        switch error.status {
        case .notFound: .notFound
        case .contentTooLarge: WebPageError(status: .contentTooLarge, message: "What was sent is too large.")
        default: WebPageError(status: error.status, message: (error as? HTTPError)?.body ?? error.status.reasonPhrase)
        }
    }

    func failure(for limit: LimitExceeded) -> WebPageError {
        WebPageError(status: limit.status, message: "\(limit)", headers: limit.retryHeaders)
    }

    func failure(forDomainError error: any Error) -> WebPageError? {
        switch error {
        case let error as TokenError:
            switch error {
            case .tooManyTokens, .exceedsGrant: WebPageError(status: .forbidden, message: Self.sentence(error))
            case .alreadyRotated: WebPageError(status: .conflict, message: Self.sentence(error))
            default: .badRequest(Self.sentence(error))
            }
        case let error as AccountError: .badRequest(Self.sentence(error))
        case let error as OpenIDSignInFailure:
            switch error {
            case .providerUnavailable:
                WebPageError(status: .serviceUnavailable, message: OpenIDSignInFailure.publicUnavailableMessage)
            case .invalidToken(let reason): .badRequest("The sign-in provider's answer was refused: \(reason).")
            case .notPermitted, .unfitForAnAccount, .inactiveAccount:
                WebPageError(status: .forbidden, message: Self.sentence(error))
            }
        default: nil
        }
    }

    var unavailable: WebPageError {
        WebPageError(status: .serviceUnavailable, message: StorageUnavailable.publicMessage)
    }

    var internalFailure: WebPageError {
        WebPageError(status: .internalServerError, message: "Something went wrong on our side; try again.")
    }

    /// A domain message as a sentence: capitalised, with a full stop.
    static func sentence(_ error: any Error) -> String {
        let text = "\(error)"
        guard let first = text.first else { return text }
        let capitalised = first.uppercased() + text.dropFirst()
        return capitalised.hasSuffix(".") ? capitalised : capitalised + "."
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
