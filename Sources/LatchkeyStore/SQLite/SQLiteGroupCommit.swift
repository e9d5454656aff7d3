import GRDB
import Synchronization

/// Group commit: writes that arrive while one commits wait and then share the next
/// transaction, so concurrent token creations cost one sync to disk together rather than
/// one each (`synchronous = FULL` syncs on every commit). Each write runs in a savepoint of
/// its own, so one that throws (a limit reached) is undone alone; each is answered only
/// once its transaction has committed, and if that commit fails, all are answered with
/// the failure. A write that arrives when none is committing starts at once: no delay
/// is added to wait for company. Once queued, a write is done even if its caller's task is
/// cancelled (a client that hung up still gets the token it asked for stored).
final class SQLiteGroupCommit: Sendable {
    /// Bounds the time one transaction holds the write lock.
    static let maxBatch = 256

    private struct Job: Sendable {
        /// Runs inside the shared transaction; returns how to answer once it has committed.
        /// Throws only when its savepoint cannot be undone: then the whole batch fails.
        let run: @Sendable (Database) throws -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private let pool: DatabasePool
    private let state = Mutex<(waiting: [Job], isCommitting: Bool)>(([], false))

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(
                run: { db in
                    let result = try Self.inSavepoint(db, work)
                    return { continuation.resume(with: result) }
                },
                fail: { continuation.resume(throwing: $0) })
            let startsCommitting = state.withLock { state in
                state.waiting.append(job)
                defer { state.isCommitting = true }
                return !state.isCommitting
            }
            if startsCommitting { Task { await commitWaiting() } }
        }
    }

    private func commitWaiting() async {
        while let jobs = takeBatch() {
            do {
                let answers = try await pool.write { db in try jobs.map { try $0.run(db) } }
                for answer in answers { answer() }
            } catch {
                for job in jobs { job.fail(error) }
            }
        }
    }

    /// The next writes to commit; nil (and no longer committing) when none wait.
    private func takeBatch() -> [Job]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.isCommitting = false
                return nil
            }
            let batch = Array(state.waiting.prefix(Self.maxBatch))
            state.waiting.removeFirst(batch.count)
            return batch
        }
    }

    /// `work`'s own outcome, its writes undone if it threw. Throws when they cannot be undone,
    /// so that they are never committed with the others'.
    private static func inSavepoint<T>(_ db: Database, _ work: (Database) throws -> T) throws -> Result<T, any Error> {
        try db.execute(sql: "SAVEPOINT grouped")
        do {
            let value = try work(db)
            try db.execute(sql: "RELEASE grouped")
            return .success(value)
        } catch {
            try db.execute(sql: "ROLLBACK TO grouped")
            try db.execute(sql: "RELEASE grouped")
            return .failure(error)
        }
    }
}
