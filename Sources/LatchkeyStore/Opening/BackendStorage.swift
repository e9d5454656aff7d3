import Foundation
import LatchkeyCore

/// What both backends answer alike, written once over the statements each runs its own way.
protocol BackendStorage: LatchkeyStorage {
    /// Deletes the tokens matching every one of `conditions` and every token they created, and
    /// theirs (parents first), recording `recording`'s events of them in the same transaction.
    func deleteTokens(where conditions: [Condition], recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    /// Deliveries with their attempts, newest first, each with its endpoint's id: `endpointID`
    /// 0 for every endpoint's, `id` 0 for every delivery.
    func deliveries(endpointID: Int64, failedOnly: Bool, id: Int64, limit: Int) async throws
        -> [(WebhookDelivery, endpointID: Int64)]
}

extension BackendStorage {
    public func deleteToken(id: Int64, recording: @escaping @Sendable ([Token]) -> [AuditEvent]) async throws
        -> [Token]
    {
        try await deleteTokens(where: [Condition("id", .equal, id)], recording: recording)
    }

    public func deleteTokens(expiredBefore cutoff: Date, recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    {
        try await deleteTokens(
            where: [Condition("expires_us", .less, Columns.microseconds(cutoff))], recording: recording)
    }

    public func deleteTokens(retiredBefore cutoff: Date, recording: @escaping @Sendable ([Token]) -> [AuditEvent])
        async throws -> [Token]
    {
        try await deleteTokens(
            where: [Condition("retired_us", .less, Columns.microseconds(cutoff))], recording: recording)
    }

    public func deleteTokens(
        ownerID: Int64, kind: TokenKind?, recording: @escaping @Sendable ([Token]) -> [AuditEvent]
    ) async throws -> [Token] {
        try await deleteTokens(
            where: [Condition("user_id", .equal, ownerID)]
                + (kind.map { [Condition("kind", .equal, $0.rawValue)] } ?? []),
            recording: recording)
    }

    public func webhookDeliveries(endpointID: Int64?, failedOnly: Bool, limit: Int) async throws
        -> [WebhookDelivery]
    {
        try await deliveries(endpointID: endpointID ?? 0, failedOnly: failedOnly, id: 0, limit: limit).map(\.0)
    }

    public func webhookDelivery(id: Int64) async throws -> (WebhookDelivery, endpointID: Int64)? {
        try await deliveries(endpointID: 0, failedOnly: false, id: id, limit: 1).first
    }
}
