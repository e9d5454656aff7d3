import Foundation
import LatchkeyCore
import LatchkeyStore

/// A new directory under the system's temporary directory.
public func makeScratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("latchkey-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The database backends a storage test runs against. PostgreSQL joins this list
/// when its backend exists.
public enum TestBackend: String, CaseIterable, Sendable {
    case sqlite

    /// A new, empty, real database of this kind.
    public func makeStorage() throws -> any LatchkeyStorage {
        switch self {
        case .sqlite:
            try SQLiteStorage(path: makeScratchDirectory().appendingPathComponent("latchkey.db").path)
        }
    }
}

/// Real scrypt, at a cost small enough for tests (N=2^10 instead of 2^17).
public let fastPasswordHasher = PasswordHasher(parameters: .init(logRounds: 10, blockSize: 8, parallelism: 1))

/// Creates a user straight in storage.
@discardableResult
public func makeUser(
    _ storage: any LatchkeyStorage, _ username: String, email: String? = nil, password: String? = nil,
    isAdmin: Bool = false, clock: any WallClock = SystemClock()
) async throws -> User {
    try await AccountService(storage: storage, hasher: fastPasswordHasher, clock: clock).createUser(
        username: username, email: email, firstName: username.capitalized, lastName: "Tester", password: password,
        isAdmin: isAdmin)
}
