import Hummingbird
import LatchkeyCore

/// Resolves a request's `Authorization` header to a principal. `DialectAuthenticator`
/// answers its failures in each dialect's error shape.
struct TokenAuthenticator: Sendable {
    enum Failure: Error, Equatable {
        case malformed(PresentedCredential.Problem)
        /// Basic with a real password: Latchkey authenticates requests with tokens only.
        case password
        case rejected(TokenRejection)
    }

    let tokens: TokenService

    /// nil when the request carries no credentials Latchkey handles.
    func principal(for request: Request, context: AppRequestContext) async throws -> Principal? {
        switch PresentedCredential(authorization: request.headers[.authorization]) {
        case .none:
            return nil
        case .malformed(let problem):
            throw Failure.malformed(problem)
        case .password:
            throw Failure.password
        case .token(let secret):
            switch try await tokens.verify(
                secret, clientIP: context.clientIP, userAgent: request.headers[.userAgent])
            {
            case .valid(let token, let user): return Principal(user: user, token: token)
            case .rejected(let reason): throw Failure.rejected(reason)
            }
        }
    }
}
