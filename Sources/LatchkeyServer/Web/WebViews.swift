import Foundation
import LatchkeyCore

/// Times as people read them: relative ("3 hours ago", "in 6 days") beside the exact UTC time.
enum WebTime {
    static func exact(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d UTC", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0)
    }

    /// The machine-readable form for `<time datetime>`.
    static func iso(_ date: Date) -> String { UTCTimestamp(date).isoFormat }

    static func relative(_ date: Date, now: Date) -> String {
        let seconds = date.timeIntervalSince(now)
        let magnitude = abs(seconds)
        let amount: String
        switch magnitude {
        case ..<60: return "just now"
        case ..<3570: amount = plural(magnitude / 60, "minute")
        case ..<84_600: amount = plural(magnitude / 3600, "hour")
        case ..<(45 * 86_400): amount = plural(magnitude / 86_400, "day")
        case ..<(540 * 86_400): amount = plural(magnitude / (30 * 86_400), "month")
        default: amount = plural(magnitude / (365 * 86_400), "year")
        }
        return seconds < 0 ? "\(amount) ago" : "in \(amount)"
    }

    /// The nearest whole count: a token made for 7 days reads "in 7 days", not 6.
    private static func plural(_ amount: Double, _ unit: String) -> String {
        let count = Int(min(amount.rounded(), 1_000_000))
        return count == 1 ? "1 \(unit)" : "\(count) \(unit)s"
    }
}

/// A moment shown both ways.
struct WebMoment {
    var relative: String
    var exact: String
    var iso: String

    init(_ date: Date, now: Date) {
        relative = WebTime.relative(date, now: now)
        exact = WebTime.exact(date)
        iso = WebTime.iso(date)
    }
}

/// One row of a token table: never the secret.
struct WebTokenRow {
    static let expiresSoon: TimeInterval = 7 * 86_400

    var uuid: String
    var title: String
    var kind: String
    var scopes: String
    var created: WebMoment
    var used: Bool
    var lastUsed: [WebMoment]
    var lastUsedIP: String
    var hasLastUsedIP: Bool
    var expires: [WebMoment]
    var expired: Bool
    var expiringSoon: Bool
    var isCurrent: Bool
    var canRotate: Bool
    var retiring: Bool
    var owner: String
    var hasOwner: Bool

    init(_ token: Token, now: Date, currentID: Int64? = nil, owner: String = "") {
        uuid = token.uuid.uuidString.lowercased()
        title = token.title.map { $0.isEmpty ? "(untitled)" : $0 } ?? "(untitled)"
        kind = token.kind.rawValue
        scopes =
            token.kind == .session
            ? "all (a sign-in session)" : token.scopes.isEmpty ? "none" : token.scopes.joined(separator: " ")
        created = WebMoment(token.created, now: now)
        used = token.lastUsed != nil
        lastUsed = token.lastUsed.map { [WebMoment($0, now: now)] } ?? []
        lastUsedIP = token.lastUsedIP ?? ""
        hasLastUsedIP = token.lastUsedIP != nil
        expires = token.expires.map { [WebMoment($0, now: now)] } ?? []
        expired = token.isExpired(at: now)
        // A session renews itself with each use: only a fixed expiry can come as a surprise.
        expiringSoon =
            !expired && token.slidingLifetime == nil
            && token.expires.map { $0.timeIntervalSince(now) <= Self.expiresSoon } ?? false
        isCurrent = token.id == currentID
        canRotate = token.kind == .app && token.lifecycle.retires == nil && !expired
        retiring = token.lifecycle.retires != nil
        self.owner = owner
        hasOwner = !owner.isEmpty
    }
}

/// The scopes the new-token form offers: the ones the services that rely on Latchkey know
/// (Quay's), and `superuser` to administrators only; a scope the server reserves only to them.
enum WebScopes {
    static let common = [
        "repo:read", "repo:write", "repo:admin", "repo:create", "user:read", "user:admin", "org:admin",
    ]

    static func offered(to user: User, limits: TokenLimits) -> [String] {
        user.isAdmin ? common + [Principal.superuserScope] : common.filter { !limits.reservedScopes.contains($0) }
    }
}
