import Foundation
import Synchronization

/// Counts events per key in a sliding window (the two-window estimate: the previous
/// window's count, weighted by how much of it still overlaps, plus the current one's),
/// so a burst at a window's edge cannot double the limit. Memory is bounded: at most
/// `maxKeys` keys, those that weigh least forgotten first. Time comes from the injected clock.
public final class SlidingWindowLimiter: Sendable {
    public enum Decision: Sendable, Equatable {
        case allowed
        /// `firstRefusal`: the first refusal for this key since it was last allowed, so
        /// that engaging the limit is recorded once, not once per refused attempt.
        case refused(retryAfter: TimeInterval, firstRefusal: Bool)
    }

    struct Entry {
        var windowStart: Date
        var previous: Int
        var current: Int
        var refusing: Bool
        var lastTouched: Date
    }

    public let limit: RateLimit
    public let maxKeys: Int
    private let clock: any WallClock
    private let entries = Mutex<[String: Entry]>([:])

    public init(_ limit: RateLimit, clock: any WallClock, maxKeys: Int = 100_000) {
        self.limit = limit
        self.clock = clock
        self.maxKeys = max(1, maxKeys)
    }

    public var keyCount: Int { entries.withLock { $0.count } }

    /// Counts one event for `key` when the limit allows it.
    public func acquire(_ key: String) -> Decision {
        let now = clock.now
        return entries.withLock { entries in
            if entries[key] == nil && entries.count >= maxKeys { evict(from: &entries, now: now) }
            var entry = rolled(entries[key], now: now)
            let elapsed = fraction(of: entry, at: now)
            let estimate = Double(entry.previous) * (1 - elapsed) + Double(entry.current)
            let decision: Decision
            if estimate + 1 <= Double(limit.count) {
                entry.current += 1
                entry.refusing = false
                decision = .allowed
            } else {
                decision = .refused(retryAfter: retryAfter(entry, elapsed: elapsed), firstRefusal: !entry.refusing)
                entry.refusing = true
            }
            entry.lastTouched = now
            entries[key] = entry
            return decision
        }
    }

    /// Takes back one event counted for `key` (a sign-in that turned out correct).
    public func refund(_ key: String) {
        let now = clock.now
        entries.withLock { entries in
            guard let existing = entries[key] else { return }
            var entry = rolled(existing, now: now)
            if entry.current > 0 {
                entry.current -= 1
            } else if entry.previous > 0 {
                entry.previous -= 1
            }
            // A key that holds nothing takes no room (correct sign-ins leave no trace).
            entries[key] = entry.current == 0 && entry.previous == 0 && !entry.refusing ? nil : entry
        }
    }

    /// Moves `entry` to the window holding `now`.
    private func rolled(_ entry: Entry?, now: Date) -> Entry {
        guard var entry else {
            return Entry(windowStart: now, previous: 0, current: 0, refusing: false, lastTouched: now)
        }
        let since = now.timeIntervalSince(entry.windowStart)
        if since >= 2 * limit.window {
            entry = Entry(windowStart: now, previous: 0, current: 0, refusing: entry.refusing, lastTouched: now)
        } else if since >= limit.window {
            entry.previous = entry.current
            entry.current = 0
            entry.windowStart = entry.windowStart.addingTimeInterval(limit.window)
        }
        return entry
    }

    /// How far into its current window `entry` is, 0..<1 (0 for a clock that went back).
    private func fraction(of entry: Entry, at now: Date) -> Double {
        min(max(now.timeIntervalSince(entry.windowStart) / limit.window, 0), 1)
    }

    /// How long until one more event would be allowed, from the same estimate.
    private func retryAfter(_ entry: Entry, elapsed: Double) -> TimeInterval {
        let room = Double(limit.count - 1)
        if Double(entry.current) <= room, entry.previous > 0 {
            // Within this window, once enough of the previous one has slid out.
            let needed = 1 - (room - Double(entry.current)) / Double(entry.previous)
            return max(needed - elapsed, 0) * limit.window
        }
        // In the next window, with this window's count as the previous one.
        let needed = entry.current > 0 ? max(1 - room / Double(entry.current), 0) : 0
        return (1 - elapsed) * limit.window + needed * limit.window
    }

    /// Forgets keys idle for two windows (they hold nothing), then, down to three quarters
    /// of `maxKeys`, the keys that weigh least (the idlest first among equals): a flood of
    /// new keys evicts other one-off keys, never a key an attacker has nearly used up.
    private func evict(from entries: inout [String: Entry], now: Date) {
        entries = entries.filter { now.timeIntervalSince($0.value.lastTouched) < 2 * limit.window }
        let target = maxKeys * 3 / 4
        guard entries.count > target else { return }
        let lightest = entries.map { key, entry in
            let rolled = rolled(entry, now: now)
            let weight = Double(rolled.previous) * (1 - fraction(of: rolled, at: now)) + Double(rolled.current)
            return (key: key, weight: weight, touched: entry.lastTouched)
        }.sorted { ($0.weight, $0.touched) < ($1.weight, $1.touched) }
        for victim in lightest.prefix(entries.count - target) { entries[victim.key] = nil }
    }
}
