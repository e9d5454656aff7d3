import Hummingbird
import LatchkeyCore
import Logging

/// Latchkey's own error body, `{"error": {"message": "..."}}`, the shape Hummingbird's
/// `HTTPError` already uses. Dialects answer in their own shapes before errors get here.
struct ErrorBody: Codable {
    struct Detail: Codable {
        var message: String
    }
    var error: Detail
}

/// Turns anything a handler throws into a JSON answer: no empty bodies, and no
/// internal detail (which may hold SQL or a secret) leaves the server.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.body == nil {
            throw HTTPError(error.status, headers: error.headers, message: error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as LimitExceeded {
            throw HTTPError(error.status, headers: error.retryHeaders, message: "\(error)")
        } catch let error as StorageUnavailable {
            context.logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            throw HTTPError(.serviceUnavailable, message: StorageUnavailable.publicMessage)
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            context.logger.debug("Request failure detail", metadata: ["error": "\(error)"])
            throw HTTPError(.internalServerError, message: "The server could not handle this request.")
        }
    }
}
