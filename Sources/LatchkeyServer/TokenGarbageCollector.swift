import Foundation
import LatchkeyCore
import Logging
import ServiceLifecycle

/// Deletes tokens that expired more than `grace` ago, once every `interval`,
/// for as long as the server runs (Quay keeps expired tokens listed for a day).
struct TokenGarbageCollector: Service {
    let tokens: TokenService
    let grace: TimeInterval
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            // The first round waits one interval: at start the database may still be preparing.
            while (try? await Task.sleep(for: interval)) != nil {
                await collect()
            }
        }
    }

    func collect() async {
        do {
            let deleted = try await tokens.deleteExpired(grace: grace)
            if deleted > 0 { logger.info("Deleted expired tokens", metadata: ["count": "\(deleted)"]) }
        } catch {
            logger.warning("Token garbage collection failed; will retry", metadata: ["error": "\(type(of: error))"])
        }
    }
}
