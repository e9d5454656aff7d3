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

    /// Addresses and networks, comma-separated.
    static func list(_ items: [String]) -> String {
        items.joined(separator: ",")
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map(String.init)
    }

    static func networks(_ networks: [CIDR]) -> String {
        list(networks.map(\.description))
    }

    /// nil when one of them is not a network (never written so: read as unreadable).
    static func networks(_ text: String) -> [CIDR]? {
        var networks: [CIDR] = []
        for item in list(text) {
            guard let network = try? CIDR(item) else { return nil }
            networks.append(network)
        }
        return networks
    }

    /// A uuid as stored (`8-4-4-4-12` hex digits, either case), parsed without Foundation's
    /// `sscanf`-based reader, which showed in every listing; nil for anything else.
    static func uuid(_ text: String) -> UUID? {
        var text = text
        return text.withUTF8 { utf8 -> UUID? in
            guard utf8.count == 36 else { return nil }
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let parsed = withUnsafeMutableBytes(of: &uuid) { bytes in
                var index = 0
                for byteIndex in 0..<16 {
                    if index == 8 || index == 13 || index == 18 || index == 23 {
                        guard utf8[index] == UInt8(ascii: "-") else { return false }
                        index += 1
                    }
                    guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return false }
                    bytes[byteIndex] = high << 4 | low
                    index += 2
                }
                return true
            }
            return parsed ? UUID(uuid: uuid) : nil
        }
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
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
