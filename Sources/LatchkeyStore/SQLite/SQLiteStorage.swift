import Foundation
import GRDB
import LatchkeyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded backend: one SQLite file in WAL mode through a GRDB `DatabasePool`
/// (concurrent readers, one writer).
public final class SQLiteStorage: BackendStorage {
    public let path: String
    let pool: DatabasePool
    /// Token creations, committed together when they arrive together.
    let creations: SQLiteGroupCommit

    /// Opens (creating if needed, mode 0600) the database at `path` and applies pending migrations.
    public init(path: String) throws {
        self.path = path
        // Tokens' digests and sealed secrets live here: a file Latchkey creates is its owner's
        // alone. SQLite gives the -wal and -shm files the database file's mode.
        let created = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { close(created) }
        var configuration = Configuration()
        // Another process (the CLI beside a running server) may hold the write lock briefly.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // FULL: a commit is on disk before it is acknowledged. In WAL mode NORMAL would
            // survive a crash of the process (SIGKILL) but may lose the last commits on power
            // loss, and an acknowledged revocation of a leaked token must never come undone.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteMigrations.migrator.migrate(pool)
            creations = SQLiteGroupCommit(pool: pool)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(location: path, reason: error.message ?? "\(error.resultCode)")
        }
    }

    // MARK: Schema inspection

    /// Each of Latchkey's tables with its columns in order, without the migrator's own table.
    func tableColumns() async throws -> [String: [String]] {
        try await read { db in
            let tables = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master
                    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'
                    """)
            return try Dictionary(uniqueKeysWithValues: tables.map { ($0, try db.columns(in: $0).map(\.name)) })
        }
    }

    /// `pool.read`, through GRDB's callback API: its async API also hops through a Swift actor
    /// on each of its two queues, which cost about 45 µs of CPU per read here (`/readyz`,
    /// measured under `wrk`). Reads are short: they are not interrupted when a caller is cancelled.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.asyncRead { database in continuation.resume(with: Result { try body(database.get()) }) }
        }
    }

    /// How SQLite plans to read a page of tokens: one line per step.
    func plan(of query: TokenQuery) async throws -> [String] {
        try await read { db in
            let statement = try Self.tokensRequest(query).makePreparedRequest(db).statement
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments)
                .map { $0["detail"] }
        }
    }
}
