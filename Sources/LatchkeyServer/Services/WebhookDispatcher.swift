import AsyncHTTPClient
import Foundation
import LatchkeyCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Delivers webhooks, for as long as the server runs: every second it hands out new outbox
/// messages to their endpoints, every minute it notes expiring tokens, and it sends each
/// delivery that is due, signed by the Standard Webhooks specification. At least once: a
/// delivery is claimed under a lease and settled only after its attempt, so a node that dies
/// mid-delivery leaves it to be sent again.
struct WebhookDispatcher: Service {
    /// A receiver's answer is read to this many bytes at most.
    static let maxResponseBody = 64 * 1024
    static let batch = 16
    static let expiryScanInterval: TimeInterval = 60

    let webhooks: WebhookService
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async throws {
        // Lookups have threads of their own: a resolver that never answers holds one of these,
        // not a thread the rest of the server needs.
        let resolver = NIOThreadPool(numberOfThreads: Self.resolverThreads)
        resolver.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration())
        await cancelWhenGracefulShutdown {
            var lastScan = Date.distantPast
            repeat {
                var scan = false
                if webhooks.clock.now.timeIntervalSince(lastScan) >= Self.expiryScanInterval {
                    scan = true
                    lastScan = webhooks.clock.now
                }
                while await round(Sender(client: client, resolver: resolver), noteExpiries: scan) {
                    scan = false
                }
            } while (try? await Task.sleep(for: interval)) != nil
        }
        try? await client.shutdown()
        try? await resolver.shutdownGracefully()
    }

    static let resolverThreads = 8

    /// What sends: the shared HTTP client and the threads host lookups run on.
    struct Sender: Sendable {
        let client: HTTPClient
        let resolver: NIOThreadPool
    }

    /// No redirects (a 3xx is a failed attempt), no decompression; `pinning` connects `host` to
    /// `address` whatever a later lookup says, still checking the certificate against `host`.
    func configuration(pinning pin: (host: String, address: String)? = nil) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: Self.amount(webhooks.settings.timeout), read: Self.amount(webhooks.settings.timeout)))
        configuration.decompression = .disabled
        if let pin { configuration.dnsOverride = [pin.host: pin.address] }
        return configuration
    }

    /// One pass. - Returns: whether there may be more due at once (a full batch was sent).
    @discardableResult
    func round(_ sender: Sender, noteExpiries: Bool) async -> Bool {
        do {
            if noteExpiries { try await webhooks.noteExpiries() }
            while try await webhooks.fanOut() > 0 {}
            // Without the server key nothing can be signed: deliveries wait for a node that has it.
            guard webhooks.isAvailable else { return false }
            let due = try await webhooks.claim(limit: Self.batch)
            await withTaskGroup(of: Void.self) { group in
                for delivery in due {
                    group.addTask { await deliver(delivery, with: sender) }
                }
            }
            return due.count == Self.batch
        } catch {
            logger.warning("Webhook delivery round failed; will retry", metadata: ["error": "\(type(of: error))"])
            return false
        }
    }

    func deliver(_ delivery: DueDelivery, with sender: Sender) async {
        let attempt = await attempt(delivery, with: sender)
        guard !Task.isCancelled else { return }  // shutting down: the lease hands it on
        do {
            try await webhooks.record(attempt, of: delivery)
        } catch {
            logger.warning(
                "Could not record a webhook attempt; it will be sent again",
                metadata: ["delivery": "\(delivery.id)", "error": "\(type(of: error))"])
        }
    }

    /// Sends the delivery once: its receiver's status code, or why there is none. The whole
    /// attempt, from looking the host up to reading the answer, ends within the timeout (and
    /// so within the delivery's lease: no other node takes it meanwhile).
    func attempt(_ delivery: DueDelivery, with sender: Sender) async -> WebhookAttempt {
        let now = webhooks.clock.now
        let timeout = webhooks.settings.timeout
        do {
            return try await answer(within: .seconds(timeout), orThrow: TimedOut()) {
                await send(delivery, with: sender, at: now)
            }
        } catch {
            return WebhookAttempt(
                at: now, status: nil, error: error is TimedOut ? "timed out after \(Int(timeout)) s" : "cancelled")
        }
    }

    private struct TimedOut: Error {}

    /// Errors are kept coarse (an endpoint's owner reads them: they must not map the server's
    /// network); the detail goes to the server's log.
    private func send(_ delivery: DueDelivery, with sender: Sender, at now: Date) async -> WebhookAttempt {
        func failed(_ reason: String, detail: String? = nil) -> WebhookAttempt {
            logger.info(
                "Webhook attempt failed",
                metadata: ["delivery": "\(delivery.id)", "reason": "\(reason)", "detail": "\(detail ?? "-")"])
            return WebhookAttempt(at: now, status: nil, error: reason)
        }
        guard let key = webhooks.signingKey(of: delivery) else {
            return failed("the server key cannot open this endpoint's secret")
        }
        let host: String
        do {
            host = try WebhookTarget.check(delivery.url, allowInsecure: webhooks.settings.allowInsecure)
        } catch {
            return failed("\(error)")
        }
        var pin: (host: String, address: String)?
        if !webhooks.settings.allowInsecure {
            let addresses = await Self.addresses(of: host, on: sender.resolver)
            guard let first = addresses.first, addresses.allSatisfy(WebhookTarget.isPublic(address:)) else {
                return failed("the host does not resolve to a public address", detail: addresses.joined(separator: ","))
            }
            // Connect to the address just checked, not to what a second lookup answers (DNS rebinding).
            if !CIDR.isAddress(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) {
                pin = (host, first)
            }
        }
        guard let body = WebhookPayload.body(of: delivery) else { return failed("the stored event is unreadable") }
        let timestamp = Int64(now.timeIntervalSince1970.rounded(.down))
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Latchkey-Webhooks/1")
        request.headers.add(name: "webhook-id", value: delivery.message)
        request.headers.add(name: "webhook-timestamp", value: "\(timestamp)")
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSignature.header(id: delivery.message, timestamp: timestamp, body: body, key: key))
        request.body = .bytes(ByteBuffer(data: body))
        switch await post(request, pinning: pin, or: sender.client) {
        case .answered(let status): return WebhookAttempt(at: now, status: status, error: nil)
        case .timedOut: return failed("timed out after \(Int(webhooks.settings.timeout)) s")
        case .failed(let detail): return failed("could not connect", detail: detail)
        }
    }

    enum PostResult: Equatable {
        case answered(Int)
        case timedOut
        case failed(String)
    }

    /// Sends `request` through `shared`, or, with `pin`, through a client of its own that
    /// connects the pinned host to its address (every path reaches that client's shutdown).
    func post(_ request: HTTPClientRequest, pinning pin: (host: String, address: String)?, or shared: HTTPClient)
        async -> PostResult
    {
        let client =
            pin.map { HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(pinning: $0)) }
            ?? shared
        let result: PostResult
        do {
            let response = try await client.execute(request, timeout: Self.amount(webhooks.settings.timeout))
            // Read (and bound) the answer so the connection can be reused; its content is not kept.
            _ = try? await response.body.collect(upTo: Self.maxResponseBody)
            result = .answered(Int(response.status.code))
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        {
            result = .timedOut
        } catch  where Task.isCancelled {
            // The attempt's deadline (`attempt`) cancelled it: a timeout, not a failure to connect.
            result = .timedOut
        } catch {
            result = .failed(String(describing: error).prefix(300).description)
        }
        if pin != nil { try? await client.shutdown() }
        return result
    }

    static func amount(_ interval: TimeInterval) -> TimeAmount {
        .milliseconds(Int64(saturating: (interval * 1000).rounded()))
    }

    /// Every address `host` resolves to (a literal address is itself), looked up on `resolver`.
    static func addresses(of host: String, on resolver: NIOThreadPool) async -> [String] {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if CIDR.isAddress(bare) { return [bare] }
        return (try? await resolver.runIfActive { resolve(bare) }) ?? []
    }

    private static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // Only families this machine can reach: the first address is the one connected to.
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var entry = list
        while let info = entry?.pointee {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.ai_addr, info.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            entry = info.ai_next
        }
        return addresses
    }
}

/// What a webhook sends: the Standard Webhooks payload, `{"type", "timestamp", "data"}`.
struct WebhookPayload: Encodable {
    var type: String
    var timestamp: Date
    var data: NotificationData

    /// The body of `delivery`, with the owner's username; nil if the stored event cannot be read.
    static func body(of delivery: DueDelivery) -> Data? {
        guard var data = NotificationData(json: delivery.data) else { return nil }
        data.owner?.username = delivery.ownerUsername
        // A user's endpoint is not told who else (an administrator) acted, nor from where.
        if let owner = delivery.endpointOwnerID, let actor = data.actor.userID, actor != owner {
            data.actor.userID = nil
            data.actor.address = nil
        }
        return try? NotificationData.encoder.encode(
            WebhookPayload(type: delivery.type, timestamp: delivery.at, data: data))
    }
}
