import ArgumentParser
import Foundation
import LatchkeyCore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage tokens.", subcommands: [Create.self, List.self, Revoke.self, GC.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an app token and print its secret (shown this once only).")

        @Option(help: "The owner's username.") var user: String
        @Option(help: "A label for the token.") var title: String
        @Option(
            help:
                "Lifetime, e.g. 30d, 2w, 12h, 90m, 3600s (default: never expires, or the longest LATCHKEY_MAX_TOKEN_LIFETIME allows).",
            transform: { try Period(parsing: $0) })
        var expiresIn: Period?
        @Option(name: .customLong("scope"), help: "A scope to grant; repeat for several.")
        var scopes: [String] = []
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let limits = try TokenLimits.fromEnvironment()
            let expiry =
                expiresIn.map { .after($0.seconds) } ?? limits.cappingDefault(.never, kind: .app, now: Date())
            let request = TokenRequest(kind: .app, title: title, scopes: scopes, expiry: expiry)
            let username = user
            let issued = try await database.withServices(tokenLimits: limits) { services in
                let owner = try await services.accounts.requireUser(username)
                return try await services.tokens.create(for: owner, request, by: .cli)
            }
            if output.json {
                try Output.json(CreatedTokenView(secret: issued.secret, token: issued.token))
            } else {
                // The secret alone on stdout, so that `TOKEN=$(latchkey token create ...)` works.
                print(issued.secret.value)
                FileHandle.standardError.write(
                    Data(
                        "token \(issued.token.uuid.uuidString.lowercased()) expires \(Output.date(issued.token.expires)); the secret is not shown again\n"
                            .utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a user's tokens, or every user's (never their secrets).")

        @Option(help: "The owner's username.") var user: String?
        @Flag(help: "Every user's tokens, with their owners.") var all = false
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if (user == nil) == !all { throw ValidationError("give exactly one of --user USER or --all") }
        }

        func run() async throws {
            let username = user
            let (tokens, owners) = try await database.withServices { services in
                let owner = try await username.asyncMap { try await services.accounts.requireUser($0) }
                return (
                    try await services.tokens.list(TokenQuery(ownerID: owner?.id)),
                    try await services.accounts.usernames()
                )
            }
            if output.json {
                try Output.json(tokens.map { TokenView($0, owner: owners[$0.ownerID]) })
            } else {
                Output.table(
                    ["UUID", "OWNER", "KEY", "KIND", "EXPIRES", "LAST USED", "SCOPES", "TITLE"],
                    tokens.map { token in
                        [
                            token.uuid.uuidString.lowercased(), owners[token.ownerID] ?? "-", token.key,
                            token.kind.rawValue, Output.date(token.expires),
                            token.lastUsed.map { Output.date($0) } ?? "-",
                            token.scopes.isEmpty ? "-" : token.scopes.joined(separator: ","), token.title ?? "",
                        ]
                    })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by its uuid, or every token of a user (--user U --all).")

        @Argument(help: "The token's uuid.", transform: { try TokenUUID(parsing: $0) }) var uuid: TokenUUID?
        @Option(help: "With --all: the user whose tokens to revoke.") var user: String?
        @Flag(help: "Revoke every token of --user (sessions included).") var all = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard (uuid != nil) != (user != nil && all), user == nil || all else {
                throw ValidationError("give a token's uuid, or --user USER --all")
            }
        }

        func run() async throws {
            if let uuid {
                try await revoke(uuid.uuid)
            } else if let user {
                try await revokeAll(of: user)
            }
        }

        private func revoke(_ uuid: UUID) async throws {
            let revoked = try await database.withServices { services in
                guard let token = try await services.tokens.find(uuid: uuid) else { return false }
                return try await services.tokens.revoke(token, by: .cli)
            }
            let name = uuid.uuidString.lowercased()
            guard revoked else { throw CLIError("there is no token with uuid \(name)") }
            print("revoked token \(name)")
        }

        private func revokeAll(of username: String) async throws {
            let revoked = try await database.withServices { services in
                let owner = try await services.accounts.requireUser(username)
                return try await services.tokens.revokeAll(of: owner, by: .cli)
            }
            print("revoked \(revoked.count) token\(revoked.count == 1 ? "" : "s") of user \(username)")
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Delete tokens that expired longer ago than the grace period.")

        @Option(
            help: "How long expired tokens are kept (env LATCHKEY_GC_GRACE; default 1d).",
            transform: { try Period(parsing: $0) })
        var grace: Period?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let grace = try setting(self.grace, "LATCHKEY_GC_GRACE", default: "1d").seconds
            let deleted = try await database.withServices { services in
                try await services.tokens.deleteExpired(grace: grace)
            }
            if output.json {
                try Output.json(["deleted": deleted])
            } else {
                print("deleted \(deleted) expired token\(deleted == 1 ? "" : "s")")
            }
        }
    }
}
