import Hummingbird
import HummingbirdAuth
import LatchkeyCore

/// Sets the request's principal from its `Authorization` header, answering credentials
/// it cannot accept in the dialect's shape (even where no authentication is needed).
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
}
