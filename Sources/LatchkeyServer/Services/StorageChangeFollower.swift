import LatchkeyCore
import Logging
import ServiceLifecycle

/// Keeps this node's token caches in step with what other nodes and the CLI change
/// (`TokenService.followStorageChanges`), for as long as the server runs.
struct StorageChangeFollower: Service {
    let tokens: TokenService
    let logger: Logger

    func run() async throws {
        // A service that returns ends the application: without a cache, wait for the end.
        guard tokens.cache != nil || tokens.listCache != nil else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            await tokens.followStorageChanges { error in
                logger.warning(
                    "Cannot observe changes to tokens; the token caches answer nothing until they can again",
                    metadata: ["reason": "\(error)"])
            }
        }
    }
}
