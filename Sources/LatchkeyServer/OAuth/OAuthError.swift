import Foundation
import Hummingbird
import LatchkeyCore

/// RFC 6749's error body: `{"error": "...", "error_description": "..."}`.
struct OAuthError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let description: String?
    var headers: HTTPFields = [:]

    static let invalidClient = OAuthError(
        status: .unauthorized, code: "invalid_client", description: "client authentication failed",
        headers: [.wwwAuthenticate: #"Basic realm="latchkey""#])

    static func invalidRequest(_ description: String) -> OAuthError {
        OAuthError(status: .badRequest, code: "invalid_request", description: description)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = ["error": code]
        if let description { body["error_description"] = description }
        var response = try OAuthController.json(body)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// OAuth's dialect (RFC 6749 §5.2 codes): every failure under `/oauth` as an `OAuthError`.
struct OAuthDialect: Dialect {
    func failure(for error: any HTTPResponseError) -> OAuthError? {
        OAuthError(status: error.status, code: "invalid_request", description: error.status.reasonPhrase)
    }

    func failure(for limit: LimitExceeded) -> OAuthError {
        OAuthError(
            status: limit.status, code: limit.isOverload ? "temporarily_unavailable" : "slow_down",
            description: "\(limit)", headers: limit.retryHeaders)
    }

    var unavailable: OAuthError {
        OAuthError(status: .serviceUnavailable, code: "temporarily_unavailable", description: nil)
    }

    var internalFailure: OAuthError { OAuthError(status: .internalServerError, code: "server_error", description: nil) }
}
