import Foundation
import Synchronization

/// Admits at most `maxRunning` jobs at once and holds at most `maxWaiting` more in line;
/// past that, a job is refused at once (`LimitExceeded.passwordWork`) instead of queueing
/// without bound. A job whose caller no longer wants it (the client hung up, the task was
/// cancelled) is dropped when its turn comes, before it starts.
public final class BoundedWorkQueue: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var running = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// A moving average of how long a job takes, for `Retry-After`.
        var averageDuration: TimeInterval = 0.5
        var dropped = 0
    }

    public let maxRunning: Int
    public let maxWaiting: Int
    private let state = Mutex(State())

    public init(maxRunning: Int = ProcessInfo.processInfo.activeProcessorCount, maxWaiting: Int? = nil) {
        self.maxRunning = max(1, maxRunning)
        self.maxWaiting = max(0, maxWaiting ?? 4 * self.maxRunning)
    }

    /// Jobs running and waiting now; and how many were dropped because nobody wanted them any more.
    public var load: (running: Int, waiting: Int, dropped: Int) {
        state.withLock { ($0.running, $0.waiters.count, $0.dropped) }
    }

    /// Runs `work` when a place is free. `isWanted` is asked just before it starts.
    public func run<T: Sendable>(
        isWanted: @Sendable () -> Bool = { true }, _ work: @Sendable () async throws -> T
    ) async throws -> T {
        try await admit()
        guard !Task.isCancelled, isWanted() else {
            state.withLock { $0.dropped += 1 }
            release()
            throw WorkDropped()
        }
        let started = ContinuousClock.now
        defer {
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            state.withLock { $0.averageDuration = 0.8 * $0.averageDuration + 0.2 * seconds }
            release()
        }
        return try await work()
    }

    private enum Admission {
        case now
        case wait
        case refused(TimeInterval)
    }

    private func admit() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let admission = state.withLock { state -> Admission in
                    if state.running < maxRunning {
                        state.running += 1
                        return .now
                    }
                    guard state.waiters.count < maxWaiting else {
                        let ahead = Double(state.waiters.count + state.running) / Double(maxRunning)
                        return .refused(ahead * state.averageDuration)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch admission {
                case .now: continuation.resume()
                case .wait: break
                case .refused(let retryAfter):
                    continuation.resume(throwing: LimitExceeded(.passwordWork, retryAfter: retryAfter))
                }
            }
        } onCancel: {
            let removed = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                state.dropped += 1
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(throwing: WorkDropped())
        }
    }

    /// Hands the place to the first waiter, or frees it.
    private func release() {
        let next = state.withLock { state -> Waiter? in
            guard !state.waiters.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume()
    }
}

/// Work dropped before it started because nobody waits for its result any more.
public struct WorkDropped: Error, Sendable, Equatable {
    public init() {}
}
