import Foundation
import LatchkeyCore

/// A span of time as `Lifetime` reads it: a whole number and one of w, d, h, m, s
/// (`30d`, `15m`), at most `Lifetime.maximum`.
struct Period: ArgumentValue, Hashable {
    let seconds: TimeInterval

    init(parsing text: String) throws {
        seconds = try Lifetime.parse(text)
    }

    /// The same span, for the server's timeouts.
    var duration: Duration { .seconds(Int64(seconds)) }
}
