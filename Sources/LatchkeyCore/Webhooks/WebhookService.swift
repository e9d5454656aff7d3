import Foundation

/// How webhooks are sent; the operator's settings.
public struct WebhookSettings: Sendable, Hashable {
    /// Standard Webhooks' suggested schedule: the waits before each retry.
    public static let defaultRetrySchedule: [TimeInterval] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    public static let defaultExpiryNotices: [TimeInterval] = [30 * 86400, 7 * 86400, 86400]

    /// Allows `http://` and loopback or private targets.
    public var allowInsecure: Bool
    public var retrySchedule: [TimeInterval]
    /// Per attempt, from resolving the host to reading the answer; a claimed delivery is leased
    /// for this and `leaseMargin`.
    public var timeout: TimeInterval
    /// Lead times before a token's expiry at which `token.expiring` is sent.
    public var expiryNotices: [TimeInterval]

    public static let leaseMargin: TimeInterval = 5

    public init(
        allowInsecure: Bool = false, retrySchedule: [TimeInterval] = Self.defaultRetrySchedule,
        timeout: TimeInterval = 10, expiryNotices: [TimeInterval] = Self.defaultExpiryNotices
    ) {
        self.allowInsecure = allowInsecure
        self.retrySchedule = retrySchedule
        self.timeout = timeout
        self.expiryNotices = expiryNotices
    }
}

/// Webhook endpoints and the work of delivering to them; the HTTP itself is the server's.
public struct WebhookService: Sendable {
    /// Messages are kept this long after they happened, for `deliveries` and `redeliver`.
    public static let retention: TimeInterval = 30 * 86400
    /// Endpoints per user, and operator endpoints in all: each is sent every event it hears.
    public static let maxEndpointsPerOwner = 25

    package let storage: any LatchkeyStorage
    public let clock: any WallClock
    let secretBox: SecretBox?
    public let settings: WebhookSettings
    let audit: AuditLog
    let metrics: LatchkeyMetrics
    /// Stretches each retry wait by a fraction in [0, 0.1), so that endpoints recovering from
    /// an outage are not all retried in the same second.
    let jitter: @Sendable () -> Double

    public init(
        storage: any LatchkeyStorage, secretBox: SecretBox?, settings: WebhookSettings = WebhookSettings(),
        clock: any WallClock = SystemClock(), metrics: LatchkeyMetrics = .none,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.metrics = metrics
        self.storage = storage
        self.secretBox = secretBox
        self.settings = settings
        self.clock = clock
        self.jitter = jitter
        audit = AuditLog(storage: storage, clock: clock)
    }

    /// Whether secrets can be sealed and opened here.
    public var isAvailable: Bool { secretBox != nil }

    // MARK: Endpoints

    /// A new endpoint and its secret (`whsec_…`), shown this once.
    /// - Parameter owner: nil for an operator's endpoint, which hears of every account.
    public func create(url: String, events: [String], owner: Int64?, description: String?, by origin: Origin)
        async throws -> (WebhookEndpoint, secret: String)
    {
        guard let secretBox else { throw WebhookError.unavailable }
        let host = try WebhookTarget.check(url, allowInsecure: settings.allowInsecure)
        let events = try Self.checked(events)
        try Self.check(description: description)
        guard try await storage.webhookEndpoints().count(where: { $0.ownerID == owner }) < Self.maxEndpointsPerOwner
        else { throw WebhookError.tooManyEndpoints(Self.maxEndpointsPerOwner) }
        let key = WebhookSignature.generateKey()
        let endpoint = try await storage.insertWebhookEndpoint(
            WebhookEndpoint(
                url: url, events: events, ownerID: owner, description: description,
                sealedSecret: try secretBox.seal(key), created: clock.now))
        try await record(.webhookCreated, endpoint, by: origin, "to \(host); events \(events.joined(separator: ","))")
        return (endpoint, WebhookSignature.secret(from: key))
    }

    /// The audit line of a change to an endpoint: by uuid and host, never the whole URL (its
    /// query may hold the receiver's own secret).
    private func record(_ kind: AuditKind, _ endpoint: WebhookEndpoint, by origin: Origin, _ detail: String = "")
        async throws
    {
        // After the change committed: a failure here must not lose a secret shown only once.
        try? await audit.record(
            kind, user: endpoint.ownerID, by: origin,
            detail: "endpoint \(endpoint.uuid.uuidString.lowercased())" + (detail.isEmpty ? "" : "; \(detail)"))
    }

    public func endpoints() async throws -> [WebhookEndpoint] {
        try await storage.webhookEndpoints()
    }

    public func endpoint(uuid: UUID) async throws -> WebhookEndpoint? {
        try await storage.webhookEndpoint(uuid: uuid)
    }

    /// Changes the events, description or disabled state; nil leaves one as it is.
    public func update(
        _ endpoint: WebhookEndpoint, events: [String]? = nil, description: String?? = nil, disabled: Bool? = nil,
        by origin: Origin
    ) async throws -> WebhookEndpoint {
        var changed = endpoint
        if let events { changed.events = try Self.checked(events) }
        if let description {
            try Self.check(description: description)
            changed.description = description
        }
        var writingState = false
        if let disabled, disabled != (endpoint.disabled != nil) {
            changed.disabled = disabled ? clock.now : nil
            changed.disabledReason = disabled ? "disabled on request" : nil
            writingState = true
        }
        guard try await storage.updateWebhookEndpoint(changed, writing: writingState ? [.fields, .state] : .fields)
        else { throw WebhookError.notFound }
        var what: [String] = []
        if changed.events != endpoint.events { what.append("events \(changed.events.joined(separator: ","))") }
        if changed.description != endpoint.description { what.append("description") }
        if writingState { what.append(changed.disabled == nil ? "enabled" : "disabled") }
        if !what.isEmpty { try await record(.webhookUpdated, changed, by: origin, what.joined(separator: ", ")) }
        return changed
    }

    /// A new secret, shown this once; the old one signs nothing more.
    public func rotateSecret(of endpoint: WebhookEndpoint, by origin: Origin) async throws
        -> (WebhookEndpoint, secret: String)
    {
        guard let secretBox else { throw WebhookError.unavailable }
        let key = WebhookSignature.generateKey()
        var changed = endpoint
        changed.sealedSecret = try secretBox.seal(key)
        guard try await storage.updateWebhookEndpoint(changed, writing: .secret) else { throw WebhookError.notFound }
        try await record(.webhookSecretRotated, changed, by: origin)
        return (changed, WebhookSignature.secret(from: key))
    }

    public func delete(_ endpoint: WebhookEndpoint, by origin: Origin) async throws {
        guard try await storage.deleteWebhookEndpoint(id: endpoint.id) else { throw WebhookError.notFound }
        try await record(.webhookDeleted, endpoint, by: origin)
    }

    public func deliveries(of endpoint: WebhookEndpoint?, failedOnly: Bool = false, limit: Int = 100) async throws
        -> [WebhookDelivery]
    {
        try await storage.webhookDeliveries(
            endpointID: endpoint?.id, failedOnly: failedOnly, limit: min(max(limit, 1), 10_000))
    }

    public func delivery(id: Int64) async throws -> (WebhookDelivery, endpointID: Int64)? {
        try await storage.webhookDelivery(id: id)
    }

    /// Sends a delivery again (a failed one, or a succeeded one the receiver lost), from now.
    /// One still pending is on its way already and stays as it is: resetting it could send it
    /// twice at once. - Returns: whether it was made pending again.
    @discardableResult
    public func redeliver(id: Int64) async throws -> Bool {
        guard let (delivery, _) = try await storage.webhookDelivery(id: id) else { throw WebhookError.notFound }
        guard delivery.state != .pending else { return false }
        return try await storage.redeliverWebhook(id: id, at: clock.now)
    }

    static func checked(_ events: [String]) throws(WebhookError) -> [String] {
        guard !events.isEmpty else { throw .noEvents }
        for event in events where event != NotificationType.everything && NotificationType(rawValue: event) == nil {
            throw .unknownEvent(event)
        }
        return events.contains(NotificationType.everything) ? [NotificationType.everything] : events.withoutRepeats
    }

    static func check(description: String?) throws(WebhookError) {
        guard let description else { return }
        guard description.count <= WebhookEndpoint.maxDescriptionLength else { throw .descriptionTooLong }
        // Shown in the CLI's listing and the endpoint's JSON: no bidi overrides or hidden characters.
        guard !Identifier.hasControlOrFormatCharacters(description) else { throw .descriptionHasControlCharacters }
    }

    // MARK: Delivery

    /// Hands out new outbox messages to their endpoints' deliveries.
    public func fanOut() async throws -> Int {
        try await storage.fanOutWebhookMessages(at: clock.now, limit: 100)
    }

    /// Records `token.expiring` for each token that has reached one of its lead times (only the
    /// nearest, when several were reached at once) and `token.expired` for each whose expiry
    /// passed; each once per token, whenever this runs (also after downtime).
    /// - Returns: how many notices were recorded.
    @discardableResult
    public func noteExpiries() async throws -> Int {
        let now = clock.now
        let leads = Set(settings.expiryNotices.filter { $0 > 0 }).sorted()
        var noted = 0
        var lower = Date.distantPast
        for lead in [0] + leads {
            let upper = now.addingTimeInterval(lead)
            let kind: AuditKind = lead == 0 ? .tokenExpired : .tokenExpiring
            let marked = try await storage.markExpiryNotices(lead: lead, expiringAfter: lower, through: upper) {
                [audit] tokens in
                tokens.map { token in
                    let detail =
                        TokenService.describe(token)
                        + (lead == 0 ? "; expired" : "; expires within \(Lifetime.describe(lead))")
                    return audit.notice(
                        kind, about: token, detail: detail, by: .system, leadTime: lead == 0 ? nil : lead)
                }
            }
            noted += marked.count
            lower = upper
        }
        return noted
    }

    /// Takes due deliveries for one attempt each.
    public func claim(limit: Int) async throws -> [DueDelivery] {
        let now = clock.now
        return try await storage.claimWebhookDeliveries(
            dueBy: now, leaseEnd: now.addingTimeInterval(settings.timeout + WebhookSettings.leaseMargin), limit: limit)
    }

    /// The key that signs what `delivery` sends; nil when this server's key cannot open it.
    public func signingKey(of delivery: DueDelivery) -> Data? {
        secretBox?.open(data: delivery.sealedSecret)
    }

    /// Records an attempt: success ends the delivery; a failure is retried on the schedule
    /// until it runs out, and then the delivery has failed.
    public func record(_ attempt: WebhookAttempt, of delivery: DueDelivery) async throws {
        let outcome: WebhookAttemptOutcome
        if attempt.succeeded {
            outcome = .succeeded
        } else if delivery.attemptsBefore < settings.retrySchedule.count {
            let wait = settings.retrySchedule[max(0, delivery.attemptsBefore)]
            outcome = .retry(at: attempt.at.addingTimeInterval(wait * (1 + 0.1 * min(max(jitter(), 0), 1))))
        } else {
            outcome = .failed(
                disablingReason: "every delivery failed since \(delivery.created.ISO8601Format())")
        }
        try await storage.recordWebhookAttempt(attempt, of: delivery, outcome: outcome)
        switch outcome {
        case .succeeded: metrics.webhookAttempt("succeeded")
        case .retry: metrics.webhookAttempt("retry")
        case .failed: metrics.webhookAttempt("failed")
        }
    }

    /// Forgets messages older than `retention` that are no longer being delivered.
    public func collect() async throws -> Int {
        try await storage.deleteWebhookMessages(before: clock.now.addingTimeInterval(-Self.retention))
    }
}
