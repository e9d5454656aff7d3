import LatchkeyCore
import LatchkeyTestSupport
import Synchronization
import Testing

/// Holds a body, deaf to cancellation, until the test opens it.
private final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiter = continuation }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func open() {
        state.withLock { state in
            state.isOpen = true
            return state.waiter.take()
        }?.resume()
    }
}

private struct TimedOut: Error {}

// A wrong implementation (one that waits for the body) hangs rather than fails: the limit
// turns that into a failure.
@Suite("Answering within a deadline", .timeLimit(.minutes(1)))
struct DeadlineTests {
    @Test func aBodyThatIgnoresCancellationIsAnsweredAtTheDeadlineThenCancelled() async throws {
        let clock = SteppedClock()
        let gate = Gate()
        let bodyStarted = Mutex(false)
        let bodySawCancellation = Mutex<Bool?>(nil)
        let caller = Task {
            try await answer(within: .milliseconds(50), on: clock, orThrow: TimedOut()) {
                bodyStarted.withLock { $0 = true }
                await gate.wait()
                bodySawCancellation.withLock { $0 = Task.isCancelled }
                return 1
            }
        }
        try await yieldUntil { bodyStarted.withLock { $0 } && clock.sleeping == 1 }
        clock.advance(by: .milliseconds(49))
        #expect(clock.sleeping == 1, "not answered before the deadline")
        clock.advance(by: .milliseconds(1))
        // Answered while the gate is still shut: the caller does not wait for the body.
        await #expect(throws: TimedOut.self) { try await caller.value }
        #expect(bodySawCancellation.withLock { $0 } == nil, "the body is still held")
        gate.open()
        try await yieldUntil { bodySawCancellation.withLock { $0 } != nil }
        #expect(bodySawCancellation.withLock { $0 } == true, "the body was cancelled, left to end on its own")
    }

    @Test func aBodyThatAnswersFirstIsTheAnswerAndStopsTheTimer() async throws {
        let clock = SteppedClock()
        let value = try await answer(within: .seconds(60), on: clock, orThrow: TimedOut()) { 42 }
        #expect(value == 42)
        try await yieldUntil { clock.sleeping == 0 }
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await answer(within: .seconds(60), on: clock, orThrow: TimedOut()) { () async throws -> Int in
                throw Refused()
            }
        }
    }

    @Test func aCancelledCallerIsAnsweredAtOnce() async throws {
        let clock = SteppedClock()
        let gate = Gate()
        let caller = Task {
            try await answer(within: .seconds(60), on: clock, orThrow: TimedOut()) {
                await gate.wait()
                return 1
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        gate.open()
    }

    @Test func theSystemClockDeadlineStillAnswers() async throws {
        // The overload the server calls measures on ContinuousClock; a body that answers
        // first is the answer there too (no real waiting: the body is immediate).
        #expect(try await answer(within: .seconds(60), orThrow: TimedOut()) { "ok" } == "ok")
    }
}
