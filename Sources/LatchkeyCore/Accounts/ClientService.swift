import Crypto
import Foundation

/// Service clients: creation (the secret shown once), authentication, revocation.
public struct ClientService: Sendable {
    package let storage: any LatchkeyStorage
    public let clock: any WallClock

    public init(storage: any LatchkeyStorage, clock: any WallClock = SystemClock()) {
        self.storage = storage
        self.clock = clock
    }

    public func create(name: String) async throws -> (client: ServiceClient, secret: String) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count), !Identifier.hasControlOrFormatCharacters(trimmed) else {
            throw ClientError.invalidName(name)
        }
        let clientID = "lkc_" + Base62.randomString(length: 16)
        let secret = "lks_" + Base62.randomString(length: 32)
        let client = try await storage.insertClient(
            ServiceClient(
                id: 0, clientID: clientID, name: trimmed, secretDigest: TokenDigest(of: secret), created: clock.now))
        return (client, secret)
    }

    /// Every client, oldest first.
    public func clients() async throws -> [ServiceClient] {
        try await storage.clients()
    }

    /// - Returns: whether a client was deleted.
    public func delete(clientID: String) async throws -> Bool {
        try await storage.deleteClient(clientID: clientID)
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
