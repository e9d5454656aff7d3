import Hummingbird
import LatchkeyCore
import Logging

/// Turns anything a handler throws into an answer in the dialect's shape: no empty
/// bodies, and no internal detail leaves the server (it goes to the log, by type).
struct DialectErrorMiddleware<D: Dialect, Context: RequestContext>: RouterMiddleware {
    let dialect: D

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            throw dialect.answer(to: error, logger: context.logger)
        }
    }
}

extension Dialect {
    /// What is thrown in the dialect's place for `error`: its own failure, finished; an HTTP
    /// answer it does not reshape, as it is.
    func answer(to error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as Failure:
            return finish(error)
        case let error as any HTTPResponseError:
            return failure(for: error).map(finish) ?? error
        case let error as LimitExceeded:
            return finish(failure(for: error))
        case let error as StorageUnavailable:
            logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            return finish(unavailable)
        case OpenIDSignInFailure.providerUnavailable(let reason):
            // The reason names the provider's internal URLs: for the operator's log only.
            logger.warning("OpenID Connect provider unavailable", metadata: ["reason": "\(reason)"])
            return failure(forDomainError: error).map(finish) ?? finish(internalFailure)
        default:
            if let failure = failure(forDomainError: error) { return finish(failure) }
            logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            logger.debug("Request failure detail", metadata: ["error": "\(error)"])
            return finish(internalFailure)
        }
    }
}
