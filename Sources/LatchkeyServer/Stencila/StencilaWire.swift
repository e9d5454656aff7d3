import Foundation
import Hummingbird
import LatchkeyCore

/// Stencila Hub's wire format, in one place: camelCase keys, ISO 8601 UTC dates
/// with a `Z` and microseconds when non-zero, and `{"message", "errors"}` error bodies.
enum StencilaWire {
    /// `2022-02-08T20:42:43.123456Z`, or `2022-02-08T20:42:43Z` on a whole second (Django's `isoformat`).
    static func date(_ date: Date) -> String {
        UTCTimestamp(date).isoFormat
    }

    /// The names shown for a user. Stencila's client requires non-empty first and
    /// last names in a token response, so an account created without them shows its
    /// username as first name and "-" as last name.
    static func names(of user: User) -> (first: String, last: String) {
        (user.firstName.isEmpty ? user.username : user.firstName, user.lastName.isEmpty ? "-" : user.lastName)
    }
}
