import ArgumentParser
import Foundation
import LatchkeyCore
import LatchkeyServer

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage tokens.",
        subcommands: [Create.self, List.self, Show.self, Rotate.self, Revoke.self, GC.self])

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
            try output.print(issued)
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

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one token in full (never its secret).")

        @Argument(help: "The token's uuid.", transform: { try TokenUUID(parsing: $0) }) var uuid: TokenUUID
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let wanted = uuid.uuid
            let (token, owner) = try await database.withServices { services in
                let found = try await services.tokens.requireToken(wanted)
                let username = try await services.accounts.usernames()[found.ownerID]
                return (found, username)
            }
            if output.json {
                try Output.json(V1Token(token, owner: owner))
                return
            }
            let lifecycle = token.lifecycle
            Output.fields([
                ("uuid", token.uuid.uuidString.lowercased()), ("owner", owner ?? "-"), ("key", token.key),
                ("kind", token.kind.rawValue), ("title", token.title ?? "-"), ("scopes", Self.list(token.scopes)),
                ("created", Output.date(token.created)), ("expires", Output.date(token.expires)),
                ("last used", Output.date(token.lastUsed)), ("last address", token.lastUsedIP ?? "-"),
                ("last user agent", lifecycle.lastUsedAgent ?? "-"),
                ("recent addresses", Self.list(lifecycle.recentIPs)),
                ("max uses", lifecycle.maxUses.map { String($0) } ?? "unlimited"),
                ("uses remaining", lifecycle.usesRemaining.map { String($0) } ?? "unlimited"),
                (
                    "allowed addresses",
                    lifecycle.allowedIPs.isEmpty ? "any" : Self.list(lifecycle.allowedIPs.map(\.description))
                ),
                // Kept as compact JSON: one line.
                ("metadata", lifecycle.metadata ?? "-"),
                ("rotated from", lifecycle.rotatedFrom?.uuidString.lowercased() ?? "-"),
                ("retires", lifecycle.retires.map { Output.date($0) } ?? "-"),
            ])
        }

        private static func list(_ items: [String]) -> String {
            items.isEmpty ? "-" : items.joined(separator: ",")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Replace an app token by a new one with its title, scopes and limits, and print the new secret (shown this once only)."
        )

        @Argument(help: "The token's uuid.", transform: { try TokenUUID(parsing: $0) }) var uuid: TokenUUID
        @Option(
            help:
                "How long the old token keeps working beside the new one, e.g. 1h, at most LATCHKEY_MAX_ROTATION_OVERLAP (default: it stops at once).",
            transform: { try Period(parsing: $0) })
        var overlap: Period?
        @Option(
            help: "The new token's lifetime, e.g. 30d, 2w, 12h (default: the old token's lifetime again, from now).",
            transform: { try Period(parsing: $0) })
        var expiresIn: Period?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let limits = try TokenLimits.fromEnvironment()
            // A period cannot be zero, so no overlap is the option left out.
            let request = RotationRequest(overlap: overlap?.seconds ?? 0, expiry: expiresIn.map { .after($0.seconds) })
            let wanted = uuid.uuid
            let issued = try await database.withServices(tokenLimits: limits) { services in
                let token = try await services.tokens.requireToken(wanted)
                return try await services.tokens.rotate(token, request, grantedBy: .account, by: .cli)
            }
            // The successor is made at the instant the overlap starts.
            let retires = issued.token.created.addingTimeInterval(request.overlap)
            try output.print(
                issued,
                also: "token \(wanted.uuidString.lowercased()) "
                    + (request.overlap > 0 ? "works until \(Output.date(retires))" : "no longer works"))
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

        @Option(ServerSettings.gcGrace, name: "grace", about: "How long expired tokens are kept")
        var grace: Period?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let grace = try ServerSettings.gcGrace.resolved(self.grace).seconds
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

extension OutputOptions {
    /// A new token: as JSON, or its secret alone on stdout (so that `TOKEN=$(latchkey token
    /// create ...)` works) and what to know of it on stderr.
    fileprivate func print(_ issued: IssuedToken, also note: String? = nil) throws {
        if json {
            try Output.json(CreatedTokenView(secret: issued.secret, token: issued.token))
            return
        }
        Swift.print(issued.secret.value)
        let facts = [
            "token \(issued.token.uuid.uuidString.lowercased()) expires \(Output.date(issued.token.expires))", note,
            "the secret is not shown again",
        ]
        FileHandle.standardError.write(Data((facts.compactMap { $0 }.joined(separator: "; ") + "\n").utf8))
    }
}

extension TokenService {
    /// The token the CLI's uuid argument names; a one-line error when there is none.
    fileprivate func requireToken(_ uuid: UUID) async throws -> Token {
        guard let token = try await find(uuid: uuid) else {
            throw CLIError("there is no token with uuid \(uuid.uuidString.lowercased())")
        }
        return token
    }
}
