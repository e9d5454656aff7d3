import CoreMetrics
import Hummingbird
import Logging
import Synchronization

/// Records every request once it is answered: counts it by route pattern, method and
/// status, times it, and writes one info line — `GET /api/tokens/{token} 200`. The
/// route is the registered pattern, never the path as sent (which may carry a token),
/// so a secret can become neither a metric label nor part of the line; no query, no
/// headers. The log handler redacts secrets in every line as well (`SecretRedactingLogHandler`).
struct RequestRecordMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory
    /// The counter and timer of each route, method and status, made once: making them
    /// looked them up in the registry on every request.
    private let recorders = RequestRecorders()

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
        let (counter, timer) = recorders.recorders(route: route, method: method, status: status, factory: factory)
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
        if context.logger.logLevel <= .info {
            context.logger.info("\(method) \(route) \(status)", metadata: ["duration_us": "\(nanoseconds / 1_000)"])
        }
    }
}

/// Routes are registered patterns and statuses three digits: a small, bounded set.
private final class RequestRecorders: Sendable {
    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private let made = Mutex<[Key: (Counter, Timer)]>([:])

    func recorders(route: String, method: String, status: Int, factory: any MetricsFactory) -> (Counter, Timer) {
        let key = Key(route: route, method: method, status: status)
        if let found = made.withLock({ $0[key] }) { return found }
        let pair = (
            Counter(
                label: "http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory),
            Timer(
                label: "http_request_duration_seconds", dimensions: [("route", route), ("method", method)],
                factory: factory)
        )
        made.withLock { $0[key] = pair }
        return pair
    }
}
