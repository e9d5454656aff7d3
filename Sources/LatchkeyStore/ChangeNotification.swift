import LatchkeyCore

/// `StorageChange`s as PostgreSQL NOTIFY payloads between nodes, as migration 7's triggers
/// write them: the schema, a space, then `tokens:1,2,3`, `user:7`, or `anything` when the
/// ids would not fit (8000 bytes in all).
enum ChangeNotification {
    static let channel = "latchkey_changes"
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
        if payload.hasPrefix("tokens:") {
            let ids = payload.dropFirst("tokens:".count).split(separator: ",").map { Int64($0) }
            if !ids.isEmpty, ids.allSatisfy({ $0 != nil }) { return .tokensChanged(ids.compactMap { $0 }) }
        } else if payload.hasPrefix("user:"), let id = Int64(payload.dropFirst("user:".count)) {
            return .userChanged(id)
        }
        return .anything
    }
}
