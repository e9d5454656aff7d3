import Foundation
import LatchkeyCore
import PostgresNIO

/// Webhook endpoints, the outbox and deliveries on PostgreSQL (`WebhookSchema`'s statements).
/// Nodes hand out messages and claim deliveries with `FOR UPDATE SKIP LOCKED`: each takes
/// rows no other node holds, so each event is normally delivered once.
extension PostgresStorage {
    static let skipLocked = " FOR UPDATE SKIP LOCKED"

    public func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws -> WebhookEndpoint {
        var bindings = PostgresBindings()
        bindings.append(endpoint.uuid.uuidString.lowercased())
        bindings.append(endpoint.url)
        bindings.append(Columns.list(endpoint.events))
        bindings.append(endpoint.ownerID)
        bindings.append(endpoint.description)
        try bindings.append(endpoint.sealedSecret)
        bindings.append(Columns.microseconds(endpoint.created))
        let ids = try await values(Int64.self, WebhookSchema.insertEndpoint, bindings)
        var stored = endpoint
        stored.id = ids.first ?? 0
        return stored
    }

    public func webhookEndpoints() async throws -> [WebhookEndpoint] {
        try await fetch(
            WebhookEndpointRow.self,
            "SELECT \(unescaped: WebhookSchema.endpointColumns) FROM webhook_endpoints ORDER BY id"
        ).map { try $0.endpoint() }
    }

    public func webhookEndpoint(uuid: UUID) async throws -> WebhookEndpoint? {
        try await fetch(
            WebhookEndpointRow.self,
            """
            SELECT \(unescaped: WebhookSchema.endpointColumns) FROM webhook_endpoints
            WHERE uuid = \(uuid.uuidString.lowercased())
            """
        ).first?.endpoint()
    }

    public func updateWebhookEndpoint(_ endpoint: WebhookEndpoint, writing parts: WebhookEndpointParts)
        async throws -> Bool
    {
        var bindings = PostgresBindings()
        bindings.append(parts.contains(.fields))
        bindings.append(Columns.list(endpoint.events))
        bindings.append(endpoint.description)
        bindings.append(parts.contains(.state))
        bindings.append(endpoint.disabled.map(Columns.microseconds))
        bindings.append(endpoint.disabledReason)
        bindings.append(parts.contains(.secret))
        try bindings.append(endpoint.sealedSecret)
        bindings.append(endpoint.id)
        return try await !values(Int64.self, WebhookSchema.updateEndpoint, bindings).isEmpty
    }

    public func deleteWebhookEndpoint(id: Int64) async throws -> Bool {
        try await !values(Int64.self, "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id", Self.binds(id))
            .isEmpty
    }

    public func fanOutWebhookMessages(at now: Date, limit: Int) async throws -> Int {
        try await run { [self] in
            try await inTransaction { transaction in
                let ids = try await values(
                    Int64.self, WebhookSchema.unsentMessages + Self.skipLocked, Self.binds(Int64(limit)),
                    on: transaction)
                for id in ids {
                    try await execute(WebhookSchema.fanOut, Self.binds(Columns.microseconds(now), id), on: transaction)
                    try await execute(WebhookSchema.markFannedOut, Self.binds(id), on: transaction)
                }
                return ids.count
            }
        }
    }

    public func claimWebhookDeliveries(dueBy now: Date, leaseEnd: Date, limit: Int) async throws -> [DueDelivery] {
        try await run { [self] in
            try await inTransaction { transaction in
                var due: [DueDelivery] = []
                for try await row in try await transaction.query(
                    PostgresQuery(
                        unsafeSQL: WebhookSchema.dueDeliveries + " FOR UPDATE OF d SKIP LOCKED",
                        binds: Self.binds(Columns.microseconds(now), Int64(limit))), logger: logger)
                {
                    due.append(try DueDeliveryRow(from: PostgresRowDecoder(row)).delivery(leasedUntil: leaseEnd))
                }
                for delivery in due {
                    try await execute(
                        WebhookSchema.lease, Self.binds(Columns.microseconds(leaseEnd), delivery.id), on: transaction)
                }
                return due
            }
        }
    }

    public func recordWebhookAttempt(
        _ attempt: WebhookAttempt, of delivery: DueDelivery, outcome: WebhookAttemptOutcome
    ) async throws {
        let at = Columns.microseconds(attempt.at)
        var attemptBindings = PostgresBindings()
        attemptBindings.append(delivery.id)
        attemptBindings.append(at)
        attemptBindings.append(attempt.status.map { Int64($0) })
        attemptBindings.append(attempt.error)
        let (state, next) = WebhookSchema.settled(outcome)
        var settle = PostgresBindings()
        settle.append(state)
        settle.append(next.map(Columns.microseconds))
        settle.append(delivery.id)
        settle.append(Columns.microseconds(delivery.leaseEnd))
        var endpoint: (sql: String, bindings: PostgresBindings)?
        switch outcome {
        case .succeeded:
            endpoint = (WebhookSchema.endpointSucceeded, Self.binds(at, delivery.endpointID))
        case .retry: break
        case .failed(let reason):
            var bindings = PostgresBindings()
            bindings.append(at)
            bindings.append(reason)
            bindings.append(delivery.endpointID)
            bindings.append(Columns.microseconds(delivery.created))
            endpoint = (WebhookSchema.disableFailingEndpoint, bindings)
        }
        try await run { [self, attemptBindings, settle, endpoint] in
            try await inTransaction { transaction in
                try await execute(WebhookSchema.insertAttempt, attemptBindings, on: transaction)
                // An attempt that outlived its lease settles nothing, and tells the endpoint nothing.
                let settled = try await values(Int64.self, WebhookSchema.settleDelivery, settle, on: transaction)
                if !settled.isEmpty, let endpoint {
                    try await execute(endpoint.sql, endpoint.bindings, on: transaction)
                }
            }
        }
    }

    func deliveries(endpointID: Int64, failedOnly: Bool, id: Int64, limit: Int) async throws
        -> [(WebhookDelivery, endpointID: Int64)]
    {
        var bindings = PostgresBindings()
        bindings.append(endpointID)
        bindings.append(failedOnly)
        bindings.append(id)
        bindings.append(Int64(limit))
        let rows = try await fetch(
            DeliveryRow.self, PostgresQuery(unsafeSQL: WebhookSchema.deliveries, binds: bindings))
        guard !rows.isEmpty else { return [] }
        var ids = PostgresBindings()
        ids.append(rows.map(\.id))
        let attempts = WebhookSchema.attempts(
            try await fetch(
                AttemptRow.self,
                PostgresQuery(
                    unsafeSQL: WebhookSchema.attempts + "= ANY($1)" + WebhookSchema.attemptsOrder, binds: ids)))
        return try rows.map { (try $0.delivery(attempts: attempts[$0.id] ?? []), $0.endpointId) }
    }

    public func redeliverWebhook(id: Int64, at now: Date) async throws -> Bool {
        try await !values(Int64.self, WebhookSchema.redeliver, Self.binds(Columns.microseconds(now), id)).isEmpty
    }

    public func deleteWebhookMessages(before cutoff: Date) async throws -> Int {
        try await values(Int64.self, WebhookSchema.deleteMessages, Self.binds(Columns.microseconds(cutoff))).count
    }

    /// The first column of each row `sql` answers.
    private func values<Value: PostgresDecodable & Sendable>(
        _: Value.Type, _ sql: String, _ bindings: PostgresBindings
    ) async throws -> [Value] {
        try await run { [self] in
            try await inTransaction { transaction in try await values(Value.self, sql, bindings, on: transaction) }
        }
    }

    private func values<Value: PostgresDecodable & Sendable>(
        _: Value.Type, _ sql: String, _ bindings: PostgresBindings, on connection: PostgresConnection
    ) async throws -> [Value] {
        var values: [Value] = []
        for try await (value) in try await connection.query(
            PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger
        ).decode(Value.self) {
            values.append(value)
        }
        return values
    }

    private func execute(_ sql: String, _ bindings: PostgresBindings, on connection: PostgresConnection)
        async throws
    {
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }
}
