import Hummingbird
import LatchkeyCore

/// An error in Quay's shape. `type` is a URL under the server's public URL (set by
/// `QuayDialect` on the way out), never under the `Host` a request claims.
struct QuayError: Error, HTTPResponseError {
    enum Kind: String {
        case invalidRequest = "invalid_request"
        case invalidToken = "invalid_token"
        case insufficientScope = "insufficient_scope"
        case notFound = "not_found"
        case serverError = "server_error"
        case downstreamIssue = "downstream_issue"
        case tooManyRequests = "too_many_requests"
    }

    struct Body: Encodable {
        var detail: String
        var errorMessage: String
        var errorType: String
        var title: String
        var type: String
        var status: Int

        enum CodingKeys: String, CodingKey {
            case detail, title, type, status
            case errorMessage = "error_message"
            case errorType = "error_type"
        }
    }

    let status: HTTPResponse.Status
    let kind: Kind
    let detail: String
    var headers: HTTPFields = [:]
    var externalBaseURL = ""

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(
                detail: detail, errorMessage: detail, errorType: kind.rawValue, title: kind.rawValue,
                type: "\(externalBaseURL)/api/v1/error/\(kind.rawValue)", status: status.code),
            from: request, context: context)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }

    static let requiresAuthentication = QuayError(
        status: .unauthorized, kind: .invalidToken, detail: "Requires authentication")
    static let unauthorized = QuayError(status: .forbidden, kind: .insufficientScope, detail: "Unauthorized")
    static let notFound = QuayError(status: .notFound, kind: .notFound, detail: "Not Found")

    static func invalidRequest(_ detail: String) -> QuayError {
        QuayError(status: .badRequest, kind: .invalidRequest, detail: detail)
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> QuayError {
        QuayError(
            status: .methodNotAllowed, kind: .invalidRequest,
            detail: "The method \(method.rawValue) is not allowed for the requested URL.", headers: [.allow: allow])
    }
}

/// Quay's dialect: every failure under `/api/v1` as a `QuayError`.
struct QuayDialect: AuthenticatingDialect {
    /// Where error `type` URLs point.
    let externalBaseURL: String

    func failure(for error: any HTTPResponseError) -> QuayError? {
        QuayError(
            status: error.status, kind: error.status == .notFound ? .notFound : .invalidRequest,
            detail: error.status.reasonPhrase)
    }

    func failure(for limit: LimitExceeded) -> QuayError {
        QuayError(
            status: limit.status, kind: limit.isOverload ? .downstreamIssue : .tooManyRequests, detail: "\(limit)",
            headers: limit.retryHeaders)
    }

    var unavailable: QuayError {
        QuayError(status: .serviceUnavailable, kind: .downstreamIssue, detail: StorageUnavailable.publicMessage)
    }

    var internalFailure: QuayError {
        QuayError(status: .internalServerError, kind: .serverError, detail: "The server could not handle this request.")
    }

    func finish(_ failure: QuayError) -> QuayError {
        var failure = failure
        failure.externalBaseURL = externalBaseURL
        return failure
    }

    /// Quay answers every credential it cannot accept with 401 `invalid_token`.
    func failure(for rejection: TokenAuthenticator.Failure) -> QuayError { .requiresAuthentication }

    /// Quay's `require_user_admin` and friends: 401 without credentials, 403 without the right.
    func failure(for denial: AccessDenial) -> QuayError {
        denial == .notAuthenticated ? .requiresAuthentication : .unauthorized
    }

    func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> QuayError {
        .methodNotAllowed(method, allow: allow)
    }
}
