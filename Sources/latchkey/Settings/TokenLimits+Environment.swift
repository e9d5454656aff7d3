import LatchkeyCore

extension TokenLimits {
    /// The per-user limit, lifetime, rotation policy and reserved scopes `serve` applies, for the CLI's own
    /// creations and rotations (no rate: the operator is not throttled). What reuse does is
    /// left out: only the server sees a token presented.
    static func fromEnvironment() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try PositiveCount.fromEnvironment("LATCHKEY_TOKEN_LIMIT_PER_USER")?.value ?? 1000,
            maxLifetime: try MaxLifetime.listFromEnvironment(MaxLifetime.variable).byKind,
            requireExpiry: try environmentFlag(requireExpiryVariable),
            maxRotationOverlap: try Period.fromEnvironment(maxRotationOverlapVariable)?.seconds
                ?? TokenLimits.default.maxRotationOverlap,
            reservedScopes: try ReservedScope.listFromEnvironment(ReservedScope.variable).scopes)
    }

    static let requireExpiryVariable = "LATCHKEY_REQUIRE_EXPIRY"
    static let maxRotationOverlapVariable = "LATCHKEY_MAX_ROTATION_OVERLAP"
}
