import Foundation
import LatchkeyCore
import Logging
import ServiceLifecycle

/// An opened storage with what it needs to work: a background service (PostgreSQL's
/// connection pool) and a preparation step (its migrations).
public struct StorageHandle: Sendable {
    public let storage: any LatchkeyStorage
    /// Runs for as long as the storage is used; nil for SQLite.
    public let service: (any Service)?
    /// Makes the schema ready; SQLite is ready once opened.
    let prepareOnce: @Sendable () async throws -> Void

    /// Prepares the storage. With `retrying`, waits out an unreachable database
    /// with exponential backoff (0.5 s up to 30 s), logging each failure, until it
    /// succeeds or the task is cancelled.
    public func prepare(retrying: Bool, logger: Logger) async throws {
        var delay = Duration.milliseconds(500)
        while true {
            do {
                return try await prepareOnce()
            } catch let error as StorageUnavailable where retrying {
                logger.error(
                    "Cannot prepare the database; retrying in \(delay)", metadata: ["reason": "\(error.reason)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    /// Runs `body` with the storage ready, for one-shot commands: the background
    /// service runs alongside and stops afterwards; an unreachable database fails at once.
    public func withPrepared<T: Sendable>(
        logger: Logger, _ body: @Sendable @escaping (any LatchkeyStorage) async throws -> T
    ) async throws -> T {
        guard let service else {
            try await prepare(retrying: false, logger: logger)
            return try await body(storage)
        }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await service.run()
                return nil
            }
            group.addTask {
                try await prepare(retrying: false, logger: logger)
                return try await body(storage)
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let value = result { return value }
            }
            throw CancellationError()
        }
    }
}

/// Opens the storage a `--database` value names: a SQLite file path, or a
/// `postgres://` URL.
public enum StorageLocation {
    public static func open(_ location: String, logger: Logger) throws -> StorageHandle {
        if PostgresLocation.isPostgresURL(location) {
            let storage = PostgresStorage(location: try PostgresLocation(url: location), logger: logger)
            return StorageHandle(
                storage: storage, service: storage.client, prepareOnce: { try await storage.prepare() })
        }
        return StorageHandle(storage: try SQLiteStorage(path: location), service: nil, prepareOnce: {})
    }

    /// Where the generated server key is kept for a SQLite database: beside it.
    public static func keyFilePath(forDatabase location: String) -> String {
        let url = URL(fileURLWithPath: location)
        return url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".key").path
    }
}
