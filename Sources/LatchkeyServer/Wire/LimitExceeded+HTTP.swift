import Hummingbird
import LatchkeyCore

/// How every dialect answers an abuse limit: 429, or 503 when the server itself is
/// saturated, with `Retry-After` in whole seconds; each in its own error shape.
extension LimitExceeded {
    var status: HTTPResponse.Status { isOverload ? .serviceUnavailable : .tooManyRequests }
    var retryHeaders: HTTPFields { [.retryAfter: String(retryAfterSeconds)] }
}

/// Answered (to nobody: the client has gone) with nginx's 499, so that logs and metrics
/// show a hang-up rather than a server failure.
extension WorkDropped: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: 499, reasonPhrase: "Client Closed Request") }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status)
    }
}
