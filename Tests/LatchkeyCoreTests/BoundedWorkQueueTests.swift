import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Synchronization
import Testing

// Jobs wait on gates: a queue that lost a wake-up would hang, which the limit makes a failure.
@Suite("Bounded work queue", .timeLimit(.minutes(1)))
struct BoundedWorkQueueTests {
    /// A gate the test opens; jobs wait on it while they hold their place.
    final class Gate: Sendable {
        private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let opened = Mutex(false)

        func wait() async {
            await withCheckedContinuation { continuation in
                let isOpen = opened.withLock { $0 }
                if isOpen {
                    continuation.resume()
                } else {
                    waiters.withLock { $0.append(continuation) }
                }
            }
        }

        func open() {
            opened.withLock { $0 = true }
            for waiter in waiters.withLock({ $0 }) { waiter.resume() }
            waiters.withLock { $0 = [] }
        }
    }

    /// Shared state for the jobs under test.
    final class Shared<Value: Sendable>: Sendable {
        private let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
    }

    @Test func atMostNRunAndAtMostMWaitTheRestAreRefusedAtOnce() async throws {
        let queue = BoundedWorkQueue(maxRunning: 2, maxWaiting: 3)
        let gate = Gate()
        let running = Shared(0)
        let peak = Shared(0)
        try await withThrowingTaskGroup(of: Int?.self) { group in
            for job in 0..<5 {
                group.addTask {
                    do {
                        try await queue.run {
                            let now = running.withLock { count in
                                count += 1
                                return count
                            }
                            peak.withLock { $0 = max($0, now) }
                            await gate.wait()
                            running.withLock { $0 -= 1 }
                        }
                        return job
                    } catch is LimitExceeded {
                        return nil
                    }
                }
            }
            try await yieldUntil { queue.load.running == 2 && queue.load.waiting == 3 }
            // Full: the sixth is refused at once, without waiting for the gate.
            await #expect(throws: LimitExceeded.self) { try await queue.run {} }
            gate.open()
            var finished: [Int?] = []
            for try await job in group { finished.append(job) }
            // Each of the five that found a place ran to its end; none was refused.
            #expect(finished.compactMap { $0 }.sorted() == [0, 1, 2, 3, 4])
        }
        #expect(peak.withLock { $0 } == 2)
        #expect(queue.load.running == 0 && queue.load.waiting == 0)
    }

    @Test func workNobodyWantsAnyMoreIsDroppedBeforeItStarts() async throws {
        let queue = BoundedWorkQueue(maxRunning: 1, maxWaiting: 5)
        let gate = Gate()
        let clientLeft = Shared(false)
        let ran = Shared(0)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await queue.run { await gate.wait() }
                return true
            }
            try await yieldUntil { queue.load.running == 1 }
            for _ in 0..<3 {
                group.addTask {
                    do {
                        try await queue.run(isWanted: { !clientLeft.withLock { $0 } }) { ran.withLock { $0 += 1 } }
                        return true
                    } catch is WorkDropped {
                        return false
                    }
                }
            }
            try await yieldUntil { queue.load.waiting == 3 }
            clientLeft.withLock { $0 = true }
            gate.open()
            var completed = 0
            for try await finished in group where finished { completed += 1 }
            #expect(completed == 1)
        }
        #expect(ran.withLock { $0 } == 0)
        #expect(queue.load.dropped == 3)
        #expect(queue.load.running == 0)
    }

    @Test func aCancelledWaiterLeavesTheLine() async throws {
        let queue = BoundedWorkQueue(maxRunning: 1, maxWaiting: 1)
        let gate = Gate()
        let holder = Task { try await queue.run { await gate.wait() } }
        try await yieldUntil { queue.load.running == 1 }
        let waiter = Task { try await queue.run {} }
        try await yieldUntil { queue.load.waiting == 1 }
        waiter.cancel()
        await #expect(throws: WorkDropped.self) { try await waiter.value }
        #expect(queue.load.waiting == 0)
        gate.open()
        try await holder.value
        try await queue.run {}  // the place was handed back
    }
}
