import Hummingbird
import LatchkeyCore
import NIOCore

/// Liveness and readiness for load balancers and orchestrators.
struct HealthController {
    let tokens: TokenService

    struct Status: ResponseEncodable {
        var status: String
    }

    func addRoutes(to router: Router<some RequestContext>) {
        // No database and no allocation beyond the response: the framework's floor in benchmarks.
        let ok = ByteBuffer(string: #"{"status":"ok"}"#)
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ok))
        }
        router.get("readyz") { _, context -> Status in
            do {
                try await tokens.checkReadiness()
            } catch {
                context.logger.warning("Database not ready", metadata: ["error": "\(type(of: error))"])
                throw HTTPError(.serviceUnavailable, message: "The database is not reachable.")
            }
            return Status(status: "ready")
        }
    }
}
