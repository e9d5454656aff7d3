import Foundation
import Hummingbird
import LatchkeyCore

/// A token as Latchkey's own API (and `latchkey token show`) shows it. Every key is always
/// present (`null` when unset); `token`, the secret, only in the answers to creation and
/// rotation; `owner` only where the reader may see other users' tokens.
public struct V1Token: ResponseEncodable, Sendable {
    var uuid: String
    var key: String
    @NullWhenAbsent var title: String?
    var kind: String
    var scopes: [String]
    var createdAt: String
    @NullWhenAbsent var expiresAt: String?
    @NullWhenAbsent var lastUsedAt: String?
    @NullWhenAbsent var lastUsedIP: String?
    @NullWhenAbsent var lastUsedUserAgent: String?
    var recentIPs: [String]
    @NullWhenAbsent var maxUses: Int?
    @NullWhenAbsent var usesRemaining: Int?
    var allowedIPs: [String]
    @NullWhenAbsent var metadata: JSONValue?
    @NullWhenAbsent var rotatedFrom: String?
    /// When a token rotated away stops working (the end of its overlap).
    @NullWhenAbsent var retiresAt: String?
    var token: String?
    var owner: String?

    enum CodingKeys: String, CodingKey {
        case uuid, key, title, kind, scopes
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case lastUsedIP = "last_used_ip"
        case lastUsedUserAgent = "last_used_user_agent"
        case recentIPs = "recent_ips"
        case maxUses = "max_uses"
        case usesRemaining = "uses_remaining"
        case allowedIPs = "allowed_ips"
        case metadata
        case rotatedFrom = "rotated_from"
        case retiresAt = "retires_at"
        case token, owner
    }

    public init(_ token: Token, secret: TokenSecret? = nil, owner: String? = nil) {
        let lifecycle = token.lifecycle
        uuid = token.uuid.uuidString.lowercased()
        key = token.key
        title = token.title
        kind = token.kind.rawValue
        scopes = token.scopes
        createdAt = UTCTimestamp(token.created).isoFormat
        expiresAt = token.expires.map { UTCTimestamp($0).isoFormat }
        lastUsedAt = token.lastUsed.map { UTCTimestamp($0).isoFormat }
        lastUsedIP = token.lastUsedIP
        lastUsedUserAgent = lifecycle.lastUsedAgent
        recentIPs = lifecycle.recentIPs
        maxUses = lifecycle.maxUses
        usesRemaining = lifecycle.usesRemaining
        allowedIPs = lifecycle.allowedIPs.map(\.description)
        metadata = lifecycle.metadata.flatMap(JSONValue.init(json:))
        rotatedFrom = lifecycle.rotatedFrom?.uuidString.lowercased()
        retiresAt = lifecycle.retires.map { UTCTimestamp($0).isoFormat }
        self.token = secret?.value
        self.owner = owner
    }
}

struct V1TokenList: ResponseEncodable {
    var tokens: [V1Token]
}

/// A request body's fields, checked one by one with errors that name the field.
struct V1Fields {
    static let maxBodySize = 64 * 1024

    private var fields: [String: JSONValue]

    /// The body as a JSON object (an empty body is an empty object), with no field outside `known`.
    static func decode(_ request: Request, known: Set<String>) async throws -> V1Fields {
        let body = try await request.collectBody(upTo: maxBodySize)
        guard body.readableBytes > 0 else { return V1Fields(fields: [:]) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            throw ProblemDetails.invalidRequest("The body is not valid JSON.")
        }
        guard case .object(let fields) = value else {
            throw ProblemDetails.invalidRequest("The body must be a JSON object.")
        }
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw ProblemDetails.invalidRequest("Unknown field '\(unknown)'.")
        }
        return V1Fields(fields: fields)
    }

    func has(_ name: String) -> Bool { fields[name] != nil }

    /// nil when absent; `.some(nil)` when null.
    func text(_ name: String) throws -> String?? {
        switch fields[name] {
        case nil: return nil
        case .null: return .some(nil)
        case .string(let text): return .some(text)
        default: throw ProblemDetails.invalidRequest("'\(name)' must be a string.")
        }
    }

    func strings(_ name: String) throws -> [String]? {
        switch fields[name] {
        case nil, .null: return nil
        case .array(let items):
            guard items.count <= 1000 else { throw ProblemDetails.invalidRequest("'\(name)' has too many items.") }
            return try items.map { item in
                guard case .string(let text) = item else {
                    throw ProblemDetails.invalidRequest("'\(name)' must be a list of strings.")
                }
                return text
            }
        default: throw ProblemDetails.invalidRequest("'\(name)' must be a list of strings.")
        }
    }

    func networks(_ name: String) throws -> [CIDR]? {
        try strings(name).map { items in
            try items.map { item in
                do { return try CIDR(item) } catch { throw ProblemDetails.invalidRequest("'\(name)': \(error)") }
            }
        }
    }

    func boolean(_ name: String) throws -> Bool? {
        switch fields[name] {
        case nil, .null: return nil
        case .bool(let value): return value
        default: throw ProblemDetails.invalidRequest("'\(name)' must be true or false.")
        }
    }

    /// A whole number in `range`.
    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        switch fields[name] {
        case nil, .null: return nil
        case .integer(let value) where value >= Int64(range.lowerBound) && value <= Int64(range.upperBound):
            return Int(value)
        default:
            throw ProblemDetails.invalidRequest(
                "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
    }

    /// A duration: whole seconds, or a string such as `90d`, `12h`, `30m`; zero only where `allowsZero`.
    func duration(_ name: String, allowsZero: Bool = false) throws -> TimeInterval? {
        let least: Int64 = allowsZero ? 0 : 1
        switch fields[name] {
        case nil, .null: return nil
        case .integer(let seconds) where seconds >= least && Double(seconds) <= Lifetime.maximum:
            return TimeInterval(seconds)
        case .string(let text):
            if let interval = try? Lifetime.parse(text) { return interval }
            // "0s", "0h": what `Lifetime` refuses (no lifetime is zero), an overlap may be.
            if allowsZero, (2...3).contains(text.count), text.last.map({ "smhdw".contains($0) }) == true,
                text.dropLast().allSatisfy({ $0 == "0" })
            {
                return 0
            }
            fallthrough
        default:
            throw ProblemDetails.invalidRequest(
                "'\(name)' must be \(allowsZero ? "" : "positive ")whole seconds or a duration such as 90d, 12h or 30m."
            )
        }
    }

    /// `expires_at` (RFC 3339) or `expires_in` (a duration), not both.
    func expiry() throws -> TokenRequest.Expiry? {
        let expiresIn = try duration("expires_in")
        switch fields["expires_at"] {
        case nil, .null: return expiresIn.map { .after($0) }
        case .string(let text):
            guard expiresIn == nil else {
                throw ProblemDetails.invalidRequest("Give expires_at or expires_in, not both.")
            }
            guard let date = UTCTimestamp.parseRFC3339(text) else {
                throw ProblemDetails.invalidRequest("'expires_at' must be an RFC 3339 time.")
            }
            return .at(date)
        default: throw ProblemDetails.invalidRequest("'expires_at' must be an RFC 3339 time.")
        }
    }

    /// A JSON object, as compact text; `.some(nil)` when null.
    func metadata() throws -> String?? {
        switch fields["metadata"] {
        case nil: return nil
        case .null: return .some(nil)
        case .object(let object):
            // Keys are labels people read (the CLI, webhook payloads): no bidi overrides or hidden characters.
            if JSONValue.object(object).allKeys.contains(where: Identifier.hasControlOrFormatCharacters) {
                throw ProblemDetails.invalidRequest(
                    "'metadata' keys must not contain control or invisible formatting characters.")
            }
            let text = String(decoding: try StreamingJSONEncoder().encode(JSONValue.object(object)), as: UTF8.self)
            guard text.utf8.count <= TokenLifecycle.maxMetadataBytes else {
                throw ProblemDetails.invalidRequest(
                    "'metadata' may be at most \(TokenLifecycle.maxMetadataBytes) bytes of JSON.")
            }
            return .some(text)
        default: throw ProblemDetails.invalidRequest("'metadata' must be a JSON object.")
        }
    }
}
