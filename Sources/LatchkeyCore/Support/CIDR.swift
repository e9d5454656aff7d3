import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `fd00::/8`; a bare address is a network of one.
/// An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as a dual-stack socket reports IPv4
/// peers) is compared as the IPv4 address it carries.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let network: [UInt8]
    public let prefixLength: Int

    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "'\(text)' is not an IP network: use an address or ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8"
        }
    }

    public init(_ text: String) throws {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { throw ParseError(text: text) }
        var length = bytes.count * 8
        if parts.count == 2 {
            guard (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let prefix = Int(parts[1]), prefix <= length
            else { throw ParseError(text: text) }
            length = prefix
        }
        network = Self.masked(bytes, to: length)
        prefixLength = length
    }

    /// The key that per-address limits count under: an IPv4 address itself, an IPv6
    /// address's /64 (one subscriber commonly holds a whole /64, 2^64 addresses).
    public static func limitKey(for address: String) -> String {
        guard let bytes = bytes(of: address) else { return address }
        return (try? CIDR(bytes.count == 4 ? address : "\(address)/64"))?.description ?? address
    }

    /// Whether every address of `other` is in this network.
    public func contains(_ other: CIDR) -> Bool {
        other.network.count == network.count && other.prefixLength >= prefixLength
            && Self.masked(other.network, to: prefixLength) == network
    }

    public static func isAddress(_ text: String) -> Bool {
        bytes(of: text) != nil
    }

    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address), bytes.count == network.count else { return false }
        return Self.masked(bytes, to: prefixLength) == network
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = network.count == 4 ? AF_INET : AF_INET6
        _ = network.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        let written = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: written, as: UTF8.self) + "/\(prefixLength)"
    }

    /// The address's bytes: 4 for IPv4 (and IPv4-mapped IPv6), 16 for IPv6; nil if it is not one.
    static func bytes(of address: String) -> [UInt8]? {
        guard address.utf8.count <= 64, !address.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12...])
        }
        return bytes
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(max(length - index * 8, 0), 8)
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }
}
