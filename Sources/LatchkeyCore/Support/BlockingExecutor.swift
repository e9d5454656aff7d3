import Dispatch

/// Where heavy CPU work (password hashing) runs: on threads of its own, never on an
/// event loop or Swift's cooperative pool. The server injects a pool sized by its
/// configuration; the domain only needs this.
public protocol BlockingExecutor: Sendable {
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T
}

/// Dispatch's global queue: enough for the CLI and tests, which hash a password or two.
public struct DispatchExecutor: BlockingExecutor {
    public init() {}

    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
