import Foundation

/// Durations written as Quay writes them: a whole number and one unit,
/// `w` (weeks), `d`, `h`, `m` (minutes) or `s`, e.g. `30d`, `2w`, `3600s`.
public enum Lifetime {
    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "'\(text)' is not a duration: use a whole number and one of w, d, h, m, s (e.g. 30d)"
        }
    }

    /// Longer than any token should live; keeps dates far from overflow.
    static let maximum: TimeInterval = 100 * 366 * 86_400

    public static func parse(_ text: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1]
        let digits = text.dropLast()
        guard let unit = text.last, let seconds = units[unit], !digits.isEmpty,
            digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Double(digits), count > 0,
            count * seconds <= maximum
        else { throw ParseError(text: text) }
        return count * seconds
    }
}
