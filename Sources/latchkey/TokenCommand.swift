import ArgumentParser
import Foundation
import LatchkeyCore
import LatchkeyServer

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage tokens.", subcommands: [Create.self, List.self, Revoke.self, GC.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an app token and print its secret (shown this once only).")

        @Option(help: "The owner's username.") var user: String
        @Option(help: "A label for the token.") var title: String
        @Option(help: "Lifetime, e.g. 30d, 2w, 12h, 90m, 3600s (default: never expires).")
        var expiresIn: String?
        @Option(name: .customLong("scope"), help: "A scope to grant; repeat for several.")
        var scopes: [String] = []
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let lifetime = try expiresIn.map(Lifetime.parse)
            let request = TokenRequest(
                kind: .app, title: title, scopes: scopes, expiry: lifetime.map { .after($0) } ?? .never)
            let username = user
            let issued = try await database.withStorage { storage in
                let owner = try await AccountService(storage: storage).requireUser(username)
                return try await TokenService(storage: storage, secretBox: nil, limits: .fromEnvironment()).create(
                    for: owner, request, by: .cli)
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
            let (tokens, owners) = try await database.withStorage { storage in
                let accounts = AccountService(storage: storage)
                let owner = try await username.asyncMap { try await accounts.requireUser($0) }
                return (try await storage.tokens(TokenQuery(ownerID: owner?.id)), try await accounts.usernames())
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

        @Argument(help: "The token's uuid.") var uuid: String?
        @Option(help: "With --all: the user whose tokens to revoke.") var user: String?
        @Flag(help: "Revoke every token of --user (sessions included).") var all = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard (uuid != nil) != (user != nil && all), user == nil || all else {
                throw ValidationError("give a token's uuid, or --user USER --all")
            }
        }

        func run() async throws {
            if let username = user {
                let revoked = try await database.withStorage { storage in
                    let owner = try await AccountService(storage: storage).requireUser(username)
                    return try await TokenService(storage: storage, secretBox: nil).revokeAll(of: owner, by: .cli)
                }
                print("revoked \(revoked.count) token\(revoked.count == 1 ? "" : "s") of user \(username)")
                return
            }
            let uuid = uuid ?? ""
            guard let id = UUID(uuidString: uuid) else { throw CLIError("'\(uuid)' is not a uuid") }
            let revoked = try await database.withStorage { storage in
                let tokens = TokenService(storage: storage, secretBox: nil)
                guard let token = try await tokens.find(uuid: id) else { return false }
                return try await tokens.revoke(token, by: .cli)
            }
            guard revoked else { throw CLIError("there is no token with uuid \(uuid.lowercased())") }
            print("revoked token \(uuid.lowercased())")
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Delete tokens that expired longer ago than the grace period.")

        @Option(help: "How long expired tokens are kept (env LATCHKEY_GC_GRACE; default 1d).") var grace: String?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let grace = try Lifetime.parse(grace ?? environment("LATCHKEY_GC_GRACE") ?? "1d")
            let deleted = try await database.withStorage { storage in
                try await TokenService(storage: storage, secretBox: nil).deleteExpired(grace: grace)
            }
            if output.json {
                try Output.json(["deleted": deleted])
            } else {
                print("deleted \(deleted) expired token\(deleted == 1 ? "" : "s")")
            }
        }
    }
}

struct TokenView: Encodable {
    var uuid: String
    var owner: String?
    var key: String
    var kind: String
    var title: String?
    var scopes: [String]
    var created: Date
    var expires: Date?
    var lastUsed: Date?

    init(_ token: Token, owner: String?) {
        uuid = token.uuid.uuidString.lowercased()
        self.owner = owner
        key = token.key
        kind = token.kind.rawValue
        title = token.title
        scopes = token.scopes
        created = token.created
        expires = token.expires
        lastUsed = token.lastUsed
    }
}

struct CreatedTokenView: Encodable {
    var token: String
    var uuid: String
    var key: String
    var title: String?
    var scopes: [String]
    @NullWhenAbsent var expires: Date?

    init(secret: TokenSecret, token: Token) {
        self.token = secret.value
        uuid = token.uuid.uuidString.lowercased()
        key = token.key
        title = token.title
        scopes = token.scopes
        expires = token.expires
    }

}
