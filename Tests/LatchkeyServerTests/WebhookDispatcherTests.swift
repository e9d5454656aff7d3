import AsyncHTTPClient
import Foundation
import Hummingbird
import LatchkeyCore
import LatchkeyTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

@testable import LatchkeyServer

/// The parts of sending a webhook that the compat suite cannot reach from outside: the
/// connection pinned to the address that was checked, and what a user's endpoint is told.
@Suite("Webhook dispatcher", .removingScratchDirectories)
struct WebhookDispatcherTests {
    /// A receiver on a loopback port that keeps the Host header of each request.
    final class Receiver: Sendable {
        let hosts = Mutex<[String]>([])
    }

    @Test func aPinnedHostIsConnectedToTheCheckedAddressWhateverItsNameResolvesTo() async throws {
        let receiver = Receiver()
        let router = Router()
        router.post("hook") { request, _ in
            receiver.hosts.withLock { $0.append(request.head.authority ?? "") }
            return Response(status: .noContent)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) })
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var port = 0
        for await value in ports {
            port = value
            break
        }

        // The default timeout: a loaded machine running every suite at once answers slowly.
        let dispatcher = WebhookDispatcher(
            webhooks: WebhookService(
                storage: try makeSQLiteStorage(), secretBox: nil, settings: WebhookSettings(timeout: 10)),
            logger: Logger(label: "test"))
        let shared = HTTPClient(eventLoopGroupProvider: .singleton)
        // `.invalid` never resolves (RFC 6761): only the pin can reach the receiver.
        var request = HTTPClientRequest(url: "http://receiver.invalid:\(port)/hook")
        request.method = .POST
        let pinned = await dispatcher.post(request, pinning: ("receiver.invalid", "127.0.0.1"), or: shared)
        let unpinned = await dispatcher.post(request, pinning: nil, or: shared)
        try await shared.shutdown()

        #expect(pinned == .answered(204))
        #expect(receiver.hosts.withLock { $0 } == ["receiver.invalid:\(port)"])
        guard case .failed = unpinned else {
            Issue.record("an unpinned request to .invalid reached something: \(unpinned)")
            return
        }
    }

    @Test func aUsersEndpointIsNotToldWhoElseActed() throws {
        let data = #"{"actor":{"address":"192.0.2.9","user_id":1,"via":"v1"},"owner":{"id":2}}"#
        func body(endpointOwner: Int64?) throws -> [String: Any] {
            let delivery = DueDelivery(
                id: 1, endpointID: 1, endpointOwnerID: endpointOwner, url: "https://example.org/", sealedSecret: Data(),
                message: "msg_1", type: "token.revoked", at: Date(timeIntervalSince1970: 1_800_000_000), data: data,
                ownerUsername: "sam", attemptsBefore: 0, created: Date(), leaseEnd: Date())
            let body = try #require(WebhookPayload.body(of: delivery))
            return try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        }
        let toOperator = try body(endpointOwner: nil)["data"] as? [String: Any]
        #expect((toOperator?["actor"] as? [String: Any])?["address"] as? String == "192.0.2.9")
        #expect((toOperator?["owner"] as? [String: Any])?["username"] as? String == "sam")
        let toSam = try body(endpointOwner: 2)["data"] as? [String: Any]
        #expect((toSam?["actor"] as? [String: Any])?.keys.sorted() == ["via"])
    }
}
