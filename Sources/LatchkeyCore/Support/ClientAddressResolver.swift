import Foundation

/// Which address a request comes from: the socket's peer, or, when that peer is a trusted
/// proxy, the address it reports in `X-Forwarded-For` - the nearest one that is not itself
/// a trusted proxy, reading from the right (each proxy appends; anything left of it is
/// the client's to forge).
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]

    public init(trustedProxies: [CIDR] = []) {
        self.trustedProxies = trustedProxies
    }

    public func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        guard let peer, isTrusted(peer) else { return peer }
        let hops = forwardedFor.joined(separator: ",").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var client = peer
        for hop in hops.reversed().map(Self.withoutPort) {
            guard CIDR.bytes(of: hop) != nil else { break }
            client = hop
            if !isTrusted(hop) { break }
        }
        return client
    }

    /// Some proxies write `192.0.2.1:51234` or `[2001:db8::1]:51234`.
    static func withoutPort(_ hop: String) -> String {
        if hop.hasPrefix("["), let close = hop.firstIndex(of: "]") {
            return String(hop[hop.index(after: hop.startIndex)..<close])
        }
        if hop.filter({ $0 == ":" }).count == 1, let colon = hop.firstIndex(of: ":") { return String(hop[..<colon]) }
        return hop
    }

    private func isTrusted(_ address: String) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }
}
