import Hummingbird
import Logging

/// One info line per request: method, the registered route pattern (never the path as
/// sent, which may carry a token: `GET /api/tokens/{token}`), status and duration. No
/// query string, no headers. The log handler redacts secrets in every line as well
/// (`SecretRedactingLogHandler`).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, since: started)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context, status: error.status.code, since: started)
            throw error
        } catch {
            log(request, context, status: 500, since: started)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, since started: ContinuousClock.Instant) {
        guard context.logger.logLevel <= .info else { return }
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "\(request.method.rawValue) \(context.endpointPath ?? "(no route)") \(status)",
            metadata: [
                "duration_us":
                    "\(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)"
            ])
    }
}
