import Foundation
import GRDB
import LatchkeyCore

/// Service clients, and the audit log (with the webhook outbox rows its events make).
extension SQLiteStorage {
    public func insertClient(_ client: ServiceClient) async throws -> ServiceClient {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO clients (client_id, name, secret_digest, created_us) VALUES (?, ?, ?, ?)",
                arguments: [
                    client.clientID, client.name, client.secretDigest.bytes, Columns.microseconds(client.created),
                ])
            var stored = client
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func client(clientID: String) async throws -> ServiceClient? {
        guard Columns.isStorable(clientID) else { return nil }
        return try await fetchClients(where: "client_id = ?", [clientID]).first
    }

    public func clients() async throws -> [ServiceClient] {
        try await fetchClients(where: "1 = 1", [])
    }

    public func deleteClient(clientID: String) async throws -> Bool {
        guard Columns.isStorable(clientID) else { return false }
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM clients WHERE client_id = ?", arguments: [clientID])
            return db.changesCount > 0
        }
    }

    private func fetchClients(where condition: String, _ values: StatementArguments) async throws -> [ServiceClient] {
        try await read { db in
            try ClientRow.fetchAll(
                db, sql: "SELECT \(Schema.clientColumns) FROM clients WHERE \(condition) ORDER BY id", arguments: values
            ).map { $0.client() }
        }
    }

    public func recordEvents(_ events: [AuditEvent]) async throws {
        try await pool.write { db in try Self.insert(events, into: db) }
    }

    /// The events, and the outbox rows of those that webhooks hear of.
    static func insert(_ events: [AuditEvent], into db: Database) throws {
        for event in events {
            if let notification = event.notification {
                try db.cachedStatement(sql: WebhookSchema.insertMessage).execute(arguments: [
                    WebhookSchema.messageID(), event.kind, Columns.microseconds(event.at), event.userID,
                    notification.json,
                ])
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO events (at_us, kind, token_uuid, user_id, actor_id, via, address, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                Columns.microseconds(event.at), event.kind, event.tokenUUID?.uuidString.lowercased(),
                event.userID, event.origin.userID, event.origin.via, event.origin.address, event.detail,
            ])
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        let request: SQLRequest<EventRow> = """
            SELECT \(sql: Schema.eventColumns) FROM events WHERE \(conditions: query.conditions)
            ORDER BY id DESC LIMIT \(max(0, query.limit))
            """
        return try await read { db in try request.fetchAll(db).map { try $0.event() } }
    }

    public func deleteEvents(before cutoff: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM events WHERE at_us < ?", arguments: [Columns.microseconds(cutoff)])
            return db.changesCount
        }
    }

    public func checkHealth() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

}
