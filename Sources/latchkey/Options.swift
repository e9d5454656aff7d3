import ArgumentParser
import Foundation
import LatchkeyCore
import LatchkeyStore
import Logging

/// Reads an environment variable; empty counts as unset.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "SQLite file path, or postgres://user:password@host:port/database (env LATCHKEY_DATABASE; default: latchkey.db)."
    )
    var database: String?

    var location: String { database ?? environment("LATCHKEY_DATABASE") ?? "latchkey.db" }

    var isPostgres: Bool { PostgresLocation.isPostgresURL(location) }

    func open(logger: Logger) throws -> StorageHandle {
        try StorageLocation.open(location, logger: logger)
    }

    /// Runs a one-shot command against the database; an unreachable one fails at once.
    func withStorage<T: Sendable>(_ body: @Sendable @escaping (any LatchkeyStorage) async throws -> T) async throws -> T
    {
        // The CLI reports its own failures in one line; background chatter stays quiet.
        var logger = Logger(label: "latchkey")
        logger.logLevel = .critical
        return try await open(logger: logger).withPrepared(logger: logger, body)
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false
}

/// A failure the CLI reports as one line and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Output {
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func date(_ date: Date?) -> String {
        date.map { $0.formatted(.iso8601) } ?? "never"
    }

    /// Left-aligned columns, for people.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

/// A whole number from a flag, else the environment, else `fallback`; `from` to 1,000,000.
func wholeNumber(_ flag: Int?, _ variable: String, default fallback: Int, from lowest: Int = 1) throws -> Int {
    let value =
        try flag ?? environment(variable).map { text in
            guard let value = Int(text) else { throw CLIError("\(variable) must be a whole number, not '\(text)'") }
            return value
        } ?? fallback
    guard (lowest...1_000_000).contains(value) else {
        throw CLIError("\(variable) must be between \(lowest) and 1000000, not \(value)")
    }
    return value
}

extension TokenLimits {
    /// The per-user limit `serve` applies, for the CLI's own creations (no rate: the operator is not throttled).
    static func fromEnvironment() throws -> TokenLimits {
        TokenLimits(maxLivePerUser: try wholeNumber(nil, "LATCHKEY_TOKEN_LIMIT_PER_USER", default: 1000))
    }
}

extension AccountService {
    /// The user the CLI's `--user` names.
    func requireUser(_ username: String) async throws -> User {
        guard let user = try await storage.user(username: username) else {
            throw CLIError("there is no user named '\(username)'")
        }
        return user
    }
}
