import Foundation
import LatchkeyCore
import Logging
import NIOSSL
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL, parsed. Its
/// description never shows the password.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: String
    /// Startup parameters such as `search_path`, from the URL's other query items.
    public var parameters: [(String, String)]

    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(url text: String) throws {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw StoreError.cannotOpen(location: "a PostgreSQL URL", reason: "the URL cannot be read")
        }
        self.host = host
        port = components.port ?? 5432
        username = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        password = components.percentEncodedPassword?.removingPercentEncoding
        database = String(components.path.dropFirst()).removingPercentEncoding ?? ""
        if database.isEmpty { database = username }
        var sslMode = "prefer"
        var parameters: [(String, String)] = []
        for item in components.queryItems ?? [] {
            if item.name == "sslmode" {
                sslMode = item.value ?? sslMode
            } else if let value = item.value {
                parameters.append((item.name, value))
            }
        }
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw StoreError.cannotOpen(
                location: "a PostgreSQL URL", reason: "sslmode must be disable, prefer or require")
        }
        self.sslMode = sslMode
        self.parameters = parameters
    }

    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case "disable": .disable
            case "require": .require(.makeClientConfiguration())
            default: .prefer(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    /// Opens one connection and closes it: fails fast, with the server's reason,
    /// where the pool would keep waiting for a database it cannot reach.
    func probe(logger: Logger) async throws {
        try await withConnection(logger: logger) { _ in }
    }

    /// Runs one statement on a connection of its own (administration and tests).
    public func execute(unsafeSQL sql: String, logger: Logger) async throws {
        try await withConnection(logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Runs `body` on a connection of its own, outside the pool, and closes it.
    /// - Parameter name: the connection's `application_name`, as `pg_stat_activity` shows it.
    func withConnection(
        logger: Logger, name: String? = nil, _ body: (PostgresConnection) async throws -> Void
    ) async throws {
        let tls: PostgresConnection.Configuration.TLS =
            switch sslMode {
            case "disable": .disable
            case "require": .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            default: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = parameters + (name.map { [("application_name", $0)] } ?? [])
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw StorageUnavailable(reason: "cannot connect to \(self): \(explain(error))")
        }
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// What went wrong talking to this database, in words for an operator: the
    /// server's own message, or the network error. Never the password.
    func explain(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return Self.networkReason(underlying) }
            return "\(error.code)"
        }
        return Self.networkReason(error)
    }

    private static func networkReason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.lowercased().contains("refused") { return "connection refused" }
        if text.contains("connection reset") || text.contains("ECONNRESET") { return "the connection was reset" }
        if text.lowercased().contains("timeout") || text.contains("timed out") { return "the connection timed out" }
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "unknown error"
    }
}
