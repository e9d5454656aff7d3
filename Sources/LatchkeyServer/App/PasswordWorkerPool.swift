import Foundation
import LatchkeyCore
import NIOPosix

/// The server's password hashing threads: a pool of their own, exactly as wide as the
/// hasher's queue lets jobs run, at a lower priority (nice 10), so that when every core
/// is busy deriving, the event loops that verify tokens still get the CPU first.
public struct PasswordWorkerPool: BlockingExecutor {
    private let threadPool: NIOThreadPool

    /// Starts `workers` threads, for the life of the process (the server's).
    public init(workers: Int) {
        threadPool = NIOThreadPool(numberOfThreads: max(1, workers))
        threadPool.start()
    }

    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive {
            #if os(Linux)
                // On Linux the nice value is per thread, and 0 names the calling one; setting it again is a no-op.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            #endif
            return try work()
        }
    }
}

extension PasswordHasher {
    /// The server's hasher: OWASP's parameters on a `PasswordWorkerPool` of `workers` threads,
    /// with at most `maxWaiting` derivations waiting.
    public static func dedicated(workers: Int, maxWaiting: Int) -> PasswordHasher {
        PasswordHasher(
            parameters: .owasp, queue: BoundedWorkQueue(maxRunning: workers, maxWaiting: maxWaiting),
            executor: PasswordWorkerPool(workers: workers))
    }
}
