import Foundation
import Hummingbird
import LatchkeyCore

/// Quay's wire format, in one place: snake_case keys, RFC 2822 dates in UTC,
/// and RFC 7807-style error bodies with Quay's `error_type`s.
enum QuayWire {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Tue, 21 Oct 2025 19:00:59 -0000`: Python's `email.utils.formatdate`, whole seconds.
    static func date(_ date: Date) -> String {
        var seconds = time_t(date.secondsSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%@, %02d %@ %04ld %02d:%02d:%02d -0000", weekdays[Int(parts.tm_wday)], parts.tm_mday,
            months[Int(parts.tm_mon)], Int(parts.tm_year) + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// Quay's `truthy_bool` for `?expiring=`: these spellings are false, anything else true.
    static func truthy(_ text: String) -> Bool {
        !["false", "False", "FALSE", "0", "", "null"].contains(text)
    }
}
