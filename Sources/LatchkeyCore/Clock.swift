import Foundation
import Synchronization

/// Where the domain reads the time from. Injected everywhere so that expiry,
/// sliding lifetimes and throttling are tested by moving a clock, not by sleeping.
public protocol WallClock: Sendable {
    var now: Date { get }
}

public struct SystemClock: WallClock {
    public init() {}
    public var now: Date { Date() }
}

/// A clock that only moves when told to; for tests and simulations.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by interval: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }

    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}

extension Date {
    /// Whole microseconds since 1970, rounded: the precision Latchkey stores and shows.
    /// Saturates instead of trapping: every date from outside is bounded before it is
    /// stored (`Lifetime.maximum`), but a conversion must never be what stops the process.
    public var microsecondsSince1970: Int64 {
        let microseconds = (timeIntervalSince1970 * 1_000_000).rounded()
        guard microseconds.isFinite else { return microseconds > 0 ? .max : (microseconds < 0 ? .min : 0) }
        return Int64(exactly: microseconds) ?? (microseconds > 0 ? .max : .min)
    }

    /// Whole seconds since 1970, rounded down, saturating like `microsecondsSince1970`.
    public var secondsSince1970: Int64 {
        let seconds = timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite else { return seconds > 0 ? .max : (seconds < 0 ? .min : 0) }
        return Int64(exactly: seconds) ?? (seconds > 0 ? .max : .min)
    }

    public init(microsecondsSince1970 microseconds: Int64) {
        self.init(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }
}
