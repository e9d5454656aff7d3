import Foundation
import GRDB
import LatchkeyCore

/// Webhook endpoints, the outbox and deliveries on SQLite (`WebhookSchema`'s statements). One
/// writer at a time: a claim cannot interleave with another process's claim.
extension SQLiteStorage {
    public func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws -> WebhookEndpoint {
        try await pool.write { db in
            try db.execute(
                sql: WebhookSchema.insertEndpoint,
                arguments: [
                    endpoint.uuid.uuidString.lowercased(), endpoint.url, Columns.list(endpoint.events),
                    endpoint.ownerID, endpoint.description, endpoint.sealedSecret,
                    Columns.microseconds(endpoint.created),
                ])
            var stored = endpoint
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func webhookEndpoints() async throws -> [WebhookEndpoint] {
        try await read { db in
            try WebhookEndpointRow.fetchAll(
                db, sql: "SELECT \(WebhookSchema.endpointColumns) FROM webhook_endpoints ORDER BY id"
            ).map { try $0.endpoint() }
        }
    }

    public func webhookEndpoint(uuid: UUID) async throws -> WebhookEndpoint? {
        try await read { db in
            try WebhookEndpointRow.fetchOne(
                db, sql: "SELECT \(WebhookSchema.endpointColumns) FROM webhook_endpoints WHERE uuid = ?",
                arguments: [uuid.uuidString.lowercased()]
            )?.endpoint()
        }
    }

    public func updateWebhookEndpoint(_ endpoint: WebhookEndpoint, writing parts: WebhookEndpointParts)
        async throws -> Bool
    {
        try await pool.write { db in
            try Int64.fetchOne(
                db, sql: WebhookSchema.updateEndpoint,
                arguments: [
                    parts.contains(.fields), Columns.list(endpoint.events), endpoint.description,
                    parts.contains(.state), endpoint.disabled.map(Columns.microseconds), endpoint.disabledReason,
                    parts.contains(.secret), endpoint.sealedSecret, endpoint.id,
                ]) != nil
        }
    }

    public func deleteWebhookEndpoint(id: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_endpoints WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func fanOutWebhookMessages(at now: Date, limit: Int) async throws -> Int {
        try await pool.write { db in
            let ids = try Int64.fetchAll(db, sql: WebhookSchema.unsentMessages, arguments: [limit])
            for id in ids {
                try db.execute(sql: WebhookSchema.fanOut, arguments: [Columns.microseconds(now), id])
                try db.execute(sql: WebhookSchema.markFannedOut, arguments: [id])
            }
            return ids.count
        }
    }

    public func claimWebhookDeliveries(dueBy now: Date, leaseEnd: Date, limit: Int) async throws -> [DueDelivery] {
        try await pool.write { db in
            let due = try DueDeliveryRow.fetchAll(
                db, sql: WebhookSchema.dueDeliveries, arguments: [Columns.microseconds(now), limit])
            for row in due {
                try db.execute(sql: WebhookSchema.lease, arguments: [Columns.microseconds(leaseEnd), row.id])
            }
            return due.map { $0.delivery(leasedUntil: leaseEnd) }
        }
    }

    public func recordWebhookAttempt(
        _ attempt: WebhookAttempt, of delivery: DueDelivery, outcome: WebhookAttemptOutcome
    ) async throws {
        try await pool.write { db in
            let at = Columns.microseconds(attempt.at)
            let lease = Columns.microseconds(delivery.leaseEnd)
            try db.execute(
                sql: WebhookSchema.insertAttempt, arguments: [delivery.id, at, attempt.status, attempt.error])
            let (state, next) = WebhookSchema.settled(outcome)
            // An attempt that outlived its lease settles nothing, and tells the endpoint nothing.
            guard
                try Int64.fetchOne(
                    db, sql: WebhookSchema.settleDelivery,
                    arguments: [state, next.map(Columns.microseconds), delivery.id, lease]) != nil
            else { return }
            switch outcome {
            case .succeeded:
                try db.execute(sql: WebhookSchema.endpointSucceeded, arguments: [at, delivery.endpointID])
            case .retry: break
            case .failed(let reason):
                try db.execute(
                    sql: WebhookSchema.disableFailingEndpoint,
                    arguments: [at, reason, delivery.endpointID, Columns.microseconds(delivery.created)])
            }
        }
    }

    func deliveries(endpointID: Int64, failedOnly: Bool, id: Int64, limit: Int) async throws
        -> [(WebhookDelivery, endpointID: Int64)]
    {
        try await read { db in
            let rows = try DeliveryRow.fetchAll(
                db, sql: WebhookSchema.deliveries, arguments: [endpointID, failedOnly, id, limit])
            guard !rows.isEmpty else { return [] }
            let ids = rows.map(\.id)
            let attempts = WebhookSchema.attempts(
                try AttemptRow.fetchAll(
                    db,
                    sql: WebhookSchema.attempts
                        + "IN (\(Array(repeating: "?", count: ids.count).joined(separator: ", ")))"
                        + WebhookSchema.attemptsOrder, arguments: StatementArguments(ids)))
            return try rows.map { (try $0.delivery(attempts: attempts[$0.id] ?? []), $0.endpointId) }
        }
    }

    public func redeliverWebhook(id: Int64, at now: Date) async throws -> Bool {
        try await pool.write { db in
            try Int64.fetchOne(db, sql: WebhookSchema.redeliver, arguments: [Columns.microseconds(now), id]) != nil
        }
    }

    public func deleteWebhookMessages(before cutoff: Date) async throws -> Int {
        try await pool.write { db in
            try Int64.fetchAll(db, sql: WebhookSchema.deleteMessages, arguments: [Columns.microseconds(cutoff)]).count
        }
    }
}
