import CoreMetrics
import Hummingbird
import LatchkeyCore
import Logging

/// Records every request once it is answered: counts it by route pattern, method and
/// status, times it, and writes one info line — `GET /api/tokens/{token} 200`. The
/// route is the registered pattern, never the path as sent (which may carry a token),
/// so a secret can become neither a metric label nor part of the line; no query, no
/// headers. The log handler redacts secrets in every line as well (`SecretRedactingLogHandler`).
struct RequestRecordMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory
    /// Routes are registered patterns and statuses three digits: a small, bounded set.
    private let recorders = MadeOnce<RecorderKey, (Counter, Timer)>()

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

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
        let elapsed = ContinuousClock.now - started
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        let (counter, timer) = recorders.value(for: RecorderKey(route: route, method: method, status: status)) {
            (
                Counter(
                    label: "http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory),
                Timer(
                    label: "http_request_duration_seconds", dimensions: [("route", route), ("method", method)],
                    factory: factory)
            )
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
        if context.logger.logLevel <= .info {
            context.logger.info("\(method) \(route) \(status)", metadata: ["duration_us": "\(nanoseconds / 1_000)"])
        }
    }
}

private struct RecorderKey: Hashable {
    var route: String
    var method: String
    var status: Int
}
