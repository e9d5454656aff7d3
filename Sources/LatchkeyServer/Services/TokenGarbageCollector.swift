import Foundation
import LatchkeyCore
import Logging
import ServiceLifecycle

/// Once every `interval`, for as long as the server runs: deletes tokens that expired more
/// than `grace` ago (Quay keeps expired tokens listed for a day), audit events older
/// than `auditRetention`, and webhook messages older than `WebhookService.retention`.
struct TokenGarbageCollector: Service {
    let tokens: TokenService
    let webhooks: WebhookService
    let grace: TimeInterval
    let auditRetention: TimeInterval
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
            let events = try await tokens.audit.collect(olderThan: auditRetention)
            if events > 0 { logger.info("Deleted old audit events", metadata: ["count": "\(events)"]) }
            let messages = try await webhooks.collect()
            if messages > 0 { logger.info("Deleted old webhook messages", metadata: ["count": "\(messages)"]) }
        } catch {
            logger.warning("Garbage collection failed; will retry", metadata: ["error": "\(type(of: error))"])
        }
    }
}
