import ArgumentParser
import Foundation
import LatchkeyCore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read and collect the audit log.", subcommands: [List.self, GC.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show audit events, newest first.")

        @Option(help: "Only events about this user.") var user: String?
        @Option(help: "Only events of the last DURATION, e.g. 24h, 7d.", transform: { try Period(parsing: $0) })
        var since: Period?
        @Option(help: "At most this many events (default 100).", transform: { try ListingLimit(parsing: $0) })
        var limit: ListingLimit?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (username, window, limit) = (user, since?.seconds, self.limit?.value ?? 100)
            let (events, names) = try await database.withServices { services in
                let subject = try await username.asyncMap { try await services.accounts.requireUser($0) }
                let log = services.audit
                let events = try await log.events(
                    AuditQuery(
                        userID: subject?.id, since: window.map { log.clock.now.addingTimeInterval(-$0) }, limit: limit))
                return (events, try await services.accounts.usernames())
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

        @Option(ServerSettings.auditRetention, name: "retention", about: "How long events are kept")
        var retention: Period?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let retention = try ServerSettings.auditRetention.resolved(self.retention).seconds
            let deleted = try await database.withServices { services in
                try await services.audit.collect(olderThan: retention)
            }
            print("deleted \(deleted) audit event\(deleted == 1 ? "" : "s")")
        }
    }
}
