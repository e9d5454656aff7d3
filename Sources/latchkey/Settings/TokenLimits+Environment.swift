import LatchkeyCore

extension TokenLimits {
    /// The per-user limit, lifetime, rotation policy and reserved scopes `serve` applies, for the
    /// CLI's own creations and rotations (no rate: the operator is not throttled). What reuse
    /// does is left out: only the server sees a token presented.
    static func fromEnvironment() throws -> TokenLimits {
        TokenLimits(
            maxLivePerUser: try ServerSettings.tokenLimitPerUser.resolved().value,
            maxLifetime: try ServerSettings.maxTokenLifetimes.values().byKind,
            requireExpiry: try ServerSettings.requireExpiry.isOn(),
            maxRotationOverlap: try ServerSettings.maxRotationOverlap.resolved().seconds,
            reservedScopes: try ServerSettings.reservedScopes.values().scopes)
    }
}
