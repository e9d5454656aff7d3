import Foundation
import GRDB
import LatchkeyCore

/// What other processes change, heard through `data_version`.
extension SQLiteStorage {
    /// Another process's commits (the CLI, or a second server on the same file) move the
    /// writer connection's `data_version`; this process's own writes, all on that
    /// connection, do not. Polled four times a second; any move clears what the cache holds.
    public func observeChanges(_ onChange: @escaping @Sendable (StorageChange) -> Void) async throws {
        var seen = try await dataVersion()
        onChange(.anything)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(250))
            let version = try await dataVersion()
            if version != seen { onChange(.anything) }
            seen = version
        }
    }

    /// The writer connection's `data_version`: it moves with every other connection's commit.
    func dataVersion() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }
}
