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

    /// A uuid as stored (`8-4-4-4-12` hex digits, either case), parsed without Foundation's
    /// `sscanf`-based reader, which showed in every listing; nil for anything else.
    static func uuid(_ text: String) -> UUID? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var high: UInt8?
        for (index, character) in text.utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        guard text.utf8.count == 36, bytes.count == 16 else { return nil }
        return bytes.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
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
