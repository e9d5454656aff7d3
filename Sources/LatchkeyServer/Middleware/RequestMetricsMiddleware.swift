import CoreMetrics
import Hummingbird

/// Counts requests by route pattern, method and status, and times them. The route
/// is the registered pattern (`/api/tokens/{token}`), never the path as sent, so a
/// token in a path can never become a label.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: started)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status.code, since: started)
            throw error
        } catch {
            record(request, context, status: 500, since: started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since started: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        Counter(
            label: "http_requests_total",
            dimensions: [("route", route), ("method", method), ("status", String(status))],
            factory: factory
        ).increment()
        Timer(
            label: "http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory
        )
        .recordInterval(since: started)
    }
}

extension Timer {
    fileprivate func recordInterval(since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
