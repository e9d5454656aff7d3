import Foundation
import LatchkeyCore

/// A form filled in wrongly: shown on the form again, as it was filled in.
struct WebFormError: Error {
    let message: String
}

struct SignInView {
    struct Provider {
        var index: Int
        var name: String
    }

    var csrf: String
    var login: String
    var providers: [Provider]
    var hasProviders: Bool
}

struct TokensView {
    var tokens: [WebTokenRow]
    var hasTokens: Bool
    /// Every user's tokens (the administrators' page): with an owner column.
    var owners: Bool
    /// Only the newest are shown: how many there are in all.
    var isTruncated: Bool
    var shown: Int
    var total: Int

    /// `rows`, the newest of those `query` selects; counted only when they may not be all.
    init(_ rows: [WebTokenRow], of query: TokenQuery, tokens: TokenService, owners: Bool = false) async throws {
        self.tokens = rows
        hasTokens = !rows.isEmpty
        self.owners = owners
        shown = rows.count
        total = rows.count < WebController.listLimit ? rows.count : try await tokens.count(query)
        isTruncated = total > rows.count
    }
}

extension TokenQuery {
    /// The newest `count` this query selects.
    func newest(_ count: Int) -> TokenQuery {
        var query = self
        query.limit = count
        query.newestFirst = true
        return query
    }
}

struct SecretView {
    var heading: String
    var secret: String
    var token: WebTokenRow
}

struct RevokeView {
    var csrf: String
    var token: WebTokenRow
    var action: String
    var cancel: String
}

struct RotateView {
    struct Overlap {
        var seconds: Int
        var label: String
    }

    var csrf: String
    var token: WebTokenRow
    var action: String
    var overlaps: [Overlap]

    /// The overlaps offered: none up to a week, within the server's longest.
    static func overlaps(longest: TimeInterval) -> [Overlap] {
        [
            Overlap(seconds: 0, label: "None: the old token stops now"),
            Overlap(seconds: 3600, label: "1 hour"), Overlap(seconds: 86_400, label: "1 day"),
            Overlap(seconds: 604_800, label: "7 days"),
        ].filter { TimeInterval($0.seconds) <= longest }
    }
}

/// The new-token form: title, lifetime (7, 30 or 90 days, none where policy allows, or a
/// date), and scopes (those this session may give).
struct NewTokenView {
    struct LifetimeChoice {
        var value: String
        var label: String
        var checked: Bool
        var id: String
    }

    struct ScopeChoice {
        var value: String
        var checked: Bool
        var id: String
    }

    static let maxScopes = 64

    var csrf: String
    var title: String
    var lifetimes: [LifetimeChoice]
    var expiresOn: String
    var scopes: [ScopeChoice]
    var otherScopes: String
    var policyNote: String
    var hasPolicyNote: Bool
    private var selected: String?
    private var chosenScopes: [String]

    init(session: WebSession, limits: TokenLimits, form: WebForm? = nil) {
        csrf = session.csrf
        let longest = limits.maxLifetime[.app]
        var values = [7, 30, 90].filter { longest == nil || TimeInterval($0 * 86_400) <= longest! }.map {
            (String($0), "\($0) days")
        }
        if longest == nil && !limits.requireExpiry { values.append(("never", "No expiry")) }
        values.append(("custom", "Until a date (through its end, UTC)"))
        let offered = values.map(\.0)
        let chosen: String? =
            if let form {
                form["lifetime"].flatMap { offered.contains($0) ? $0 : nil }
            } else {
                offered.contains("30") ? "30" : offered.first
            }
        selected = chosen
        lifetimes = values.map {
            LifetimeChoice(value: $0.0, label: $0.1, checked: $0.0 == chosen, id: "lifetime-\($0.0)")
        }
        title = form?["title"] ?? ""
        expiresOn = form?["expires_on"] ?? ""
        let ticked = Set(form?.all("scopes") ?? [])
        scopes = WebScopes.offered(to: session.principal.user, limits: limits).map {
            ScopeChoice(
                value: $0, checked: ticked.contains($0), id: "scope-" + $0.replacingOccurrences(of: ":", with: "-"))
        }
        otherScopes = form?["other_scopes"] ?? ""
        chosenScopes = (form?.all("scopes") ?? []) + otherScopes.split(whereSeparator: \.isWhitespace).map(String.init)
        if let longest {
            policyNote = "Tokens may live at most \(Int(longest / 86_400)) days here."
        } else {
            policyNote = limits.requireExpiry ? "Every token must expire here." : ""
        }
        hasPolicyNote = !policyNote.isEmpty
    }

    /// The scopes ticked or typed, once each; a reserved one is refused by the token service.
    func requestedScopes() throws -> [String] {
        var seen = Set<String>()
        let scopes = chosenScopes.filter { seen.insert($0).inserted }
        guard scopes.count <= Self.maxScopes else {
            throw WebFormError(message: "A token may have at most \(Self.maxScopes) scopes.")
        }
        return scopes
    }

    func requestedExpiry(now: Date) throws -> TokenRequest.Expiry {
        switch selected {
        case "never": return .never
        case "custom":
            guard let day = Self.day(expiresOn) else {
                throw WebFormError(message: "Enter the date the token expires, as YYYY-MM-DD.")
            }
            return .at(day.addingTimeInterval(86_400))
        default:
            // The day counts offered are small: no arithmetic on a number from outside.
            guard let selected, let count = Int(selected), (1...90).contains(count) else {
                throw WebFormError(message: "Choose how long the token lives.")
            }
            return .after(TimeInterval(count * 86_400))
        }
    }

    /// The start of a `YYYY-MM-DD` day in UTC; nil for anything else (31 February included).
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1970...9999).contains(year)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)) else { return nil }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        return back.year == year && back.month == month && back.day == day ? date : nil
    }
}
