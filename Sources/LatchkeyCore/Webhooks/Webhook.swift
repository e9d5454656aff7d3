import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where webhooks are sent: a URL, the event types it hears, and the secret that signs
/// what it is sent (kept sealed under the server key).
public struct WebhookEndpoint: Sendable, Hashable {
    public static let maxURLLength = 2000
    public static let maxDescriptionLength = 200

    public var id: Int64
    public var uuid: UUID
    public var url: String
    /// `NotificationType` raw values, or `NotificationType.everything`.
    public var events: [String]
    /// nil: an operator's endpoint, which hears of every account. Otherwise it hears only of
    /// events about this user's tokens and account.
    public var ownerID: Int64?
    public var description: String?
    public var sealedSecret: Data
    public var created: Date
    public var disabled: Date?
    public var disabledReason: String?

    public init(
        id: Int64 = 0, uuid: UUID = UUID(), url: String, events: [String], ownerID: Int64?, description: String?,
        sealedSecret: Data, created: Date, disabled: Date? = nil, disabledReason: String? = nil
    ) {
        self.id = id
        self.uuid = uuid
        self.url = url
        self.events = events
        self.ownerID = ownerID
        self.description = description
        self.sealedSecret = sealedSecret
        self.created = created
        self.disabled = disabled
        self.disabledReason = disabledReason
    }
}

/// Which of an endpoint's columns a change writes: a change of one never undoes a concurrent
/// change of another (a PATCH does not restore a secret just rotated, nor enable an endpoint
/// the delivery loop just disabled).
public struct WebhookEndpointParts: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Events and description.
    public static let fields = WebhookEndpointParts(rawValue: 1)
    /// Disabled, and why.
    public static let state = WebhookEndpointParts(rawValue: 2)
    public static let secret = WebhookEndpointParts(rawValue: 4)
}

public enum WebhookDeliveryState: String, Sendable, CaseIterable {
    case pending, succeeded, failed
}

/// One try at sending a delivery: the receiver's status code, or why there was none.
public struct WebhookAttempt: Sendable, Hashable {
    public var at: Date
    public var status: Int?
    public var error: String?

    public init(at: Date, status: Int?, error: String?) {
        self.at = at
        self.status = status
        self.error = error
    }

    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// One event on its way to one endpoint, as the operator sees it.
public struct WebhookDelivery: Sendable, Hashable {
    public var id: Int64
    public var endpoint: UUID
    /// The Standard Webhooks message id (`msg_…`), the same on every attempt.
    public var message: String
    public var type: String
    public var state: WebhookDeliveryState
    public var nextAttempt: Date?
    public var created: Date
    public var attempts: [WebhookAttempt]

    public init(
        id: Int64, endpoint: UUID, message: String, type: String, state: WebhookDeliveryState, nextAttempt: Date?,
        created: Date, attempts: [WebhookAttempt]
    ) {
        self.id = id
        self.endpoint = endpoint
        self.message = message
        self.type = type
        self.state = state
        self.nextAttempt = nextAttempt
        self.created = created
        self.attempts = attempts
    }
}

/// A delivery claimed by this node for one attempt: everything needed to send it.
public struct DueDelivery: Sendable, Hashable {
    public var id: Int64
    public var endpointID: Int64
    /// The user the endpoint hears of; nil: an operator's endpoint.
    public var endpointOwnerID: Int64?
    public var url: String
    public var sealedSecret: Data
    public var message: String
    public var type: String
    public var at: Date
    /// `NotificationData`, as JSON.
    public var data: String
    public var ownerUsername: String?
    /// Attempts made before this one (in this round: a redelivery starts again at 0).
    public var attemptsBefore: Int
    public var created: Date
    /// The end of the lease it was claimed under.
    public var leaseEnd: Date

    public init(
        id: Int64, endpointID: Int64, endpointOwnerID: Int64?, url: String, sealedSecret: Data, message: String,
        type: String, at: Date, data: String, ownerUsername: String?, attemptsBefore: Int, created: Date,
        leaseEnd: Date
    ) {
        self.id = id
        self.endpointID = endpointID
        self.endpointOwnerID = endpointOwnerID
        self.url = url
        self.sealedSecret = sealedSecret
        self.message = message
        self.type = type
        self.at = at
        self.data = data
        self.ownerUsername = ownerUsername
        self.attemptsBefore = attemptsBefore
        self.created = created
        self.leaseEnd = leaseEnd
    }
}

/// What becomes of a delivery after an attempt.
public enum WebhookAttemptOutcome: Sendable, Hashable {
    case succeeded
    case retry(at: Date)
    /// No retry is left. The endpoint is disabled, with `reason`, when nothing has reached it
    /// since this delivery was made.
    case failed(disablingReason: String)
}

/// Signatures by the Standard Webhooks specification: HMAC-SHA256 over `id.timestamp.body`
/// with the secret's bytes (the base64 after `whsec_`), sent as `v1,<base64>`.
public enum WebhookSignature {
    public static let secretPrefix = "whsec_"

    /// A fresh secret: `whsec_` and 32 random bytes in base64.
    public static func generateKey() -> Data {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    public static func secret(from key: Data) -> String {
        secretPrefix + key.base64EncodedString()
    }

    /// The key of a `whsec_` secret; nil when it is not one.
    public static func key(fromSecret secret: String) -> Data? {
        guard secret.hasPrefix(secretPrefix) else { return nil }
        return Data(base64Encoded: String(secret.dropFirst(secretPrefix.count)))
    }

    public static func header(id: String, timestamp: Int64, body: Data, key: Data) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// Where webhooks may go: only `https://` to public addresses, unless the operator allows
/// plain `http://` and loopback or private addresses (tests, a receiver beside the server).
public enum WebhookTarget {
    /// Loopback, private, link-local, shared, multicast and unspecified networks: a webhook
    /// must not become a way to reach the server's own neighbourhood. Three IPv6 networks that
    /// carry an IPv4 address are refused whole, as no reading of it can be trusted: `::/96`
    /// (IPv4-compatible, deprecated by RFC 4291; it holds `::` and `::1` too), local-use NAT64
    /// `64:ff9b:1::/48` (each site chooses where in it the IPv4 address sits, RFC 6052 and 8215)
    /// and Teredo `2001::/32` (the client's IPv4 address is obfuscated, and reached via a relay).
    static let nonPublic: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3", "::/96", "64:ff9b:1::/48", "100::/64",
        "2001::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ].map { try! CIDR($0) }

    /// IPv6 networks whose addresses carry an IPv4 address that a translator or relay passes the
    /// connection on to, with the byte it starts at: such an address is as public as the IPv4
    /// address it carries. (`CIDR` reads an IPv4-mapped `::ffff:a.b.c.d` as IPv4 itself.)
    static let carryingIPv4: [(network: CIDR, start: Int)] = [
        // IPv4-translated, `::ffff:0:a.b.c.d` (SIIT, RFC 7915).
        (try! CIDR("::ffff:0:0:0/96"), 12),
        // NAT64's well-known prefix, always this /96 with the IPv4 address last (RFC 6052); what
        // a DNS64 resolver answers for IPv4-only hosts.
        (try! CIDR("64:ff9b::/96"), 12),
        // 6to4: the IPv4 address of the site's relay router, bits 16 to 47 (RFC 3056).
        (try! CIDR("2002::/16"), 2),
    ]

    /// Whether `address` (an IP address) is a public one. Creation and every delivery attempt
    /// (for each address the host resolves to) ask this one function.
    public static func isPublic(address: String) -> Bool {
        guard let bytes = CIDR.bytes(of: address), !nonPublic.contains(where: { $0.contains(address) }) else {
            return false
        }
        guard let carrier = carryingIPv4.first(where: { $0.network.contains(address) }) else { return true }
        return isPublic(address: bytes[carrier.start..<carrier.start + 4].map(String.init).joined(separator: "."))
    }

    /// The URL's host as the HTTP client will connect to it, once the URL is acceptable.
    public static func check(_ text: String, allowInsecure: Bool) throws(WebhookError) -> String {
        guard text.count <= WebhookEndpoint.maxURLLength, !Identifier.hasControlOrFormatCharacters(text),
            let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let host = URL(string: text)?.host, !host.isEmpty
        else { throw .invalidURL("not an absolute http(s) URL") }
        // The HTTP client reads the host as `URL` does; `URLComponents` decodes an
        // internationalised one. Checked, looked up and connected to must be one name.
        let bareHost = { (host: String) in host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased() }
        guard url.host.map(bareHost) == bareHost(host) else {
            throw .invalidURL("internationalised host names are not supported")
        }
        guard scheme == "https" || scheme == "http" else { throw .invalidURL("the scheme must be https") }
        guard url.user == nil, url.password == nil else { throw .invalidURL("credentials do not belong in the URL") }
        var bare = bareHost(host)
        // A zone names a network interface of one machine, while any node may send; and the
        // checks below would read such a host as a name. Refused even when insecure targets are allowed.
        if let zone = bare.firstIndex(of: "%"), CIDR.isAddress(String(bare[..<zone])) {
            throw .invalidURL("zone-qualified IPv6 addresses (fe80::1%eth0) are not supported")
        }
        if allowInsecure { return host }
        guard scheme == "https" else { throw .insecureURL("only https:// targets are allowed") }
        while bare.hasSuffix(".") { bare.removeLast() }
        // `127.1`, `0x7f.1` and `2130706433` are addresses too, to the resolver.
        let address = CIDR.isAddress(bare) ? bare : legacyIPv4(bare)
        if bare == "localhost" || bare.hasSuffix(".localhost") || address.map({ !isPublic(address: $0) }) ?? false {
            throw .insecureURL("loopback and private addresses are not allowed")
        }
        return host
    }

    /// The dotted form of an IPv4 address written the old ways `inet_aton` reads.
    static func legacyIPv4(_ text: String) -> String? {
        var address = in_addr()
        guard text.utf8.count <= 64, !text.utf8.contains(0), inet_aton(text, &address) != 0 else { return nil }
        return withUnsafeBytes(of: &address) { $0.map(String.init).joined(separator: ".") }
    }
}

public enum WebhookError: Error, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case insecureURL(String)
    case unknownEvent(String)
    case noEvents
    case descriptionTooLong
    case descriptionHasControlCharacters
    case tooManyEndpoints(Int)
    /// Webhook secrets are sealed with the server key, and there is none.
    case unavailable
    case notFound

    public var description: String {
        switch self {
        case .invalidURL(let reason): "the webhook URL is not acceptable: \(reason)"
        case .insecureURL(let reason):
            "the webhook URL is not acceptable: \(reason) (the operator may allow it with --allow-insecure-webhooks)"
        case .unknownEvent(let name):
            "unknown event type '\(name.prefix(64))'; known: \(NotificationType.allCases.map(\.rawValue).joined(separator: ", ")), or *"
        case .noEvents: "name at least one event type"
        case .descriptionTooLong: "the description is longer than \(WebhookEndpoint.maxDescriptionLength) characters"
        case .descriptionHasControlCharacters:
            "the description must not contain control or invisible formatting characters"
        case .tooManyEndpoints(let limit): "there are already \(limit) endpoints for this account; delete one first"
        case .unavailable: "webhooks need the server key (LATCHKEY_SERVER_KEY) to seal their secrets"
        case .notFound: "no such webhook endpoint or delivery"
        }
    }
}
