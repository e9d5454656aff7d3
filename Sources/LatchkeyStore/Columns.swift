import Foundation
import LatchkeyCore

/// How domain values are written to columns, the same for every backend:
/// times as integer microseconds since 1970 (exact, and portable between
/// SQLite and PostgreSQL), scopes as one space-separated string (OAuth's syntax).
enum Columns {
    static func microseconds(_ date: Date) -> Int64 {
        date.microsecondsSince1970
    }

    static func date(microseconds: Int64) -> Date {
        Date(microsecondsSince1970: microseconds)
    }

    static func scopes(_ scopes: [String]) -> String {
        scopes.joined(separator: " ")
    }

    static func scopes(_ text: String) -> [String] {
        text.split(separator: " ").map(String.init)
    }

    /// Whether text can be stored and compared alike on every backend: PostgreSQL's text
    /// cannot hold NUL and SQLite's C interface would cut it there ("sam\0x" read as "sam").
    /// Nothing stored holds one, so a look-up for such a value answers "none" exactly.
    static func isStorable(_ values: String...) -> Bool {
        !values.contains { $0.utf8.contains(0) }
    }

    /// `WITH RECURSIVE family(id)`: the tokens matching `condition` and every token they
    /// created, and theirs (the same SQL on both backends).
    static func tokenFamily(matching condition: String) -> String {
        """
        WITH RECURSIVE family(id) AS (
            SELECT id FROM tokens WHERE \(condition)
            UNION SELECT t.id FROM tokens t JOIN family f ON t.parent_id = f.id)
        """
    }

    /// `prefix%` for `LIKE … ESCAPE '\'`, with LIKE's own wildcards in the prefix taken literally.
    static func likePattern(prefix: String) -> String {
        prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case cannotOpen(location: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let location, let reason): "cannot open the database at \(location): \(reason)"
        }
    }
}
