import Foundation

/// What other processes change, heard and evicted from this node's caches.
extension TokenService {
    /// Evicts from this node's caches what other processes change, until cancelled. While
    /// changes cannot be observed (the database is unreachable) the caches answer nothing;
    /// it tries again every `retryInterval`. `onLoss` hears why following stopped, once
    /// when it was following and once for the first of a run of failed attempts. The wait
    /// before another attempt is measured on `clock` (a test moves it rather than waiting).
    public func followStorageChanges(
        retryInterval: Duration = .seconds(1), clock: any Clock<Duration> = ContinuousClock(),
        onLoss: @Sendable (any Error) -> Void = { _ in }
    ) async {
        guard cache != nil || listCache != nil else { return }
        var isRetrying = false
        while !Task.isCancelled {
            var loss: any Error = StorageUnavailable(reason: "the connection that observes changes closed")
            do {
                try await storage.observeChanges { change in written(change) }
            } catch {
                loss = error
            }
            let wasFollowing = cache?.isAnswering ?? listCache?.isAnswering ?? false
            written(.unobservable)
            guard !Task.isCancelled else { return }
            if wasFollowing || !isRetrying { onLoss(loss) }
            isRetrying = true
            try? await clock.sleep(for: retryInterval)
        }
    }

    func forget(_ deleted: [Token]) {
        if !deleted.isEmpty { written(.tokensChanged(deleted.map(\.id))) }
    }

    /// Evicts what this node's caches hold of a change, once it is in the database.
    func written(_ change: StorageChange) {
        cache?.apply(change)
        listCache?.apply(change)
    }
}
