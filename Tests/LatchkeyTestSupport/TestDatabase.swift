import Foundation
import LatchkeyCore
import LatchkeyStore
import Logging
import Testing

/// The database backends a storage or dialect test runs against: always SQLite,
/// and PostgreSQL when LATCHKEY_TEST_POSTGRES_URL names a server (scripts/test
/// starts one).
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["LATCHKEY_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The backends this run can use.
    public static var available: [TestBackend] {
        postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    public var description: String { rawValue }

    /// Runs `body` with a new, empty, real database of this kind: a SQLite file, or a
    /// PostgreSQL schema of its own (so tests never see each other's rows). Either is
    /// removed when `body` ends, also when it throws: the SQLite file's directory, or the
    /// schema (`DROP SCHEMA … CASCADE`, once the storage's connections are closed).
    public func withStorage(_ body: @Sendable @escaping (any LatchkeyStorage) async throws -> Void) async throws {
        try await withNodes { first, _ in try await body(first) }
    }

    /// As `withStorage`, with two storages on the one database, as two nodes (or a server
    /// and the CLI) would open it: each with its own connections.
    public func withNodes(
        _ body: @Sendable @escaping (any LatchkeyStorage, any LatchkeyStorage) async throws -> Void
    ) async throws {
        let logger = {
            var logger = Logger(label: "test-postgres")
            logger.logLevel = .critical
            return logger
        }()
        switch self {
        case .sqlite:
            try await withSQLiteStorage { storage in try await body(storage, try SQLiteStorage(path: storage.path)) }
        case .postgres:
            let url = try #require(
                Self.postgresURL, "a PostgreSQL test needs LATCHKEY_TEST_POSTGRES_URL (scripts/test starts a server)")
            let schema = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            try await runLatchkeyAdminSQL(url: url, "CREATE SCHEMA \(schema)", logger: logger)
            do {
                let separator = url.contains("?") ? "&" : "?"
                let location = url + separator + "search_path=\(schema)"
                // Each returns once its storage's connection pool has shut down.
                try await StorageLocation.open(location, logger: logger).withPrepared(logger: logger) { first in
                    try await StorageLocation.open(location, logger: logger).withPrepared(logger: logger) { second in
                        try await body(first, second)
                    }
                }
            } catch {
                try? await runLatchkeyAdminSQL(url: url, "DROP SCHEMA \(schema) CASCADE", logger: logger)
                throw error
            }
            try await runLatchkeyAdminSQL(url: url, "DROP SCHEMA \(schema) CASCADE", logger: logger)
        }
    }
}

/// Runs one statement on the test server outside any Latchkey schema.
func runLatchkeyAdminSQL(url: String, _ sql: String, logger: Logger) async throws {
    try await PostgresLocation(url: url).execute(unsafeSQL: sql, logger: logger)
}

/// Real scrypt, at a cost small enough for tests (N=2^10 instead of 2^17).
/// Cheap scrypt parameters, and a wait line long enough for every test running at once.
public let fastPasswordHasher = PasswordHasher(
    parameters: .init(logRounds: 10, blockSize: 8, parallelism: 1), queue: BoundedWorkQueue(maxWaiting: 10_000))

/// Creates a user straight in storage.
@discardableResult
public func makeUser(
    _ storage: any LatchkeyStorage, _ username: String, email: String? = nil, password: String? = nil,
    isAdmin: Bool = false, clock: any WallClock = SystemClock()
) async throws -> User {
    try await AccountService(storage: storage, hasher: fastPasswordHasher, clock: clock).createUser(
        username: username, email: email, firstName: username.capitalized, lastName: "Tester", password: password,
        isAdmin: isAdmin, by: .cli)
}
