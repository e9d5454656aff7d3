import Foundation
import LatchkeyCore
import LatchkeyServer

/// A token as the CLI lists and shows it: never its secret. The first keys are the CLI's
/// own, which scripts already read; the lifecycle's are named as the `/v1` API names them,
/// and are always present (`null` when empty).
struct TokenView: Encodable {
    var uuid: String
    var owner: String?
    var key: String
    var kind: String
    var title: String?
    var scopes: [String]
    var created: Date
    var expires: Date?
    var lastUsed: Date?
    @NullWhenAbsent var lastUsedIP: String?
    @NullWhenAbsent var lastUsedUserAgent: String?
    var recentIPs: [String]
    @NullWhenAbsent var maxUses: Int?
    @NullWhenAbsent var usesRemaining: Int?
    var allowedIPs: [String]
    /// Shown as the object it is, not as a string holding one.
    @NullWhenAbsent var metadata: JSONValue?
    @NullWhenAbsent var rotatedFrom: String?
    /// When a token rotated away stops working (the end of its overlap).
    @NullWhenAbsent var retiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case uuid, owner, key, kind, title, scopes, created, expires, lastUsed
        case lastUsedIP = "last_used_ip"
        case lastUsedUserAgent = "last_used_user_agent"
        case recentIPs = "recent_ips"
        case maxUses = "max_uses"
        case usesRemaining = "uses_remaining"
        case allowedIPs = "allowed_ips"
        case metadata
        case rotatedFrom = "rotated_from"
        case retiresAt = "retires_at"
    }

    init(_ token: Token, owner: String?) {
        let lifecycle = token.lifecycle
        uuid = token.uuid.uuidString.lowercased()
        self.owner = owner
        key = token.key
        kind = token.kind.rawValue
        title = token.title
        scopes = token.scopes
        created = token.created
        expires = token.expires
        lastUsed = token.lastUsed
        lastUsedIP = token.lastUsedIP
        lastUsedUserAgent = lifecycle.lastUsedAgent
        recentIPs = lifecycle.recentIPs
        maxUses = lifecycle.maxUses
        usesRemaining = lifecycle.usesRemaining
        allowedIPs = lifecycle.allowedIPs.map(\.description)
        metadata = lifecycle.metadata.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        rotatedFrom = lifecycle.rotatedFrom?.uuidString.lowercased()
        retiresAt = lifecycle.retires
    }
}
