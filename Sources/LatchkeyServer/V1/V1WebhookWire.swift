import Foundation
import Hummingbird
import LatchkeyCore

/// A webhook endpoint as `/v1/webhooks` and `latchkey webhook` show it. Every key is always
/// present (`null` when unset); `secret` only in the answers to creation and secret rotation.
public struct V1WebhookEndpoint: ResponseEncodable, Sendable {
    package var id: String
    package var url: String
    package var events: [String]
    /// The user whose events it hears; `null`: an operator's endpoint, which hears every account's.
    @NullWhenAbsent package var owner: String?
    @NullWhenAbsent package var description: String?
    package var createdAt: String
    @NullWhenAbsent package var disabledAt: String?
    @NullWhenAbsent package var disabledReason: String?
    package var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, url, events, owner, description
        case createdAt = "created_at"
        case disabledAt = "disabled_at"
        case disabledReason = "disabled_reason"
        case secret
    }

    public init(_ endpoint: WebhookEndpoint, owner: String?, secret: String? = nil) {
        id = endpoint.uuid.uuidString.lowercased()
        url = endpoint.url
        events = endpoint.events
        self.owner = owner
        description = endpoint.description
        createdAt = UTCTimestamp(endpoint.created).isoFormat
        disabledAt = endpoint.disabled.map { UTCTimestamp($0).isoFormat }
        disabledReason = endpoint.disabledReason
        self.secret = secret
    }
}

/// A delivery and each attempt at it.
public struct V1WebhookDelivery: ResponseEncodable, Sendable {
    package struct Attempt: Encodable, Sendable {
        package var at: String
        @NullWhenAbsent package var status: Int?
        @NullWhenAbsent package var error: String?
    }

    package var id: Int64
    package var endpoint: String
    package var message: String
    package var type: String
    package var state: String
    @NullWhenAbsent package var nextAttemptAt: String?
    package var createdAt: String
    package var attempts: [Attempt]

    enum CodingKeys: String, CodingKey {
        case id, endpoint, message, type, state
        case nextAttemptAt = "next_attempt_at"
        case createdAt = "created_at"
        case attempts
    }

    public init(_ delivery: WebhookDelivery) {
        id = delivery.id
        endpoint = delivery.endpoint.uuidString.lowercased()
        message = delivery.message
        type = delivery.type
        state = delivery.state.rawValue
        nextAttemptAt = delivery.nextAttempt.map { UTCTimestamp($0).isoFormat }
        createdAt = UTCTimestamp(delivery.created).isoFormat
        attempts = delivery.attempts.map {
            Attempt(at: UTCTimestamp($0.at).isoFormat, status: $0.status, error: $0.error)
        }
    }
}

struct V1WebhookList: ResponseEncodable {
    package var webhooks: [V1WebhookEndpoint]
}

struct V1WebhookDeliveryList: ResponseEncodable {
    package var deliveries: [V1WebhookDelivery]
}
