import Foundation
import Hummingbird
import LatchkeyCore

/// The administrators' pages: accounts (activate, deactivate), every user's tokens without
/// their secrets (revoke any), and the audit log with filters. Anyone else gets a 403 page.
struct WebAdminController {
    static let auditLimit = 200
    static let periods: [(value: String, label: String, seconds: TimeInterval?)] = [
        ("1h", "Last hour", 3600), ("24h", "Last 24 hours", 86_400), ("7d", "Last 7 days", 7 * 86_400),
        ("30d", "Last 30 days", 30 * 86_400), ("all", "Any time", nil),
    ]

    let services: LatchkeyServices
    let secureCookies: Bool

    func addRoutes(to pages: RouterGroup<AppRequestContext>) {
        pages.get("admin", use: home)
        pages.get("admin/users", use: usersPage)
        pages.post("admin/users/:id/activate", use: activate)
        pages.post("admin/users/:id/deactivate", use: deactivate)
        pages.get("admin/tokens", use: tokensPage)
        pages.get("admin/tokens/:uuid/revoke", use: revokePage)
        pages.post("admin/tokens/:uuid/revoke", use: revoke)
        pages.get("admin/audit", use: auditPage)
    }

    @Sendable func home(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try administrator(request, context)
        return WebPage.redirect(to: "/admin/users")
    }

    @Sendable func usersPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try administrator(request, context)
        let now = services.clock.now
        let users = try await services.accounts.users().map { user in
            UsersView.Row(
                id: user.id, username: user.username, name: user.fullName, email: user.email ?? "",
                isAdmin: user.isAdmin, isActive: user.isActive, created: WebMoment(user.created, now: now),
                isSelf: user.id == session.principal.user.id)
        }
        return WebPage.response(
            "admin-users", UsersView(csrf: session.csrf, users: users),
            chrome: PageChrome(title: "Users", session: session, notice: WebController.notice(request)))
    }

    @Sendable func activate(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await setActive(true, request, context)
    }

    @Sendable func deactivate(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await setActive(false, request, context)
    }

    private func setActive(_ isActive: Bool, _ request: Request, _ context: AppRequestContext) async throws
        -> Response
    {
        let session = try await submitted(request, context)
        guard let id = Int64(try context.parameters.require("id")), let user = try await services.accounts.user(id: id)
        else { throw WebPageError.notFound }
        // An administrator cannot lock themselves out; another administrator can.
        guard user.id != session.principal.user.id else {
            throw WebPageError.badRequest("You cannot deactivate your own account.")
        }
        try await services.accounts.setActive(user, isActive, by: context.origin(via: "web"))
        return WebPage.redirect(to: "/admin/users?notice=\(isActive ? "activated" : "deactivated")")
    }

    @Sendable func tokensPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try administrator(request, context)
        let now = services.clock.now
        let names = try await services.accounts.usernames()
        let query = TokenQuery()
        let rows = try await services.tokens.list(query.newest(WebController.listLimit)).map {
            WebTokenRow($0, now: now, currentID: session.principal.token.id, owner: names[$0.ownerID] ?? "")
        }
        return WebPage.response(
            "admin-tokens", try await TokensView(rows, of: query, tokens: services.tokens, owners: true),
            chrome: PageChrome(title: "Every user's tokens", session: session, notice: WebController.notice(request)))
    }

    @Sendable func revokePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try administrator(request, context)
        let token = try await anyToken(context)
        let names = try await services.accounts.usernames()
        return WebPage.response(
            "revoke",
            RevokeView(
                csrf: session.csrf,
                token: WebTokenRow(
                    token, now: services.clock.now, currentID: session.principal.token.id,
                    owner: names[token.ownerID] ?? ""),
                action: "/admin/tokens/\(token.uuid.uuidString.lowercased())/revoke", cancel: "/admin/tokens"),
            chrome: PageChrome(title: "Revoke a token", session: session))
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try await submitted(request, context)
        let token = try await anyToken(context)
        _ = try await services.tokens.revoke(token, by: context.origin(via: "web"))
        return WebPage.redirect(to: "/admin/tokens?notice=revoked")
    }

    /// `GET /admin/audit?user=&kind=&since=`: newest first, at most 200.
    @Sendable func auditPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try administrator(request, context)
        let parameters = request.uri.queryParameters
        let now = services.clock.now
        let username = parameters["user"].map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let kind = parameters["kind"].flatMap { AuditKind(rawValue: String($0)) }
        let period =
            parameters["since"].flatMap { value in Self.periods.first { $0.value == value } } ?? Self.periods[2]
        var error: String?
        var events: [AuditEvent] = []
        var userID: Int64?
        if !username.isEmpty {
            userID = try await services.accounts.user(named: String(username.prefix(254)))?.id
            if userID == nil { error = "There is no user named \u{201C}\(username.prefix(254))\u{201D}." }
        }
        if error == nil {
            events = try await services.tokens.audit.events(
                AuditQuery(
                    userID: userID, kind: kind, since: period.seconds.map { now.addingTimeInterval(-$0) },
                    limit: Self.auditLimit))
        }
        let names = try await services.accounts.usernames()
        let view = AuditView(
            user: username,
            kinds: AuditKind.allCases.map {
                AuditView.Choice(value: $0.rawValue, label: $0.rawValue, selected: $0 == kind)
            },
            periods: Self.periods.map {
                AuditView.Choice(value: $0.value, label: $0.label, selected: $0.value == period.value)
            },
            events: events.map { event in
                AuditView.Row(
                    at: WebMoment(event.at, now: now), kind: event.kind,
                    user: event.userID.map { names[$0] ?? "#\($0)" } ?? "",
                    token: event.tokenUUID?.uuidString.lowercased() ?? "",
                    actor: event.origin.userID.map { names[$0] ?? "#\($0)" } ?? "", via: event.origin.via,
                    address: event.origin.address ?? "", detail: event.detail)
            },
            hasEvents: !events.isEmpty, limit: Self.auditLimit)
        return WebPage.response(
            "admin-audit", view, chrome: PageChrome(title: "Audit log", session: session, error: error),
            status: error == nil ? .ok : .notFound)
    }

    /// The signed-in administrator; anyone else a 403 page (the authorization table's row).
    private func administrator(_ request: Request, _ context: AppRequestContext) throws -> WebSession {
        let session = try WebController.requireSession(request, context, secure: secureCookies)
        do {
            try authorize(.administer, session.principal)
        } catch {
            throw WebPageError(status: .forbidden, message: "Only administrators may see this page.")
        }
        return session
    }

    /// A form an administrator sent from one of their own pages.
    private func submitted(_ request: Request, _ context: AppRequestContext) async throws -> WebSession {
        let session = try administrator(request, context)
        _ = try await session.form(of: request)
        return session
    }

    private func anyToken(_ context: AppRequestContext) async throws -> Token {
        guard let uuid = UUID(uuidString: try context.parameters.require("uuid")),
            let token = try await services.tokens.find(uuid: uuid)
        else { throw WebPageError.notFound }
        return token
    }
}

struct UsersView {
    struct Row {
        var id: Int64
        var username: String
        var name: String
        var email: String
        var isAdmin: Bool
        var isActive: Bool
        var created: WebMoment
        var isSelf: Bool
    }

    var csrf: String
    var users: [Row]
}

struct AuditView {
    struct Choice {
        var value: String
        var label: String
        var selected: Bool
    }

    struct Row {
        var at: WebMoment
        var kind: String
        var user: String
        var token: String
        var actor: String
        var via: String
        var address: String
        var detail: String
    }

    var user: String
    var kinds: [Choice]
    var periods: [Choice]
    var events: [Row]
    var hasEvents: Bool
    var limit: Int
}
