import Foundation
import LatchkeyCore
import Logging
import PostgresNIO
import Synchronization

/// Changes made by other nodes, heard through LISTEN/NOTIFY; a heartbeat finds a connection gone deaf.
extension PostgresStorage {
    /// How often the listener sends itself a heartbeat; how long it may go without hearing one
    /// before it gives its connection up, checked every `heartbeatCheck`: a connection that went
    /// deaf is found within 9 s (docs/operating.md's "within 10 s", with a second to spare).
    static let heartbeatInterval = Duration.seconds(3)
    static let heartbeatTimeout = Duration.seconds(8)
    static let heartbeatCheck = Duration.seconds(1)

    /// Listens on a connection of its own; returns or throws when that connection is lost.
    /// A connection can also die silently (a NAT's idle timeout, a pooler that drops LISTEN):
    /// every `heartbeatInterval` a notification is sent through the pool, and a listener that
    /// has not heard its own for `heartbeatTimeout` closes its connection.
    public func observeChanges(_ onChange: @escaping @Sendable (StorageChange) -> Void) async throws {
        try await location.withConnection(logger: logger, name: listenerName) { [self] connection in
            try await connection.listen(on: ChangeNotification.channel) { notifications in
                try await connection.listen(on: ChangeNotification.newTokensChannel) { newTokens in
                    try await follow(notifications, newTokens, on: connection, onChange)
                }
            }
        }
    }

    private func follow(
        _ notifications: PostgresNotificationSequence, _ newTokens: PostgresNotificationSequence,
        on connection: PostgresConnection, _ onChange: @escaping @Sendable (StorageChange) -> Void
    ) async throws {
        // Commands run in order: once this answers, LISTEN is in force on both channels.
        var current = ""
        for try await (name) in try await connection.query("SELECT current_schema()", logger: logger)
            .decode(String.self)
        {
            current = name
        }
        let schema = current
        let heartbeat = ChangeNotification.heartbeat(of: listenerName, in: schema)
        let heard = LastHeard()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Sent from a task of its own: a send may wait out a call's deadline on a silent pool.
            group.addTask { [self] in
                while true {
                    try await Task.sleep(for: Self.heartbeatInterval)
                    _ = try? await run { [self] in
                        try await client.query(
                            "SELECT pg_notify(\(ChangeNotification.channel), \(heartbeat))", logger: logger)
                    }
                }
            }
            // Checked every second, not every heartbeat: found one check after the timeout at most.
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.heartbeatCheck)
                    if ContinuousClock.now - heard.instant.withLock({ $0 }) > Self.heartbeatTimeout {
                        try await connection.close()
                        return
                    }
                }
            }
            group.addTask {
                for try await notification in newTokens {
                    if let change = ChangeNotification.change(from: notification.payload, in: schema) {
                        onChange(change)
                    }
                }
            }
            onChange(.anything)
            for try await notification in notifications {
                if notification.payload == heartbeat {
                    heard.instant.withLock { $0 = ContinuousClock.now }
                } else if let change = ChangeNotification.change(from: notification.payload, in: schema) {
                    onChange(change)
                }
            }
            group.cancelAll()
        }
    }
}

/// When a listener last heard its own heartbeat.
private final class LastHeard: Sendable {
    let instant = Mutex(ContinuousClock.now)
}
