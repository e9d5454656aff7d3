import Hummingbird

/// An answer whose body carries a secret (a token, a signing secret): no cache, shared or the
/// browser's, may keep it (RFC 9111 §5.2.2.5).
struct SecretBearing<Body: ResponseGenerator>: ResponseGenerator {
    let body: Body

    init(_ body: Body) {
        self.body = body
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try body.response(from: request, context: context)
        response.markHoldingSecret()
        return response
    }
}

extension Response {
    /// This answer's body carries a secret: no cache may keep it. Every secret-bearing answer
    /// says so through here (or `SecretBearing`), in every dialect.
    mutating func markHoldingSecret() {
        headers[.cacheControl] = "no-store"
    }
}
