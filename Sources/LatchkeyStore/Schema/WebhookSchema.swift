import Foundation
import GRDB
import LatchkeyCore

/// Migration 10 and the webhook statements, written once for both backends. Statements use
/// numbered parameters ($1, $2, …), which both PostgreSQL and SQLite read.
enum WebhookSchema {
    /// The tables, the same on both backends but for the names of two types.
    static func statements(id: String, blob: String) -> [String] {
        [
            """
            CREATE TABLE webhook_endpoints (
                id \(id),
                uuid TEXT NOT NULL UNIQUE,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                owner_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
                description TEXT,
                sealed_secret \(blob) NOT NULL,
                created_us BIGINT NOT NULL,
                disabled_us BIGINT,
                disabled_reason TEXT,
                succeeded_us BIGINT
            )
            """,
            // The outbox: one row per event, written in the transaction of the change it tells of.
            """
            CREATE TABLE webhook_messages (
                id \(id),
                uuid TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                at_us BIGINT NOT NULL,
                owner_id BIGINT,
                payload TEXT NOT NULL,
                fanned_out BOOLEAN NOT NULL DEFAULT FALSE
            )
            """,
            "CREATE INDEX webhook_messages_unsent ON webhook_messages (id) WHERE NOT fanned_out",
            "CREATE INDEX webhook_messages_by_time ON webhook_messages (at_us)",
            """
            CREATE TABLE webhook_deliveries (
                id \(id),
                message_id BIGINT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
                endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_us BIGINT,
                created_us BIGINT NOT NULL
            )
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_us) WHERE state = 'pending'",
            "CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id)",
            "CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries (message_id)",
            """
            CREATE TABLE webhook_attempts (
                delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                at_us BIGINT NOT NULL,
                status BIGINT,
                error TEXT
            )
            """,
            "CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id)",
            // The shortest lead time an expiry notice was sent for (0: token.expired was).
            "ALTER TABLE tokens ADD COLUMN expiry_notice_us BIGINT",
        ]
    }

    static let endpointColumns = Schema.columns(
        WebhookEndpointRow.CodingKeys.allCases.map(\.stringValue))

    /// An event's outbox row, written only while an enabled endpoint may hear of its account
    /// (an endpoint hears only of what happens after it is made: no other could ever hear it).
    /// $1 uuid, $2 type, $3 time, $4 owner, $5 payload.
    static let insertMessage = """
        INSERT INTO webhook_messages (uuid, type, at_us, owner_id, payload)
        SELECT $1, $2, $3, $4, $5 WHERE EXISTS (
            SELECT 1 FROM webhook_endpoints WHERE disabled_us IS NULL AND (owner_id IS NULL OR owner_id = $4))
        """

    static func messageID() -> String {
        "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    static let insertEndpoint = """
        INSERT INTO webhook_endpoints (uuid, url, events, owner_id, description, sealed_secret, created_us)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """

    /// Writes only the parts asked for (`WebhookEndpointParts`): $1 whether to write $2 events
    /// and $3 description; $4 whether to write $5 disabled and $6 why; $7 whether to write $8
    /// the sealed secret; $9 the id.
    static let updateEndpoint = """
        UPDATE webhook_endpoints SET events = CASE WHEN $1 THEN $2 ELSE events END,
                                     description = CASE WHEN $1 THEN $3 ELSE description END,
                                     disabled_us = CASE WHEN $4 THEN $5 ELSE disabled_us END,
                                     disabled_reason = CASE WHEN $4 THEN $6 ELSE disabled_reason END,
                                     sealed_secret = CASE WHEN $7 THEN $8 ELSE sealed_secret END
        WHERE id = $9 RETURNING id
        """

    /// Messages not yet handed out, oldest first; $1 how many.
    static let unsentMessages = "SELECT id FROM webhook_messages WHERE NOT fanned_out ORDER BY id LIMIT $1"

    /// A message's deliveries: one per enabled endpoint that hears its type, existed when it
    /// happened, and is an operator's or its owner's. $1 now, $2 the message. (SQLite numbers
    /// parameters in the order they first appear: each statement here uses them in order.)
    static let fanOut = """
        INSERT INTO webhook_deliveries (message_id, endpoint_id, state, attempts, next_attempt_us, created_us)
        SELECT m.id, e.id, 'pending', 0, $1, $1
        FROM webhook_messages m JOIN webhook_endpoints e
          ON e.disabled_us IS NULL AND e.created_us <= m.at_us
         AND (e.owner_id IS NULL OR e.owner_id = m.owner_id)
         AND (e.events = '*' OR ',' || e.events || ',' LIKE '%,' || m.type || ',%')
        WHERE m.id = $2
        """

    static let markFannedOut = "UPDATE webhook_messages SET fanned_out = TRUE WHERE id = $1"

    /// Deliveries due by $1 to enabled endpoints, the longest waiting first; $2 how many.
    static let dueDeliveries = """
        SELECT d.id AS id, d.attempts AS attempts, d.created_us AS created_us, e.id AS endpoint_id, e.url AS url,
               e.sealed_secret AS sealed_secret, e.owner_id AS endpoint_owner_id, m.uuid AS message, m.type AS type, m.at_us AS at_us,
               m.payload AS payload, u.username AS owner_username
        FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        JOIN webhook_messages m ON m.id = d.message_id
        LEFT JOIN users u ON u.id = m.owner_id
        WHERE d.state = 'pending' AND d.next_attempt_us <= $1 AND e.disabled_us IS NULL
        ORDER BY d.next_attempt_us LIMIT $2
        """

    /// $1 the lease's end, $2 the delivery.
    static let lease = "UPDATE webhook_deliveries SET next_attempt_us = $1, attempts = attempts + 1 WHERE id = $2"

    static let insertAttempt =
        "INSERT INTO webhook_attempts (delivery_id, at_us, status, error) VALUES ($1, $2, $3, $4)"

    /// $1 state, $2 next attempt, $3 the delivery, $4 the end of the lease it was claimed under:
    /// an attempt that outlived its lease (and was taken over) settles nothing.
    static let settleDelivery = """
        UPDATE webhook_deliveries SET state = $1, next_attempt_us = $2
        WHERE id = $3 AND state = 'pending' AND next_attempt_us = $4 RETURNING id
        """

    /// A delivery's state and next attempt after `outcome`.
    static func settled(_ outcome: WebhookAttemptOutcome) -> (state: String, next: Date?) {
        switch outcome {
        case .succeeded: ("succeeded", nil)
        case .retry(let next): ("pending", next)
        case .failed: ("failed", nil)
        }
    }

    /// $1 now, $2 the endpoint.
    static let endpointSucceeded = "UPDATE webhook_endpoints SET succeeded_us = $1 WHERE id = $2"

    /// An endpoint that nothing has reached since the delivery that just failed for good was
    /// made ($4) is disabled. $1 now, $2 why, $3 the endpoint.
    static let disableFailingEndpoint = """
        UPDATE webhook_endpoints SET disabled_us = $1, disabled_reason = $2
        WHERE id = $3 AND disabled_us IS NULL AND (succeeded_us IS NULL OR succeeded_us < $4)
        """

    /// Deliveries, newest first: $1 an endpoint's id (0: every endpoint's), $2 failed only,
    /// $3 one delivery's id (0: all), $4 how many.
    static let deliveries = """
        SELECT d.id AS id, e.uuid AS endpoint, m.uuid AS message, m.type AS type, d.state AS state,
               d.next_attempt_us AS next_attempt_us, d.created_us AS created_us, e.id AS endpoint_id
        FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        JOIN webhook_messages m ON m.id = d.message_id
        WHERE ($1 = 0 OR d.endpoint_id = $1) AND ($2 = FALSE OR d.state = 'failed') AND ($3 = 0 OR d.id = $3)
        ORDER BY d.id DESC LIMIT $4
        """

    /// The attempts of the deliveries whose ids follow (each backend writes the list), oldest first.
    static let attempts = "SELECT delivery_id, at_us, status, error FROM webhook_attempts WHERE delivery_id "
    static let attemptsOrder = " ORDER BY at_us"

    /// $1 now, $2 the delivery (not one still pending: it may be under way).
    static let redeliver = """
        UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_us = $1
        WHERE id = $2 AND state <> 'pending' RETURNING id
        """

    /// Messages from before $1 that are no longer being delivered (their deliveries go with
    /// them); those waiting only for a disabled endpoint go too.
    static let deleteMessages = """
        DELETE FROM webhook_messages WHERE at_us < $1 AND fanned_out
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                        WHERE d.message_id = webhook_messages.id AND d.state = 'pending' AND e.disabled_us IS NULL)
        RETURNING id
        """

    /// App tokens, still working, expiring after $2 and by $3, with no notice yet for lead time
    /// $1 or a shorter one: marked, and answered.
    static let markExpiryNotices = """
        UPDATE tokens SET expiry_notice_us = $1
        WHERE expires_us > $2 AND expires_us <= $3 AND kind = 'app' AND retired_us IS NULL
          AND (expiry_notice_us IS NULL OR expiry_notice_us > $1)
        RETURNING \(Schema.tokenColumns)
        """

    static func attempts(_ rows: [AttemptRow]) -> [Int64: [WebhookAttempt]] {
        Dictionary(grouping: rows, by: \.deliveryId).mapValues { rows in
            rows.map { WebhookAttempt(at: Columns.date(microseconds: $0.atUs), status: $0.status, error: $0.error) }
        }
    }
}

struct WebhookEndpointRow: Decodable, FetchableRecord {
    var id: Int64
    var uuid: String
    var url: String
    var events: String
    var ownerId: Int64?
    var description: String?
    var sealedSecret: Data
    var createdUs: Int64
    var disabledUs: Int64?
    var disabledReason: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, uuid, url, events
        case ownerId = "owner_id"
        case description
        case sealedSecret = "sealed_secret"
        case createdUs = "created_us"
        case disabledUs = "disabled_us"
        case disabledReason = "disabled_reason"
    }

    func endpoint() throws -> WebhookEndpoint {
        guard let uuid = Columns.uuid(uuid) else {
            throw StoreError.unreadableRow(table: "webhook_endpoints", id: id, reason: "'\(uuid)' is not a uuid")
        }
        return WebhookEndpoint(
            id: id, uuid: uuid, url: url, events: Columns.list(events), ownerID: ownerId, description: description,
            sealedSecret: sealedSecret, created: Columns.date(microseconds: createdUs),
            disabled: disabledUs.map(Columns.date(microseconds:)), disabledReason: disabledReason)
    }
}

struct DueDeliveryRow: Decodable, FetchableRecord {
    var id: Int64
    var attempts: Int64
    var createdUs: Int64
    var endpointId: Int64
    var url: String
    var sealedSecret: Data
    var endpointOwnerId: Int64?
    var message: String
    var type: String
    var atUs: Int64
    var payload: String
    var ownerUsername: String?

    enum CodingKeys: String, CodingKey {
        case id, attempts
        case createdUs = "created_us"
        case endpointId = "endpoint_id"
        case url
        case sealedSecret = "sealed_secret"
        case endpointOwnerId = "endpoint_owner_id"
        case message, type
        case atUs = "at_us"
        case payload
        case ownerUsername = "owner_username"
    }

    /// The delivery as claimed until `leaseEnd`: `attempts` counts attempts before this one.
    func delivery(leasedUntil leaseEnd: Date) -> DueDelivery {
        DueDelivery(
            id: id, endpointID: endpointId, endpointOwnerID: endpointOwnerId, url: url, sealedSecret: sealedSecret,
            message: message, type: type, at: Columns.date(microseconds: atUs), data: payload,
            ownerUsername: ownerUsername, attemptsBefore: Int(clamping: max(0, attempts)),
            created: Columns.date(microseconds: createdUs), leaseEnd: leaseEnd)
    }
}

struct DeliveryRow: Decodable, FetchableRecord {
    var id: Int64
    var endpoint: String
    var message: String
    var type: String
    var state: String
    var nextAttemptUs: Int64?
    var createdUs: Int64
    var endpointId: Int64

    enum CodingKeys: String, CodingKey {
        case id, endpoint, message, type, state
        case nextAttemptUs = "next_attempt_us"
        case createdUs = "created_us"
        case endpointId = "endpoint_id"
    }

    func delivery(attempts: [WebhookAttempt]) throws -> WebhookDelivery {
        guard let endpoint = Columns.uuid(endpoint), let state = WebhookDeliveryState(rawValue: state) else {
            throw StoreError.unreadableRow(table: "webhook_deliveries", id: id, reason: "unreadable endpoint or state")
        }
        return WebhookDelivery(
            id: id, endpoint: endpoint, message: message, type: type, state: state,
            nextAttempt: state == .pending ? nextAttemptUs.map(Columns.date(microseconds:)) : nil,
            created: Columns.date(microseconds: createdUs), attempts: attempts)
    }
}

struct AttemptRow: Decodable, FetchableRecord {
    var deliveryId: Int64
    var atUs: Int64
    var status: Int?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case deliveryId = "delivery_id"
        case atUs = "at_us"
        case status, error
    }
}
