import Synchronization

/// Values made the first time their key is asked for, then kept. Metrics are kept so:
/// making a counter or timer looks it up in the registry, too slow to do on every request.
/// Keys must come from a small, bounded set (outcomes, route patterns, statuses).
public final class MadeOnce<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let made = Mutex<[Key: Value]>([:])

    public init() {}

    public func value(for key: Key, make: () -> Value) -> Value {
        if let found = made.withLock({ $0[key] }) { return found }
        let value = make()  // outside the lock: a registry has locks of its own
        return made.withLock { made in
            if let raced = made[key] { return raced }
            made[key] = value
            return value
        }
    }
}
