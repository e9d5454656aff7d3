import Crypto
import Foundation

/// The bearer secret of a token: `lk_` + 30 random base62 characters (178 bits)
/// + a 6-character base62 CRC-32 of everything before it.
///
/// The checksum lets a mistyped or truncated token be rejected without touching
/// the database, and the prefix makes leaked tokens easy to scan for.
public struct TokenSecret: Sendable, Hashable {
    public static let prefix = "lk_"
    static let randomLength = 30
    static let checksumLength = 6
    public static let length = prefix.utf8.count + randomLength + checksumLength
    /// Characters of the secret that are shown as the token's public `key`.
    public static let keyLength = 8

    /// The full secret. Only ever shown to its holder; never log it.
    public let value: String

    /// A fresh secret from the system CSPRNG.
    public static func generate() -> TokenSecret {
        let body = prefix + Base62.randomString(length: randomLength)
        return TokenSecret(uncheckedValue: body + checksum(of: body.utf8))
    }

    /// Accepts only well-formed secrets: right prefix, length, alphabet and checksum.
    /// Every authenticated request checks this: it reads bytes and makes no string but the secret.
    public init?(_ candidate: some StringProtocol) {
        guard candidate.utf8.count == Self.length else { return nil }
        let value = String(candidate)
        let bytes = value.utf8
        let bodyStart = bytes.index(bytes.startIndex, offsetBy: Self.prefix.utf8.count)
        let bodyEnd = bytes.index(bytes.startIndex, offsetBy: Self.length - Self.checksumLength)
        guard bytes.starts(with: Self.prefix.utf8), bytes[bodyStart...].allSatisfy(Base62.isDigit),
            Self.checksum(of: bytes[..<bodyEnd]).utf8.elementsEqual(bytes[bodyEnd...])
        else { return nil }
        self.value = value
    }

    private init(uncheckedValue: String) {
        value = uncheckedValue
    }

    /// The public, non-secret handle of the token (Stencila's `id`).
    public var key: String { String(value.prefix(Self.keyLength)) }

    /// What the database stores instead of the secret.
    public var digest: TokenDigest { TokenDigest(of: value) }

    static func checksum(of body: some Sequence<UInt8>) -> String {
        Base62.encode(UInt64(CRC32.checksum(body)), width: checksumLength)
    }
}

/// SHA-256 of a token secret: the only form in which a secret is stored and looked up.
public struct TokenDigest: Sendable, Hashable {
    public let bytes: Data

    public init(bytes: Data) {
        self.bytes = bytes
    }

    public init(of secret: String) {
        bytes = Data(SHA256.hash(data: Data(secret.utf8)))
    }
}

extension TokenSecret: CustomStringConvertible {
    /// Redacted, so that string interpolation into a log line cannot leak the secret.
    public var description: String { "\(key)…" }
}
