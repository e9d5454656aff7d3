import ArgumentParser
import Foundation
import LatchkeyCore
import LatchkeyServer

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Manage webhook endpoints and see their deliveries.",
        subcommands: [
            Create.self, List.self, Disable.self, Enable.self, Delete.self, RotateSecret.self, Deliveries.self,
            Redeliver.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an endpoint and print its id and signing secret (the secret is shown this once only).")

        @Argument(help: "Where to POST events: an https:// URL.") var url: String
        @Option(
            name: .customLong("event"),
            help: "An event type to send (repeat for several; * for all): \(Self.eventTypes).")
        var events: [String] = []
        @Option(help: "Hear only of this user's tokens and account (default: every account).") var user: String?
        @Option(help: "A note for the operator.") var description: String?
        @Flag(help: "Allow an http:// URL or a loopback or private address (env LATCHKEY_ALLOW_INSECURE_WEBHOOKS).")
        var allowInsecure = false
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        static var eventTypes: String { NotificationType.allCases.map(\.rawValue).joined(separator: ", ") }

        func run() async throws {
            let (url, events, username, description) = (url, events, user, description)
            let settings = WebhookSettings(
                allowInsecure: try ServerSettings.allowInsecureWebhooks.isOn(flagGiven: allowInsecure))
            let (endpoint, secret) = try await database.withServices(
                serverKey: try database.serverKey(), webhookSettings: settings
            ) { services in
                let owner = try await username.asyncMap { try await services.accounts.requireUser($0) }
                let (endpoint, secret) = try await services.webhooks.create(
                    url: url, events: events, owner: owner?.id, description: description, by: .cli)
                return (V1WebhookEndpoint(endpoint, owner: owner?.username, secret: secret), secret)
            }
            if output.json {
                try Output.json(endpoint)
            } else {
                print("id:     \(endpoint.id)\nsecret: \(secret)")
                FileHandle.standardError.write(Data("the secret is not shown again\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List webhook endpoints (never their secrets).")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let endpoints = try await database.withServices { services in
                let names = try await services.accounts.usernames()
                return try await services.webhooks.endpoints().map { endpoint in
                    V1WebhookEndpoint(endpoint, owner: endpoint.ownerID.flatMap { names[$0] })
                }
            }
            if output.json {
                try Output.json(endpoints)
            } else {
                Output.table(
                    ["ID", "OWNER", "EVENTS", "STATE", "URL"],
                    endpoints.map { endpoint in
                        [
                            endpoint.id, endpoint.owner ?? "(every account)", endpoint.events.joined(separator: ","),
                            endpoint.disabledAt.map { "disabled \($0): \(endpoint.disabledReason ?? "")" } ?? "enabled",
                            endpoint.url,
                        ]
                    })
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sending to an endpoint (its deliveries wait).")

        @Argument(help: "The endpoint's id.", transform: { try TokenUUID(parsing: $0) }) var id: TokenUUID
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.changeEndpoint(id) { webhooks, endpoint in
                _ = try await webhooks.update(endpoint, disabled: true, by: .cli)
            }
            print("disabled webhook endpoint \(id.uuid.uuidString.lowercased())")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send to an endpoint again.")

        @Argument(help: "The endpoint's id.", transform: { try TokenUUID(parsing: $0) }) var id: TokenUUID
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.changeEndpoint(id) { webhooks, endpoint in
                _ = try await webhooks.update(endpoint, disabled: false, by: .cli)
            }
            print("enabled webhook endpoint \(id.uuid.uuidString.lowercased())")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an endpoint and its deliveries.")

        @Argument(help: "The endpoint's id.", transform: { try TokenUUID(parsing: $0) }) var id: TokenUUID
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.changeEndpoint(id) { webhooks, endpoint in try await webhooks.delete(endpoint, by: .cli)
            }
            print("deleted webhook endpoint \(id.uuid.uuidString.lowercased())")
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Give an endpoint a new signing secret, printed this once; the old one signs nothing more.")

        @Argument(help: "The endpoint's id.", transform: { try TokenUUID(parsing: $0) }) var id: TokenUUID
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let secret = try await database.changeEndpoint(id, serverKey: try database.serverKey()) {
                webhooks, endpoint in
                try await webhooks.rotateSecret(of: endpoint, by: .cli).secret
            }
            if output.json {
                try Output.json(["id": id.uuid.uuidString.lowercased(), "secret": secret])
            } else {
                print("secret: \(secret)")
                FileHandle.standardError.write(Data("the secret is not shown again\n".utf8))
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show deliveries, newest first, with each attempt's status code or error.")

        @Option(help: "Only this endpoint's.", transform: { try TokenUUID(parsing: $0) }) var endpoint: TokenUUID?
        @Flag(help: "Only deliveries that failed for good.") var failed = false
        @Option(help: "How many at most (default 100).", transform: { try ListingLimit(parsing: $0) })
        var limit: ListingLimit?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (wanted, failed, limit) = (endpoint?.uuid, failed, limit?.value ?? 100)
            let deliveries = try await database.withServices { services in
                let endpoint = try await wanted.asyncMap { uuid in
                    guard let found = try await services.webhooks.endpoint(uuid: uuid) else {
                        throw CLIError("there is no webhook endpoint \(uuid.uuidString.lowercased())")
                    }
                    return found
                }
                return try await services.webhooks.deliveries(of: endpoint, failedOnly: failed, limit: limit)
                    .map(V1WebhookDelivery.init)
            }
            if output.json {
                try Output.json(deliveries)
            } else {
                Output.table(
                    ["ID", "TYPE", "STATE", "ATTEMPTS", "LAST", "ENDPOINT"],
                    deliveries.map { delivery in
                        [
                            "\(delivery.id)", delivery.type, delivery.state, "\(delivery.attempts.count)",
                            delivery.attempts.last.map { $0.status.map { "\($0)" } ?? $0.error ?? "-" } ?? "-",
                            delivery.endpoint,
                        ]
                    })
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a delivery again, from now.")

        @Argument(help: "The delivery's id.", transform: { try DeliveryID(parsing: $0) }) var delivery: DeliveryID
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let id = Int64(delivery.value)
            let again = try await database.withServices { services in
                do {
                    return try await services.webhooks.redeliver(id: id)
                } catch WebhookError.notFound {
                    throw CLIError("there is no webhook delivery \(id)")
                }
            }
            print(again ? "delivery \(id) will be sent again" : "delivery \(id) is pending already: it is on its way")
        }
    }
}

extension DatabaseOptions {
    /// Runs `change` on the endpoint `id`; a missing one fails in one line.
    func changeEndpoint<T: Sendable>(
        _ id: TokenUUID, serverKey: SecretBox? = nil,
        _ change: @Sendable @escaping (WebhookService, WebhookEndpoint) async throws -> T
    ) async throws -> T {
        let uuid = id.uuid
        return try await withServices(serverKey: serverKey) { services in
            guard let endpoint = try await services.webhooks.endpoint(uuid: uuid) else {
                throw CLIError("there is no webhook endpoint \(uuid.uuidString.lowercased())")
            }
            return try await change(services.webhooks, endpoint)
        }
    }
}
