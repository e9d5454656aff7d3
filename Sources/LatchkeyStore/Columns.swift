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

    /// `prefix%` for `LIKE … ESCAPE '\'`, with LIKE's own wildcards in the prefix taken literally.
    static func likePattern(prefix: String) -> String {
        prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }
}
