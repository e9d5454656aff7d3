import ArgumentParser
import Foundation
import LatchkeyCore

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Manage service clients (the services that introspect and revoke tokens).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a service client and print its id and secret (the secret is shown this once only).")

        @Argument(help: "A name for the service.") var name: String
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let name = self.name
            let (client, secret) = try await database.withServices { services in
                try await services.clients.create(name: name)
            }
            if output.json {
                try Output.json(["client_id": client.clientID, "client_secret": secret])
            } else {
                print("client_id:     \(client.clientID)\nclient_secret: \(secret)")
                FileHandle.standardError.write(Data("the secret is not shown again\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List service clients (never their secrets).")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let clients = try await database.withServices { services in try await services.clients.clients() }
            if output.json {
                try Output.json(clients.map { ["client_id": $0.clientID, "name": $0.name] })
            } else {
                Output.table(
                    ["CLIENT ID", "CREATED", "NAME"], clients.map { [$0.clientID, Output.date($0.created), $0.name] })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a service client.")

        @Argument(help: "The client id.") var clientID: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let clientID = self.clientID
            let deleted = try await database.withServices { services in
                try await services.clients.delete(clientID: clientID)
            }
            guard deleted else { throw CLIError("there is no client with id \(clientID)") }
            print("revoked client \(clientID)")
        }
    }
}
