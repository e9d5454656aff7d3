import LatchkeyCore
import Logging
import ServiceLifecycle

/// Writes the batched last uses and sliding expiries every `interval`, and once more at
/// graceful shutdown: the HTTP server stops first (it is the application's last service),
/// the storage after this.
struct UsageFlusher: Service {
    let tokens: TokenService
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // A service that returns ends the application: without batching, wait for the end.
        guard tokens.pendingUsage != nil else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: interval)) != nil {
                await flush()
            }
        }
        await flush()
    }

    private func flush() async {
        do {
            try await tokens.flushUsage()
        } catch {
            logger.warning("Writing last uses failed; will retry", metadata: ["error": "\(type(of: error))"])
        }
    }
}
