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

/// Service clients: creation (the secret shown once), authentication, revocation.
public struct ClientService: Sendable {
    public let storage: any LatchkeyStorage
    public let clock: any WallClock

    public init(storage: any LatchkeyStorage, clock: any WallClock = SystemClock()) {
        self.storage = storage
        self.clock = clock
    }

    public func create(name: String) async throws -> (client: ServiceClient, secret: String) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count), !Identifier.hasControlCharacters(trimmed) else {
            throw ClientError.invalidName(name)
        }
        let clientID = "lkc_" + Base62.randomString(length: 16)
        let secret = "lks_" + Base62.randomString(length: 32)
        let client = try await storage.insertClient(
            ServiceClient(
                id: 0, clientID: clientID, name: trimmed, secretDigest: TokenDigest(of: secret), created: clock.now))
        return (client, secret)
    }

    /// The client whose id and secret these are; nil otherwise (compared in constant time).
    public func authenticate(clientID: String, secret: String) async throws -> ServiceClient? {
        let presented = TokenDigest(of: secret)
        guard let client = try await storage.client(clientID: clientID),
            constantTimeEqual(client.secretDigest.bytes, presented.bytes)
        else { return nil }
        return client
    }
}
