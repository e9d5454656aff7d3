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
        Int64(saturating: (timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Whole seconds since 1970, rounded down, saturating like `microsecondsSince1970`.
    public var secondsSince1970: Int64 {
        Int64(saturating: timeIntervalSince1970.rounded(.down))
    }

    public init(microsecondsSince1970 microseconds: Int64) {
        self.init(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }
}

extension Int64 {
    /// `value` where it fits, else the nearest bound (0 for NaN): never a trap.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else {
            self = Int64(exactly: value) ?? (value > 0 ? .max : .min)
        }
    }
}
