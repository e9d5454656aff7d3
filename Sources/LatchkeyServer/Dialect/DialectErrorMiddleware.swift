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
        } catch let error as D.Failure {
            throw dialect.finish(error)
        } catch let error as any HTTPResponseError {
            guard let failure = dialect.failure(for: error) else { throw error }
            throw dialect.finish(failure)
        } catch let error as LimitExceeded {
            throw dialect.finish(dialect.failure(for: error))
        } catch let error as StorageUnavailable {
            context.logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            throw dialect.finish(dialect.unavailable)
        } catch {
            if let failure = dialect.failure(forDomainError: error) { throw dialect.finish(failure) }
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            context.logger.debug("Request failure detail", metadata: ["error": "\(error)"])
            throw dialect.finish(dialect.internalFailure)
        }
    }
}
