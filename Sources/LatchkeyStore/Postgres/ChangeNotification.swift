import LatchkeyCore

/// `StorageChange`s as PostgreSQL NOTIFY payloads between nodes, as migration 7's triggers
/// write them: the schema, a space, then `tokens:1,2,3` (changed or deleted), `user:7`, or
/// `anything` when the ids would not fit (8000 bytes in all); and migration 11's, on a channel
/// of their own, `owners:4,5` (who have new tokens).
enum ChangeNotification {
    static let channel = "latchkey_changes"
    /// New tokens' owners, for the token list caches. Not on `channel`: a node of an older
    /// release reads a payload it does not know as `anything`, and would clear its cache on
    /// every sign-in anywhere.
    static let newTokensChannel = "latchkey_new_tokens"
    static let maximumPayload = 7_900

    /// A listener's own liveness check (`PostgresStorage.observeChanges`).
    static func heartbeat(of listener: String, in schema: String) -> String {
        "\(schema) heartbeat:\(listener)"
    }

    /// nil: a change in another schema (another deployment on the same database), or another
    /// listener's heartbeat. Anything unreadable counts as `.anything`: the cache forgets too
    /// much, never too little.
    static func change(from notification: String, in schema: String) -> StorageChange? {
        guard notification.hasPrefix(schema + " ") else { return nil }
        let payload = notification.dropFirst(schema.count + 1)
        if payload.hasPrefix("heartbeat:") { return nil }
        if payload.hasPrefix("tokens:"), let ids = ids(payload.dropFirst("tokens:".count)) {
            return .tokensChanged(ids)
        } else if payload.hasPrefix("owners:"), let ids = ids(payload.dropFirst("owners:".count)) {
            return .tokensAdded(ownerIDs: ids)
        } else if payload.hasPrefix("user:"), let id = Int64(payload.dropFirst("user:".count)) {
            return .userChanged(id)
        }
        return .anything
    }

    /// `1,2,3`; nil unless every one is an id.
    private static func ids(_ list: Substring) -> [Int64]? {
        let ids = list.split(separator: ",").map { Int64($0) }
        guard !ids.isEmpty, ids.allSatisfy({ $0 != nil }) else { return nil }
        return ids.compactMap { $0 }
    }
}
