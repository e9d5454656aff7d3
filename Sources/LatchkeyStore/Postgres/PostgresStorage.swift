import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// The backend for several Latchkey nodes sharing one PostgreSQL database,
/// through PostgresNIO's `PostgresClient` (which must be running: see `client`).
public final class PostgresStorage: BackendStorage {
    public let location: PostgresLocation
    /// The connection pool; run it (as a service of the application) while the storage is in use.
    public let client: PostgresClient
    let logger: Logger
    /// Set once the schema is migrated; until then every call answers `StorageUnavailable`.
    let isPrepared = Mutex(false)
    /// Calls under way, counting those whose callers were answered at their deadline but that
    /// still wait for a connection or an answer: bounded, so that an unreachable database
    /// does not pile them up at the rate requests arrive.
    let callsUnderWay = Atomic<Int>(0)
    static let maximumCallsUnderWay = 1_000
    /// The `application_name` of this storage's listening connection.
    let listenerName = "latchkey changes " + UUID().uuidString.prefix(8).lowercased()

    public init(location: PostgresLocation, logger: Logger) {
        self.location = location
        self.logger = logger
        client = PostgresClient(configuration: location.clientConfiguration, backgroundLogger: logger)
    }

    /// Applies pending migrations. Safe when several nodes start at once: they take
    /// turns under an advisory lock.
    public func prepare() async throws {
        try await location.probe(logger: logger)
        // Migrations may wait for another node's turn, or rewrite a large table: a longer deadline.
        try await withDeadline(Self.migrationDeadline) {
            try await PostgresMigrations.migrate(self.client, logger: self.logger)
        }
        isPrepared.withLock { $0 = true }
    }

    // MARK: Plumbing

    /// How long a call may wait for the database (a connection, then its answer). Under the
    /// docs/operating.md's "503 within 5 s": the answer still has to be made and sent after it.
    static let callDeadline = Duration.milliseconds(4_500)
    static let migrationDeadline = Duration.seconds(120)

    /// Runs a call once the schema is ready, turning lost connections and calls
    /// that cannot get a connection in time into `StorageUnavailable`.
    @discardableResult
    func run<T: Sendable>(_ body: @Sendable @escaping () async throws -> T) async throws -> T {
        guard isPrepared.withLock({ $0 }) else {
            throw StorageUnavailable(reason: "the schema of \(location) is not ready yet")
        }
        return try await withDeadline(Self.callDeadline, body)
    }

    func withDeadline<T: Sendable>(
        _ deadline: Duration, _ body: @Sendable @escaping () async throws -> T
    ) async throws -> T {
        let location = self.location
        return try await answer(
            within: deadline, orThrow: StorageUnavailable(reason: "\(location): no answer within \(deadline)")
        ) { [self] in
            defer { callsUnderWay.subtract(1, ordering: .relaxed) }
            guard callsUnderWay.add(1, ordering: .relaxed).newValue <= Self.maximumCallsUnderWay else {
                throw StorageUnavailable(reason: "\(location): \(Self.maximumCallsUnderWay) calls are already waiting")
            }
            do {
                do {
                    return try await body()
                } catch let error as PSQLError where Self.isLockConflict(error) {
                    // Nothing of it was written: once more. (Two transactions took row locks in
                    // turn, such as a flush of last uses and a rotation by one of those tokens.)
                    return try await body()
                }
            } catch let error as PSQLError where Self.isConnectivity(error) || Self.isLockConflict(error) {
                throw StorageUnavailable(reason: "\(location): \(location.explain(error))")
            }
        }
    }

    /// Errors of reaching the server, as opposed to errors in a statement.
    static func isConnectivity(_ error: PSQLError) -> Bool {
        guard error.code == .server else { return true }
        let state = error.serverInfo?[.sqlState] ?? ""
        // 08: connection exception; 57P: operator intervention (shutdown); 28: authentication; 3D000: no such database.
        return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("28") || state == "3D000"
    }

    /// PostgreSQL ended the transaction to break a deadlock (40P01) or a serialization conflict
    /// (40001): it wrote nothing, and the same call may succeed at once.
    static func isLockConflict(_ error: PSQLError) -> Bool {
        let state = error.serverInfo?[.sqlState] ?? ""
        return error.code == .server && (state == "40P01" || state == "40001")
    }

    /// One transaction on one connection; its errors come out as they were thrown (not wrapped
    /// in `PostgresTransactionError`), so that lost connections still read as `StorageUnavailable`.
    func inTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> sending T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error
        }
    }

    /// Runs `query` and reads each row into a `Record` by column name.
    func fetch<Record: Decodable & Sendable>(_: Record.Type, _ query: PostgresQuery) async throws -> [Record] {
        try await run { [self] in
            var records: [Record] = []
            for try await row in try await client.query(query, logger: logger) {
                records.append(try Record(from: PostgresRowDecoder(row)))
            }
            return records
        }
    }

    /// The single number a `SELECT COUNT(*)` answers.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await run { [self] in
            var count: Int64 = 0
            for try await (value) in try await client.query(query, logger: logger).decode(Int64.self) { count = value }
            return Int(count)
        }
    }

    // MARK: Schema inspection

    /// Each of Latchkey's tables with its columns in order, without the migrations' own table.
    func tableColumns() async throws -> [String: [String]] {
        try await run { [self] in
            var tables: [String: [String]] = [:]
            for try await (table, column) in try await client.query(
                """
                SELECT table_name::text, column_name::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name <> 'latchkey_migrations'
                ORDER BY table_name, ordinal_position
                """, logger: logger
            ).decode((String, String).self) {
                tables[table, default: []].append(column)
            }
            return tables
        }
    }

    /// Runs one statement of the caller's as it is (tests that need a row Latchkey would never write).
    func execute(unsafeSQL sql: String) async throws {
        try await run { [self] in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }
}
