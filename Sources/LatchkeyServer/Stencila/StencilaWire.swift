import Foundation
import Hummingbird
import LatchkeyCore

/// Stencila Hub's wire format, in one place: camelCase keys, ISO 8601 UTC dates
/// with a `Z` and microseconds when non-zero, and `{"message", "errors"}` error bodies.
enum StencilaWire {
    /// `2022-02-08T20:42:43.123456Z`, or `2022-02-08T20:42:43Z` on a whole second (Django's `isoformat`).
    static func date(_ date: Date) -> String {
        let microseconds = date.microsecondsSince1970
        let (seconds, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        let whole = seconds - (fraction < 0 ? 1 : 0)
        let text = Date(timeIntervalSince1970: TimeInterval(whole)).formatted(.iso8601)
        let micro = fraction < 0 ? fraction + 1_000_000 : fraction
        guard micro != 0 else { return text }
        return text.dropLast() + "." + String(format: "%06lld", micro) + "Z"
    }

    /// The names shown for a user. Stencila's client requires non-empty first and
    /// last names in a token response, so an account created without them shows its
    /// username as first name and "-" as last name.
    static func names(of user: User) -> (first: String, last: String) {
        (user.firstName.isEmpty ? user.username : user.firstName, user.lastName.isEmpty ? "-" : user.lastName)
    }
}
