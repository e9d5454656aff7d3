import ArgumentParser
import Foundation
import LatchkeyCore
import LatchkeyServer

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read and collect the audit log.", subcommands: [List.self, GC.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show audit events, newest first.")

        @Option(help: "Only events about this user.") var user: String?
        @Option(help: "Only events of the last DURATION, e.g. 24h, 7d.") var since: String?
        @Option(help: "At most this many events (default 100).") var limit = 100
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1 to 100000") }
        }

        func run() async throws {
            let window = try since.map(Lifetime.parse)
            let (username, limit) = (user, limit)
            let (events, names) = try await database.withStorage { storage in
                let accounts = AccountService(storage: storage)
                let subject = try await username.asyncMap { try await accounts.requireUser($0) }
                let log = accounts.audit
                let events = try await log.events(
                    AuditQuery(
                        userID: subject?.id, since: window.map { log.clock.now.addingTimeInterval(-$0) }, limit: limit))
                return (events, try await accounts.usernames())
            }
            if output.json {
                try Output.json(events.map { AuditEventView($0, names: names) })
            } else {
                Output.table(
                    ["TIME", "EVENT", "USER", "BY", "VIA", "ADDRESS", "TOKEN", "DETAIL"],
                    events.map { event in
                        let view = AuditEventView(event, names: names)
                        return [
                            Output.date(event.at), event.kind, view.user ?? "-", view.by ?? "-", view.via,
                            view.address ?? "-", view.token ?? "-", view.detail,
                        ]
                    })
            }
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Delete audit events older than the retention period.")

        @Option(help: "How long events are kept (env LATCHKEY_AUDIT_RETENTION; default 365d).") var retention: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let retention = try Lifetime.parse(retention ?? environment("LATCHKEY_AUDIT_RETENTION") ?? "365d")
            let deleted = try await database.withStorage { storage in
                try await AuditLog(storage: storage).collect(olderThan: retention)
            }
            print("deleted \(deleted) audit event\(deleted == 1 ? "" : "s")")
        }
    }
}

/// An audit event as the CLI prints it; users by name (and id). Every key is always
/// present (`null` when empty), so that readers see one shape.
struct AuditEventView: Encodable {
    var id: Int64
    var at: Date
    var kind: String
    @NullWhenAbsent var user: String?
    @NullWhenAbsent var userID: Int64?
    @NullWhenAbsent var by: String?
    @NullWhenAbsent var byID: Int64?
    var via: String
    @NullWhenAbsent var address: String?
    @NullWhenAbsent var token: String?
    var detail: String

    init(_ event: AuditEvent, names: [Int64: String]) {
        id = event.id
        at = event.at
        kind = event.kind
        userID = event.userID
        user = event.userID.map { names[$0] ?? "#\($0)" }
        byID = event.origin.userID
        by = event.origin.userID.map { names[$0] ?? "#\($0)" }
        via = event.origin.via
        address = event.origin.address
        token = event.tokenUUID?.uuidString.lowercased()
        detail = event.detail
    }
}
