import LatchkeyCore
import ServiceLifecycle

/// Keeps this node's token cache in step with what other nodes and the CLI change
/// (`TokenService.followStorageChanges`), for as long as the server runs.
struct StorageChangeFollower: Service {
    let tokens: TokenService

    func run() async throws {
        // A service that returns ends the application: without a cache, wait for the end.
        guard tokens.cache != nil else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            await tokens.followStorageChanges()
        }
    }
}
