import LatchkeyCore

extension TokenLimits {
    /// The per-user limit and lifetime policy `serve` applies, for the CLI's own creations
    /// (no rate: the operator is not throttled).
    static func fromEnvironment() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try PositiveCount.fromEnvironment("LATCHKEY_TOKEN_LIMIT_PER_USER")?.value ?? 1000,
            maxLifetime: try MaxLifetime.listFromEnvironment(MaxLifetime.variable).byKind,
            requireExpiry: try environmentFlag(requireExpiryVariable))
    }

    static let requireExpiryVariable = "LATCHKEY_REQUIRE_EXPIRY"
}
