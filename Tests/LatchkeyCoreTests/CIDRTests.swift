import LatchkeyCore
import Testing

@Suite("Networks and client addresses")
struct CIDRTests {
    @Test func networksContainTheirAddresses() throws {
        let private10 = try CIDR("10.0.0.0/8")
        #expect(private10.contains("10.200.1.2"))
        #expect(private10.contains("::ffff:10.1.2.3"), "an IPv4-mapped IPv6 address is its IPv4 address")
        #expect(!private10.contains("11.0.0.1"))
        #expect(!private10.contains("fd00::1"))
        #expect(!private10.contains("not an address"))
        let unique = try CIDR("fd00::/8")
        #expect(unique.contains("fd12:3456::1"))
        #expect(!unique.contains("fe80::1"))
        let one = try CIDR("192.0.2.7")
        #expect(one.contains("192.0.2.7") && !one.contains("192.0.2.8"))
        #expect(try CIDR("10.1.2.3/8").description == "10.0.0.0/8")
        #expect(try CIDR("::1").description == "::1/128")
    }

    @Test(arguments: [
        "", "10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/", "10.0.0.0/-1", "example.org", "1.2.3.4/0x8",
    ])
    func otherTextIsRefused(text: String) {
        #expect(throws: CIDR.ParseError.self) { try CIDR(text) }
    }

    @Test func addressesAreCountedByTheirSubscribersNetwork() {
        #expect(CIDR.limitKey(for: "192.0.2.7") == "192.0.2.7/32")
        #expect(CIDR.limitKey(for: "::ffff:192.0.2.7") == "192.0.2.7/32")
        #expect(CIDR.limitKey(for: "2001:db8:1:2:aaaa::1") == CIDR.limitKey(for: "2001:db8:1:2:ffff::9"))
        #expect(CIDR.limitKey(for: "2001:db8:1:2::1") != CIDR.limitKey(for: "2001:db8:1:3::1"))
    }

    @Test func forwardedForCountsOnlyFromTrustedProxies() throws {
        let resolver = ClientAddressResolver(trustedProxies: [try CIDR("10.0.0.0/8")])
        // Not from a proxy: the header is the client's to forge, and is ignored.
        #expect(resolver.clientAddress(peer: "203.0.113.9", forwardedFor: ["198.51.100.1"]) == "203.0.113.9")
        // From a proxy: the nearest address it did not add itself, read from the right.
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
        #expect(
            resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["6.6.6.6, 198.51.100.1, 10.0.0.3"])
                == "198.51.100.1")
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["6.6.6.6", "198.51.100.1"]) == "198.51.100.1")
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["198.51.100.1:51234"]) == "198.51.100.1")
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["[2001:db8::1]:443"]) == "2001:db8::1")
        // Garbage stops the walk at the last proxy that can be believed.
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: ["junk"]) == "10.0.0.2")
        #expect(resolver.clientAddress(peer: "10.0.0.2", forwardedFor: []) == "10.0.0.2")
        #expect(ClientAddressResolver().clientAddress(peer: "10.0.0.2", forwardedFor: ["1.1.1.1"]) == "10.0.0.2")
    }
}
