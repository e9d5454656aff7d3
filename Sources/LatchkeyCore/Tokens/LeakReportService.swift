import Foundation

/// Leaked-token reports: anyone who finds Latchkey tokens exposed (a secret scanner,
/// like GitHub's) reports them; each valid one is revoked and the event recorded. The
/// reporter never learns which tokens were valid.
public struct LeakReportService: Sendable {
    /// A reported token, and where it was found.
    public struct Leak: Sendable {
        public var token: String
        public var foundAt: String?

        public init(token: String, foundAt: String? = nil) {
            self.token = token
            self.foundAt = foundAt
        }
    }

    public static let maxTokensPerReport = 1000

    let tokens: TokenService
    let limiter: SlidingWindowLimiter

    /// - Parameter limit: reports per client address (IPv6 by /64).
    public init(tokens: TokenService, limit: RateLimit) {
        self.tokens = tokens
        limiter = SlidingWindowLimiter(limit, clock: tokens.clock)
    }

    /// Counts a report from `origin`'s address before its body is read; throws past the limit.
    public func admit(_ origin: Origin) throws {
        if case .refused(let retryAfter, _) = limiter.acquire(origin.address.map(CIDR.limitKey(for:)) ?? "unknown") {
            throw LimitExceeded(.leakReports, retryAfter: retryAfter)
        }
    }

    /// Revokes every reported token that is valid, with its family.
    /// - Returns: the tokens revoked, for the operator's log.
    public func report(_ leaks: [Leak], by origin: Origin) async throws -> [Token] {
        var revoked: [Token] = []
        for leak in leaks {
            guard let found = try await tokens.find(secret: leak.token),
                try await tokens.revoke(
                    found, by: origin, as: .tokenLeaked,
                    detail: "reported" + (leak.foundAt.map { " as found at \(Self.describe(foundAt: $0))" } ?? ""))
            else { continue }
            revoked.append(found)
        }
        return revoked
    }

    /// Where a reporter found a token, for the audit log: scheme, host and path only
    /// (a query often carries the secret itself), secrets redacted, printable, at most 500 characters.
    static func describe(foundAt url: String) -> String {
        var place = url
        if let components = URLComponents(string: url), let host = components.host {
            place = "\(components.scheme.map { "\($0)://" } ?? "")\(host)\(components.percentEncodedPath)"
        } else if let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            place = String(url[..<cut])
        }
        let printable = String(place.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return String(SecretRedaction.redact(printable).prefix(500))
    }
}
