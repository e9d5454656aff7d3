import Hummingbird
import LatchkeyCore

/// A wire dialect's error shape: how it writes each kind of failure a request can meet.
/// `DialectErrorMiddleware` and `DialectAuthenticator` answer every failure under the
/// dialect's routes through it, so a new dialect is a wire file, a conformance and a controller.
protocol Dialect: Sendable {
    associatedtype Failure: HTTPResponseError

    /// A failure that is already an HTTP answer but not in this shape (Hummingbird's own
    /// `HTTPError`s, a body over the size limit); nil passes it on as it is.
    func failure(for error: any HTTPResponseError) -> Failure?
    /// An abuse limit: 429, or 503 when the server itself is saturated.
    func failure(for limit: LimitExceeded) -> Failure
    /// A domain error the dialect answers in its own terms; nil: an internal failure.
    func failure(forDomainError error: any Error) -> Failure?
    /// The database cannot be reached: 503, nothing about the database.
    var unavailable: Failure { get }
    /// Anything unexpected: 500, and nothing of it (which may hold SQL or a secret) leaves the server.
    var internalFailure: Failure { get }
    /// The dialect's own failure on its way out, for what only the server knows (its public URL).
    func finish(_ failure: Failure) -> Failure
}

extension Dialect {
    func failure(forDomainError error: any Error) -> Failure? { nil }
    func finish(_ failure: Failure) -> Failure { failure }
}

/// A dialect whose routes authenticate with Latchkey tokens and check the authorization table.
protocol AuthenticatingDialect: Dialect {
    /// Credentials it cannot accept (unreadable, a password, an invalid token).
    func failure(for rejection: TokenAuthenticator.Failure) -> Failure
    /// A request the authorization table refuses.
    func failure(for denial: AccessDenial) -> Failure
    /// 405, naming the methods the path serves in `allow`.
    func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> Failure
}

extension AuthenticatingDialect {
    /// The request's principal, when the authorization table lets it do `operation`.
    func principal(for operation: Operation, _ context: AppRequestContext) throws -> Principal {
        do {
            try authorize(operation, context.identity)
        } catch {
            throw failure(for: error)
        }
        guard let principal = context.identity else { throw failure(for: AccessDenial.notAuthenticated) }
        return principal
    }
}

extension Router<AppRequestContext> {
    /// The routes under `path`, answering every failure in `dialect`'s shape and
    /// authenticating their requests with `tokens`.
    func group(_ path: RouterPath, speaking dialect: some AuthenticatingDialect, tokens: TokenService)
        -> RouterGroup<AppRequestContext>
    {
        group(path).add(
            middleware: DialectAuthenticator(dialect: dialect, authenticator: TokenAuthenticator(tokens: tokens)))
    }
}
