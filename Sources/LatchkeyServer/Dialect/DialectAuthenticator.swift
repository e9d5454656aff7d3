import HTTPTypes
import Hummingbird
import HummingbirdAuth
import LatchkeyCore

/// Sets the request's principal from its `Authorization` header, answering credentials
/// it cannot accept (and every other failure) in the dialect's shape, even where no
/// authentication is needed.
/// The answer to a request made with an expiring token says when it expires
/// (`Latchkey-Token-Expires`, RFC 3339), so that clients can renew in time; not to a DELETE.
struct DialectAuthenticator<D: AuthenticatingDialect>: AuthenticatorMiddleware {
    typealias Context = AppRequestContext
    let dialect: D
    let authenticator: TokenAuthenticator

    func authenticate(request: Request, context: AppRequestContext) async throws -> Principal? {
        do {
            return try await authenticator.principal(for: request, context: context)
        } catch let rejection as TokenAuthenticator.Failure {
            throw dialect.failure(for: rejection)
        }
    }

    /// Every failure under the dialect's routes, the authenticator's own included, is answered
    /// in the dialect's shape here (`Dialect.answer(to:logger:)`): one middleware, not two, on
    /// the busiest routes.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            guard let principal = try await authenticate(request: request, context: context) else {
                return try await next(request, context)
            }
            var context = context
            context.identity = principal
            var response = try await next(request, context)
            // A DELETE may have revoked the very token presented: then it expires nowhere.
            if let expires = principal.token.expires, request.method != .delete {
                response.headers[.latchkeyTokenExpires] = UTCTimestamp(expires).isoFormat
            }
            return response
        } catch {
            throw dialect.answer(to: error, logger: context.logger)
        }
    }
}

extension HTTPField.Name {
    static let latchkeyTokenExpires = HTTPField.Name("Latchkey-Token-Expires")!
}
