import LatchkeyCore

/// A rate limit as `RateLimit` reads it: `COUNT/DURATION`, e.g. `10/15m`.
struct Rate: ArgumentValue, Hashable {
    let limit: RateLimit

    init(parsing text: String) throws {
        limit = try RateLimit.parse(text)
    }
}
