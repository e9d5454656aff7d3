import Foundation
import Synchronization

/// At most `count` events in any `window`-long stretch of time: `10/15m`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public static let maxCount = 1_000_000
    public static let maxWindow: TimeInterval = 366 * 86_400

    public let count: Int
    public let window: TimeInterval

    /// nil unless `count` is 1...`maxCount` and `window` is 1 s...`maxWindow`.
    public init?(count: Int, window: TimeInterval) {
        guard (1...Self.maxCount).contains(count), window.isFinite, (1...Self.maxWindow).contains(window) else {
            return nil
        }
        self.count = count
        self.window = window
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "'\(text)' is not a rate: use COUNT/DURATION, e.g. 10/15m (1 to 1000000 per 1s to 366d)"
        }
    }

    /// `COUNT/DURATION`, the duration as `Lifetime` reads it: `10/15m`, `60/1m`, `1000/1d`.
    public static func parse(_ text: String) throws -> RateLimit {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 7, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            let count = Int(parts[0]), let window = try? Lifetime.parse(String(parts[1])),
            let limit = RateLimit(count: count, window: window)
        else { throw ParseError(text: text) }
        return limit
    }

    public var description: String { "\(count)/\(Int(window))s" }
}

/// A request refused by an abuse limit. Every dialect answers it the same way in its own
/// shape: 429 (503 when the server itself is saturated) with `Retry-After`.
public struct LimitExceeded: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case signIn = "sign_in"
        case tokenCreation = "token_creation"
        case leakReports = "leak_reports"
        /// Every password worker is busy and the wait queue is full.
        case passwordWork = "password_work"
    }

    public let kind: Kind
    public let retryAfter: TimeInterval

    public init(_ kind: Kind, retryAfter: TimeInterval) {
        self.kind = kind
        self.retryAfter = retryAfter
    }

    /// The server is saturated (503) rather than the caller too fast (429).
    public var isOverload: Bool { kind == .passwordWork }

    /// Whole seconds for `Retry-After`: at least 1, at most a window's maximum.
    public var retryAfterSeconds: Int {
        guard retryAfter.isFinite else { return Int(RateLimit.maxWindow) }
        return Int(min(max(retryAfter, 1), RateLimit.maxWindow).rounded(.up))
    }

    public var description: String {
        switch kind {
        case .signIn: "Too many sign-in attempts; try again in \(retryAfterSeconds) seconds."
        case .tokenCreation: "Too many tokens created; try again in \(retryAfterSeconds) seconds."
        case .leakReports: "Too many reports from this address; try again later."
        case .passwordWork: "The server is busy; try again in \(retryAfterSeconds) seconds."
        }
    }
}
