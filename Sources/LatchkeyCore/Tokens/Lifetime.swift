import Foundation

/// Durations written as Quay writes them: a whole number and one unit,
/// `w` (weeks), `d`, `h`, `m` (minutes) or `s`, e.g. `30d`, `2w`, `3600s`.
public enum Lifetime {
    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "'\(text)' is not a duration: use a whole number and one of w, d, h, m, s (e.g. 30d), at most 100 years"
        }
    }

    /// Longer than any token should live; keeps every date Latchkey stores far from overflow.
    /// Every lifetime and expiry from outside is checked against it before any arithmetic.
    public static let maximum: TimeInterval = 100 * 366 * 86_400

    /// Whether `interval` may be used as a lifetime: finite, positive, at most `maximum`.
    public static func isAcceptable(_ interval: TimeInterval) -> Bool {
        interval.isFinite && interval > 0 && interval <= maximum
    }

    /// `interval` in the largest of `parse`'s units that divides it: `90d`, `36h`, `3600s` reads `1h`.
    public static func describe(_ interval: TimeInterval) -> String {
        let seconds = Int64(interval.rounded())
        for (unit, length) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3_600), ("m", 60)]
        where seconds >= length && seconds % length == 0 {
            return "\(seconds / length)\(unit)"
        }
        return "\(seconds)s"
    }

    public static func parse(_ text: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1]
        let digits = text.dropLast()
        // At most 12 digits: more cannot be a lifetime under `maximum`, and Double stays exact.
        guard let unit = text.last, let seconds = units[unit], (1...12).contains(digits.count),
            digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Double(digits),
            isAcceptable(count * seconds)
        else { throw ParseError(text: text) }
        return count * seconds
    }
}
