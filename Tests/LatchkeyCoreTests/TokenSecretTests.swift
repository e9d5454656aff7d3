import Foundation
import Testing

@testable import LatchkeyCore

@Suite("Token secrets")
struct TokenSecretTests {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    @Test func generatedSecretsHaveTheDocumentedShape() {
        for _ in 0..<200 {
            let secret = TokenSecret.generate()
            #expect(secret.value.count == 39)
            #expect(secret.value.hasPrefix("lk_"))
            #expect(secret.value.dropFirst(3).allSatisfy(Self.alphabet.contains))
            #expect(TokenSecret(secret.value) == secret)
            #expect(secret.key == String(secret.value.prefix(8)))
        }
    }

    @Test func randomPartCarriesAtLeast160Bits() {
        #expect(Double(TokenSecret.randomLength) * log2(62) >= 160)
    }

    @Test func secretsDoNotRepeat() {
        let secrets = Set((0..<10_000).map { _ in TokenSecret.generate().value })
        #expect(secrets.count == 10_000)
    }

    @Test func everySingleCharacterChangeIsRejected() {
        let secret = Array(TokenSecret.generate().value)
        let replacements = Self.alphabet + Array("_-+/= lk.é\u{0}")
        var tried = 0
        for position in secret.indices {
            for replacement in replacements where replacement != secret[position] {
                var changed = secret
                changed[position] = replacement
                #expect(TokenSecret(String(changed)) == nil, "position \(position) -> \(replacement)")
                tried += 1
            }
        }
        #expect(tried > 39 * 62)
    }

    @Test func wrongLengthsAndPrefixesAreRejected() {
        let value = TokenSecret.generate().value
        #expect(TokenSecret(String(value.dropLast())) == nil)
        #expect(TokenSecret(value + "0") == nil)
        #expect(TokenSecret("") == nil)
        #expect(TokenSecret("LK_" + value.dropFirst(3)) == nil)
        #expect(TokenSecret(" " + value.dropFirst()) == nil)
        #expect(TokenSecret(String(repeating: "a", count: 64)) == nil, "a Stencila Hub-style hex token is not ours")
    }

    @Test func transposedNeighboursAreRejected() {
        let secret = Array(TokenSecret.generate().value)
        for position in 3..<(secret.count - 1) where secret[position] != secret[position + 1] {
            var swapped = secret
            swapped.swapAt(position, position + 1)
            #expect(TokenSecret(String(swapped)) == nil)
        }
    }

    @Test func checksumIsCRC32OfTheBodyInBase62() {
        #expect(CRC32.checksum("123456789".utf8) == 0xCBF4_3926)  // the standard check value
        #expect(Base62.encode(0, width: 6) == "000000")
        #expect(Base62.encode(61, width: 2) == "0z")
        #expect(Base62.encode(62, width: 2) == "10")
        #expect(Base62.encode(UInt64(UInt32.max), width: 6) == "4gfFC3")
    }

    @Test func digestIsSHA256OfTheSecret() {
        #expect(
            TokenDigest(of: "abc").bytes.map { String(format: "%02x", $0) }.joined()
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let secret = TokenSecret.generate()
        #expect(secret.digest == TokenDigest(of: secret.value))
    }

    @Test func interpolationDoesNotRevealTheSecret() {
        let secret = TokenSecret.generate()
        #expect(!"\(secret)".contains(secret.value))
        #expect("\(secret)".hasPrefix(secret.key))
    }
}

@Suite("Lifetimes")
struct LifetimeTests {
    @Test func quayStyleDurationsParse() throws {
        #expect(try Lifetime.parse("30d") == 30 * 86_400)
        #expect(try Lifetime.parse("2w") == 14 * 86_400)
        #expect(try Lifetime.parse("12h") == 12 * 3_600)
        #expect(try Lifetime.parse("90m") == 90 * 60)
        #expect(try Lifetime.parse("3600s") == 3_600)
    }

    @Test(arguments: ["", "d", "30", "30x", "-5d", "+5d", "0d", "1.5h", "30 d", "５d", "99999999999w"])
    func otherTextIsRejected(text: String) {
        #expect(throws: Lifetime.ParseError.self) { try Lifetime.parse(text) }
    }
}
