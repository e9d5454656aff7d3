import Foundation
import LatchkeyCore

/// Allows at most `limit` events per key in each `window`-long window; keys are
/// forgotten once their window has passed. Time comes from the injected clock.
actor RateLimiter {
    let limit: Int
    let window: TimeInterval
    private let clock: any WallClock
    private var counts: [String: (windowStart: Date, count: Int)] = [:]

    init(limit: Int, window: TimeInterval, clock: any WallClock) {
        self.limit = limit
        self.window = window
        self.clock = clock
    }

    /// Counts one event for `key`; false when over the limit (the caller refuses it),
    /// with how long until the window ends.
    func allow(_ key: String) -> (allowed: Bool, retryAfter: TimeInterval) {
        let now = clock.now
        if counts.count > 10_000 { counts = counts.filter { now.timeIntervalSince($0.value.windowStart) < window } }
        var entry = counts[key] ?? (now, 0)
        if now.timeIntervalSince(entry.windowStart) >= window { entry = (now, 0) }
        entry.count += 1
        counts[key] = entry
        let retryAfter = window - now.timeIntervalSince(entry.windowStart)
        return (entry.count <= limit, retryAfter)
    }
}
