import Hummingbird
import LatchkeyCore

/// Latchkey's own error body, `{"error": {"message": "..."}}`, the shape Hummingbird's
/// `HTTPError` already uses: for every route outside the dialects (operations, leak
/// reports) and the last word on anything a dialect let through.
struct LatchkeyDialect: Dialect {
    /// Other dialects' errors, and the 499 of a client that left, pass as they are.
    func failure(for error: any HTTPResponseError) -> HTTPError? { nil }

    func failure(for limit: LimitExceeded) -> HTTPError {
        HTTPError(limit.status, headers: limit.retryHeaders, message: "\(limit)")
    }

    var unavailable: HTTPError { HTTPError(.serviceUnavailable, message: StorageUnavailable.publicMessage) }

    var internalFailure: HTTPError {
        HTTPError(.internalServerError, message: "The server could not handle this request.")
    }

    /// Never an empty body: a bare status says its reason phrase.
    func finish(_ failure: HTTPError) -> HTTPError {
        guard failure.body == nil else { return failure }
        return HTTPError(failure.status, headers: failure.headers, message: failure.status.reasonPhrase)
    }
}
