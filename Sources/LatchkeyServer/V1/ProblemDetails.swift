import Hummingbird
import LatchkeyCore

/// An error of Latchkey's own API as RFC 9457 `application/problem+json`: `type` is
/// `about:blank` (the status says what happened), `title` the status's phrase, `detail` what
/// to do about it, and `code` a stable word for programs.
struct ProblemDetails: Error, HTTPResponseError {
    struct Body: Encodable {
        var type = "about:blank"
        var title: String
        var status: Int
        var detail: String
        var code: String
    }

    let status: HTTPResponse.Status
    let code: String
    let detail: String
    var headers: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(title: status.reasonPhrase, status: status.code, detail: detail, code: code), from: request,
            context: context)
        response.status = status
        response.headers[.contentType] = "application/problem+json"
        response.headers.append(contentsOf: headers)
        return response
    }

    static func invalidRequest(_ detail: String) -> ProblemDetails {
        ProblemDetails(status: .badRequest, code: "invalid_request", detail: detail)
    }

    static let notFound = ProblemDetails(status: .notFound, code: "not_found", detail: "No such token.")
    static let noSuchWebhook = ProblemDetails(status: .notFound, code: "not_found", detail: "No such webhook endpoint.")
    static let noSuchDelivery = ProblemDetails(status: .notFound, code: "not_found", detail: "No such delivery.")
}

/// Latchkey's own dialect, under `/v1`: every failure as `ProblemDetails`.
struct V1Dialect: AuthenticatingDialect {
    func failure(for error: any HTTPResponseError) -> ProblemDetails? {
        let detail = (error as? HTTPError)?.body ?? error.status.reasonPhrase
        return ProblemDetails(
            status: error.status, code: error.status == .notFound ? "not_found" : "invalid_request", detail: detail)
    }

    func failure(for limit: LimitExceeded) -> ProblemDetails {
        ProblemDetails(
            status: limit.status, code: limit.isOverload ? "overloaded" : "rate_limited", detail: "\(limit)",
            headers: limit.retryHeaders)
    }

    func failure(forDomainError error: any Error) -> ProblemDetails? {
        if let error = error as? WebhookError { return Self.failure(for: error) }
        guard let error = error as? TokenError else { return nil }
        switch error {
        case .exceedsGrant:
            return ProblemDetails(status: .forbidden, code: "insufficient_grant", detail: "\(error)")
        case .tooManyTokens:
            return ProblemDetails(status: .forbidden, code: "too_many_tokens", detail: "\(error)")
        case .alreadyRotated:
            return ProblemDetails(status: .conflict, code: "already_rotated", detail: "\(error)")
        case .beyondPolicy:
            return ProblemDetails(status: .badRequest, code: "policy_violation", detail: "\(error)")
        default:
            return .invalidRequest("\(error)")
        }
    }

    static func failure(for error: WebhookError) -> ProblemDetails {
        switch error {
        case .insecureURL: ProblemDetails(status: .badRequest, code: "insecure_url", detail: "\(error)")
        case .unknownEvent: ProblemDetails(status: .badRequest, code: "unknown_event", detail: "\(error)")
        case .unavailable:
            ProblemDetails(status: .serviceUnavailable, code: "webhooks_unavailable", detail: "\(error)")
        case .tooManyEndpoints: ProblemDetails(status: .forbidden, code: "too_many_endpoints", detail: "\(error)")
        case .notFound: .noSuchWebhook
        case .invalidURL, .noEvents, .descriptionTooLong, .descriptionHasControlCharacters:
            .invalidRequest("\(error)")
        }
    }

    var unavailable: ProblemDetails {
        ProblemDetails(status: .serviceUnavailable, code: "unavailable", detail: StorageUnavailable.publicMessage)
    }

    var internalFailure: ProblemDetails {
        ProblemDetails(
            status: .internalServerError, code: "server_error", detail: "The server could not handle this request.")
    }

    /// Every credential it cannot accept, whatever the reason, is the same 401 (RFC 6750).
    func failure(for rejection: TokenAuthenticator.Failure) -> ProblemDetails {
        ProblemDetails(
            status: .unauthorized, code: "invalid_token", detail: "The credentials are not a valid token.",
            headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
    }

    func failure(for denial: AccessDenial) -> ProblemDetails {
        switch denial {
        case .notAuthenticated:
            ProblemDetails(
                status: .unauthorized, code: "not_authenticated", detail: "Authenticate with a Bearer token.",
                headers: [.wwwAuthenticate: "Bearer"])
        case .forbidden(let reason):
            ProblemDetails(status: .forbidden, code: "insufficient_scope", detail: reason)
        }
    }

    func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> ProblemDetails {
        ProblemDetails(
            status: .methodNotAllowed, code: "method_not_allowed",
            detail: "\(method.rawValue) is not allowed here.", headers: [.allow: allow])
    }
}
