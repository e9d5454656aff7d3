import Synchronization

/// Answers with `body`'s result, or throws `timeout()` once `deadline` has passed, whichever
/// comes first; a cancelled caller is answered with `CancellationError` at once.
///
/// A task group would not do: it waits for every child, and a body blocked where cancellation
/// is not heard (a pool lease on a connection whose server vanished) would hold the caller past
/// its deadline. Here the body is cancelled and left to end on its own.
public func answer<T: Sendable>(
    within deadline: Duration, orThrow timeout: @autoclosure @escaping @Sendable () -> any Error,
    _ body: @Sendable @escaping () async throws -> T
) async throws -> T {
    try await answer(within: deadline, on: ContinuousClock(), orThrow: timeout(), body)
}

/// `answer(within:orThrow:_:)` with the deadline measured on `clock`, so that a test moves
/// the time instead of waiting for it.
public func answer<T: Sendable, C: Clock>(
    within deadline: C.Duration, on clock: C, orThrow timeout: @autoclosure @escaping @Sendable () -> any Error,
    _ body: @Sendable @escaping () async throws -> T
) async throws -> T {
    let race = FirstAnswer<T>()
    let expiry = clock.now.advanced(by: deadline)
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(
                continuation, sleep: { try await clock.sleep(until: expiry, tolerance: nil) }, timeout: timeout,
                body: body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The continuation of one `answer(within:orThrow:_:)`, resumed by whichever of the body,
/// the timer and the caller's cancellation comes first; the others are cancelled.
private final class FirstAnswer<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var contenders: [Task<Void, Never>] = []
        /// An answer (cancellation) that came before the continuation did.
        var early: Result<T, any Error>?
        var isAnswered = false
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, sleep: @escaping @Sendable () async throws -> Void,
        timeout: @escaping @Sendable () -> any Error, body: @Sendable @escaping () async throws -> T
    ) {
        if let early = state.withLock({ state in
            state.continuation = continuation
            return state.early
        }) {
            return finish(early)
        }
        let work = Task {
            do {
                finish(.success(try await body()))
            } catch {
                finish(.failure(error))
            }
        }
        let timer = Task {
            guard (try? await sleep()) != nil else { return }
            finish(.failure(timeout()))
        }
        let lateContenders = state.withLock { state in
            if state.isAnswered { return [work, timer] }
            state.contenders = [work, timer]
            return []
        }
        for contender in lateContenders { contender.cancel() }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, contenders) = state.withLock { state in
            guard !state.isAnswered else {
                return (nil, []) as (CheckedContinuation<T, any Error>?, [Task<Void, Never>])
            }
            guard let continuation = state.continuation else {
                state.early = state.early ?? result
                return (nil, [])
            }
            state.isAnswered = true
            state.continuation = nil
            defer { state.contenders = [] }
            return (continuation, state.contenders)
        }
        guard let continuation else { return }
        for contender in contenders { contender.cancel() }
        continuation.resume(with: result)
    }
}
