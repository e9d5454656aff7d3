import Crypto
import Foundation

/// A service that relies on Latchkey (introspection, revocation), authenticated
/// with a client id and secret; the secret is stored only as a SHA-256 digest.
public struct ServiceClient: Sendable, Hashable {
    public var id: Int64
    public var clientID: String
    public var name: String
    public var secretDigest: TokenDigest
    public var created: Date

    public init(id: Int64, clientID: String, name: String, secretDigest: TokenDigest, created: Date) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.secretDigest = secretDigest
        self.created = created
    }
}

public enum ClientError: Error, Equatable, CustomStringConvertible {
    case invalidName(String)

    public var description: String {
        switch self {
        case .invalidName(let name): "'\(name)' is not a valid client name: use 1 to 100 printable characters"
        }
    }
}
