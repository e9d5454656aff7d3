import Foundation

/// A date as UTC calendar fields and microseconds, computed with integer arithmetic:
/// Foundation's formatters cost a visible share of every response that carries a date.
struct UTCTimestamp: Equatable {
    var year: Int64
    var month: Int64
    var day: Int64
    var hour: Int64
    var minute: Int64
    var second: Int64
    var microsecond: Int64

    init(_ date: Date) {
        let (seconds, micro) = date.microsecondsSince1970.quotientAndRemainder(dividingBy: 1_000_000)
        let (wholeSeconds, microsecond) = micro < 0 ? (seconds - 1, micro + 1_000_000) : (seconds, micro)
        var (days, secondOfDay) = wholeSeconds.quotientAndRemainder(dividingBy: 86_400)
        if secondOfDay < 0 {
            days -= 1
            secondOfDay += 86_400
        }
        // Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondOfDay / 3_600
        minute = secondOfDay % 3_600 / 60
        second = secondOfDay % 60
        self.microsecond = microsecond
    }

    /// `2022-02-08T20:42:43.123456Z`, as Python's `isoformat()` writes a UTC time with
    /// Django REST Framework's `Z`: the fraction only when it is not zero, years past
    /// 9999 in full. Written into one buffer: this runs for every date of every response.
    var isoFormat: String {
        String(unsafeUninitializedCapacity: Self.maximumLength) { write(to: $0) }
    }

    /// A sign, 19 digits of year and the rest: 44 bytes at most.
    static let maximumLength = 48

    /// Writes `isoFormat` into `out` (at least `maximumLength` bytes): the JSON writer puts it
    /// straight into a response, without a string of its own.
    func write(to out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var end = 0
        Self.write(year, width: 4, then: UInt8(ascii: "-"), to: out, at: &end)
        Self.write(month, width: 2, then: UInt8(ascii: "-"), to: out, at: &end)
        Self.write(day, width: 2, then: UInt8(ascii: "T"), to: out, at: &end)
        Self.write(hour, width: 2, then: UInt8(ascii: ":"), to: out, at: &end)
        Self.write(minute, width: 2, then: UInt8(ascii: ":"), to: out, at: &end)
        if microsecond != 0 {
            Self.write(second, width: 2, then: UInt8(ascii: "."), to: out, at: &end)
            Self.write(microsecond, width: 6, then: UInt8(ascii: "Z"), to: out, at: &end)
        } else {
            Self.write(second, width: 2, then: UInt8(ascii: "Z"), to: out, at: &end)
        }
        return end
    }

    /// `value`'s decimal digits, zero-padded to `width`, then `separator`; a sign first for
    /// a negative year.
    private static func write(
        _ value: Int64, width: Int, then separator: UInt8, to out: UnsafeMutableBufferPointer<UInt8>,
        at end: inout Int
    ) {
        if value < 0 {
            out[end] = UInt8(ascii: "-")
            end += 1
        }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        end += max(width, digits)
        var position = end
        while position > end - max(width, digits) {
            position -= 1
            out[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        }
        out[end] = separator
        end += 1
    }
}

extension UTCTimestamp: Encodable, Sendable {
    /// As `isoFormat`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(isoFormat)
    }
}

extension UTCTimestamp {
    /// An RFC 3339 instant, with or without fractional seconds; nil for anything else.
    static func parseRFC3339(_ text: String) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        let whole = ISO8601DateFormatter()
        if let date = whole.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
