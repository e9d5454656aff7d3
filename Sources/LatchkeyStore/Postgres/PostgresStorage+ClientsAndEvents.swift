import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// Service clients, and the audit log (with the webhook outbox rows its events make).
extension PostgresStorage {
    public func insertClient(_ serviceClient: ServiceClient) async throws -> ServiceClient {
        try await run { [self] in
            var stored = serviceClient
            let rows = try await client.query(
                """
                INSERT INTO clients (client_id, name, secret_digest, created_us)
                VALUES (\(stored.clientID), \(stored.name), \(stored.secretDigest.bytes),
                        \(Columns.microseconds(stored.created)))
                RETURNING id
                """, logger: logger)
            for try await (id) in rows.decode(Int64.self) { stored.id = id }
            return stored
        }
    }

    public func client(clientID: String) async throws -> ServiceClient? {
        guard Columns.isStorable(clientID) else { return nil }
        return try await fetch(
            ClientRow.self, "SELECT \(unescaped: Schema.clientColumns) FROM clients WHERE client_id = \(clientID)"
        ).first?.client()
    }

    public func clients() async throws -> [ServiceClient] {
        try await fetch(ClientRow.self, "SELECT \(unescaped: Schema.clientColumns) FROM clients ORDER BY id")
            .map { $0.client() }
    }

    public func deleteClient(clientID: String) async throws -> Bool {
        guard Columns.isStorable(clientID) else { return false }
        return try await run { [self] in
            var deleted = false
            for try await _ in try await client.query(
                "DELETE FROM clients WHERE client_id = \(clientID) RETURNING id", logger: logger)
            {
                deleted = true
            }
            return deleted
        }
    }

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await run { [self] in
            try await inTransaction { transaction in try await insert(events, on: transaction) }
        }
    }

    /// The events, and the outbox rows of those that webhooks hear of.
    func insert(_ events: [AuditEvent], on connection: PostgresConnection) async throws {
        for event in events {
            if let notification = event.notification {
                var bindings = PostgresBindings()
                bindings.append(WebhookSchema.messageID())
                bindings.append(event.kind)
                bindings.append(Columns.microseconds(event.at))
                bindings.append(event.userID)
                bindings.append(notification.json)
                try await connection.query(
                    PostgresQuery(unsafeSQL: WebhookSchema.insertMessage, binds: bindings), logger: logger)
            }
            try await connection.query(
                """
                INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                VALUES (\(Columns.microseconds(event.at)), \(event.kind), \(event.tokenUUID), \(event.userID),
                        \(event.origin.userID), \(event.origin.via), \(event.origin.address), \(event.detail))
                """, logger: logger)
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await fetch(
            EventRow.self,
            """
            SELECT \(unescaped: Schema.eventColumns) FROM events WHERE \(conditions: query.conditions)
            ORDER BY id DESC LIMIT \(Int64(max(0, query.limit)))
            """
        ).map { try $0.event() }
    }

    public func deleteEvents(before cutoff: Date) async throws -> Int {
        try await run { [self] in
            var count = 0
            for try await _ in try await client.query(
                "DELETE FROM events WHERE at_us < \(Columns.microseconds(cutoff)) RETURNING id", logger: logger)
            {
                count += 1
            }
            return count
        }
    }

    public func checkHealth() async throws {
        try await run { [self] in
            for try await _ in try await client.query("SELECT 1", logger: logger) {}
        }
    }
}
