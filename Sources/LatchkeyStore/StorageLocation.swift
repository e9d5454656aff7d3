import Foundation
import LatchkeyCore

/// Opens the storage a `--database` value names.
public enum StorageLocation {
    public static func open(_ location: String) throws -> any LatchkeyStorage {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            throw StoreError.unsupportedLocation("a PostgreSQL URL")
        }
        return try SQLiteStorage(path: location)
    }

    /// Where the generated server key is kept for a SQLite database: beside it.
    public static func keyFilePath(forDatabase location: String) -> String {
        let url = URL(fileURLWithPath: location)
        return url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".key").path
    }
}
