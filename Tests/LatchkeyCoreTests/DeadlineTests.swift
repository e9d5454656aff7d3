import LatchkeyCore
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

@Suite("Answering within a deadline")
struct DeadlineTests {
    @Test func aBodyThatIgnoresCancellationIsAnsweredAtTheDeadline() async throws {
        let gate = Gate()
        let bodyEnded = Mutex(false)
        await #expect(throws: TimedOut.self) {
            try await answer(within: .milliseconds(50), orThrow: TimedOut()) {
                await gate.wait()
                bodyEnded.withLock { $0 = true }
                return 1
            }
        }
        // The caller was answered while the body still held on; the body may end later, unharmed.
        #expect(!bodyEnded.withLock { $0 })
        gate.open()
    }

    @Test func aBodyThatAnswersFirstIsTheAnswerAndErrorsComeOutAsThrown() async throws {
        let value = try await answer(within: .seconds(60), orThrow: TimedOut()) { 42 }
        #expect(value == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await answer(within: .seconds(60), orThrow: TimedOut()) { () async throws -> Int in throw Refused()
            }
        }
    }

    @Test func aCancelledCallerIsAnsweredAtOnce() async throws {
        let gate = Gate()
        let caller = Task {
            try await answer(within: .seconds(60), orThrow: TimedOut()) {
                await gate.wait()
                return 1
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        gate.open()
    }
}
