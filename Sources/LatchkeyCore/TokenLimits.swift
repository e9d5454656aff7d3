import Foundation

/// Bounds on how many tokens a user holds and how fast they are made.
public struct TokenLimits: Sendable, Hashable {
    /// Live (unexpired) tokens per user, sessions included: knox's `TOKEN_LIMIT_PER_USER`.
    public var maxLivePerUser: Int?
    /// Creations per user, by any route; nil: unlimited (the operator's CLI).
    public var creationRate: RateLimit?

    public init(maxLivePerUser: Int? = 1000, creationRate: RateLimit? = nil) {
        self.maxLivePerUser = maxLivePerUser
        self.creationRate = creationRate
    }

    public static let `default` = TokenLimits()
    /// What `serve` applies unless configured otherwise.
    public static let server = TokenLimits(maxLivePerUser: 1000, creationRate: RateLimit(count: 300, window: 60))
}
