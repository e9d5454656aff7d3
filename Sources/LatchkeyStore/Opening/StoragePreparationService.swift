import Logging
import ServiceLifecycle

/// Prepares a shared database in the background (retrying with backoff while it
/// is unreachable), then runs `afterwards` once, then stays until shutdown.
public struct StoragePreparationService: Service {
    let handle: StorageHandle
    let logger: Logger
    let afterwards: @Sendable () async throws -> Void

    public init(handle: StorageHandle, logger: Logger, afterwards: @escaping @Sendable () async throws -> Void) {
        self.handle = handle
        self.logger = logger
        self.afterwards = afterwards
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await handle.prepare(retrying: true, logger: logger)
                logger.info("Database ready")
                do {
                    try await afterwards()
                } catch {
                    logger.error("Start-up step after database preparation failed", metadata: ["error": "\(error)"])
                }
            }
        } catch is CancellationError {
            return
        }
        try? await gracefulShutdown()
    }
}
