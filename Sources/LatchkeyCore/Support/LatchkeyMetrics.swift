import CoreMetrics

/// The domain's counters. Labels carry outcomes and kinds only: never a secret,
/// a username or anything else a client chose.
public struct LatchkeyMetrics: Sendable {
    let factory: any MetricsFactory
    /// Every authenticated request counts one verification.
    private let verifications = MadeOnce<String, Counter>()

    /// - Parameter factory: where the counters go (the server's Prometheus registry).
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counters that go nowhere, for code paths that need no metrics (the CLI).
    public static let none = LatchkeyMetrics(factory: NOOPMetricsHandler.instance)

    func verification(_ outcome: String) {
        verifications.value(for: outcome) {
            Counter(label: "latchkey_token_verifications_total", dimensions: [("outcome", outcome)], factory: factory)
        }.increment()
    }

    func login(method: String, succeeded: Bool) {
        Counter(
            label: "latchkey_logins_total",
            dimensions: [("method", method), ("outcome", succeeded ? "success" : "failure")], factory: factory
        ).increment()
    }

    func tokenCreated(_ kind: TokenKind) {
        Counter(label: "latchkey_tokens_created_total", dimensions: [("kind", kind.rawValue)], factory: factory)
            .increment()
    }

    /// `outcome`: succeeded, retry (failed, to be tried again) or failed (no retry left).
    func webhookAttempt(_ outcome: String) {
        Counter(label: "latchkey_webhook_attempts_total", dimensions: [("outcome", outcome)], factory: factory)
            .increment()
    }

    func tokensRevoked(_ count: Int = 1, reason: String) {
        Counter(label: "latchkey_tokens_revoked_total", dimensions: [("reason", reason)], factory: factory)
            .increment(by: count)
    }
}

extension LatchkeyMetrics {
    /// OpenID Connect sign-ins, counted once by `AccountService.signIn(identifiedBy:by:)`.
    func openIDLogin(succeeded: Bool) {
        login(method: "openid", succeeded: succeeded)
    }
}
