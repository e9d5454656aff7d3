import Foundation
import LatchkeyStore
import Synchronization
import Testing

/// Runs `body` with a new, empty directory under the system's temporary directory,
/// and removes the directory and everything in it when `body` ends, also when it throws.
public func withScratchDirectory<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: (URL) async throws -> T
) async throws -> T {
    let directory = try newScratchDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// Runs `body` with a fresh SQLite database in a scratch directory of its own,
/// removed when `body` ends.
public func withSQLiteStorage<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: (SQLiteStorage) async throws -> T
) async throws -> T {
    try await withScratchDirectory { directory in
        try await body(try SQLiteStorage(path: directory.appendingPathComponent("latchkey.db").path))
    }
}

/// A new directory under the system's temporary directory.
///
/// Inside a test or suite marked `.removingScratchDirectories`, the directory is removed
/// when the test ends. Anywhere else the caller deletes it: prefer `withScratchDirectory`,
/// which always does.
public func makeScratchDirectory() throws -> URL {
    let directory = try newScratchDirectory()
    ScratchDirectories.current?.register(directory)
    return directory
}

/// A fresh SQLite database in its own scratch directory, removed as `makeScratchDirectory`
/// says: at the end of a test marked `.removingScratchDirectories`, else by the caller
/// (the directory is the database file's). Prefer `withSQLiteStorage`.
public func makeSQLiteStorage() throws -> SQLiteStorage {
    try SQLiteStorage(path: makeScratchDirectory().appendingPathComponent("latchkey.db").path)
}

private func newScratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("latchkey-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The scratch directories made during one test case, removed when it ends.
final class ScratchDirectories: Sendable {
    @TaskLocal static var current: ScratchDirectories?

    private let directories = Mutex<[URL]>([])

    func register(_ directory: URL) {
        directories.withLock { $0.append(directory) }
    }

    func removeAll() {
        for directory in directories.withLock({ $0 }) {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

/// Removes, when each test case ends (also when it fails), every directory that
/// `makeScratchDirectory` or `makeSQLiteStorage` made for it, including in the suite's
/// `init`: for suites that keep a database in a stored property.
public struct RemovingScratchDirectories: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// One scope per test case, never one around a whole suite or function.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let made = ScratchDirectories()
        defer { made.removeAll() }
        try await ScratchDirectories.$current.withValue(made) { try await function() }
    }
}

extension Trait where Self == RemovingScratchDirectories {
    /// Removes the scratch directories each test case makes, when it ends.
    public static var removingScratchDirectories: Self { RemovingScratchDirectories() }
}
