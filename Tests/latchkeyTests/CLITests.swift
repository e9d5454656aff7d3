import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

/// Drives the built `latchkey` executable against temporary databases, as a user would.
@Suite("CLI", .removingScratchDirectories)
struct CLITests {
    let directory: URL
    var database: String { directory.appendingPathComponent("cli.db").path }

    init() throws {
        directory = try makeScratchDirectory()
    }

    func run(_ arguments: [String], stdin: String = "", environment: [String: String] = [:]) throws -> ProcessResult {
        try runLatchkey(arguments + ["--database", database], stdin: stdin, environment: environment)
    }

    /// A command's JSON output, decoded as `type`.
    func decode<Output: Decodable>(_ type: Output.Type, _ text: String) throws -> Output {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    @Test func creationsFollowTheSameLifetimePolicyAsTheServer() async throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        let bounded = ["LATCHKEY_MAX_TOKEN_LIFETIME": "app=30d"]
        expectOneLineFailure(
            try run(["token", "create", "--user", "sam", "--title", "t", "--expires-in", "31d"], environment: bounded),
            "on this server an app token may live at most 30d")
        // Without --expires-in, the longest the policy allows rather than never.
        let created = try decode(
            CLITokenOutput.self,
            try run(["token", "create", "--user", "sam", "--title", "t", "--json"], environment: bounded).stdout)
        let expiresText = try #require(created.expires)
        let expires = try #require(ISO8601DateFormatter().date(from: expiresText))
        #expect(abs(expires.timeIntervalSinceNow - 30 * 86_400) < 600)

        expectOneLineFailure(
            try run(
                ["token", "create", "--user", "sam", "--title", "t"], environment: ["LATCHKEY_REQUIRE_EXPIRY": "true"]),
            "this server requires every token to expire")
        expectOneLineFailure(
            try run(
                ["token", "create", "--user", "sam", "--title", "t"],
                environment: ["LATCHKEY_MAX_TOKEN_LIFETIME": "forever"]),
            "The value 'forever' is invalid for LATCHKEY_MAX_TOKEN_LIFETIME: use KIND=PERIOD, where KIND is session or app, e.g. app=90d"
        )
        expectOneLineFailure(
            try run(
                ["token", "create", "--user", "sam", "--title", "t"], environment: ["LATCHKEY_REQUIRE_EXPIRY": "maybe"]),
            "LATCHKEY_REQUIRE_EXPIRY must be true or false, not 'maybe'")
        #expect(try await SQLiteStorage(path: database).countTokens(TokenQuery()) == 1, "the refusals stored nothing")
    }

    @Test func operatorCommandsActOnAccountsAndAreAudited() async throws {
        #expect(try run(["user", "create", "sam", "--password-stdin"], stdin: "old pass\n").status == 0)
        #expect(try run(["user", "create", "kim", "--no-password"]).status == 0)
        for user in ["sam", "sam", "kim"] {
            #expect(try run(["token", "create", "--user", user, "--title", "t"]).status == 0)
        }
        let everyone = try decode([Shaped<CLIListedToken>].self, try run(["token", "list", "--all", "--json"]).stdout)
        #expect(everyone.map { $0.owner } == ["sam", "sam", "kim"])
        #expect(everyone.allSatisfy { !$0.fieldNames.contains("token") })
        expectOneLineFailure(try run(["token", "list"]), "give exactly one of --user USER or --all")

        #expect(try run(["user", "deactivate", "sam"]).stdout == "deactivated user sam\n")
        let storage = try SQLiteStorage(path: database)
        #expect(try await storage.user(username: "sam")?.isActive == false)
        #expect(try run(["user", "activate", "sam"]).stdout == "activated user sam\n")
        #expect(try run(["user", "set-password", "sam", "--password-stdin"], stdin: "new pass\n").status == 0)
        let accounts = AccountService(storage: storage)
        #expect(try await accounts.authenticate(login: "sam", password: "new pass", by: .cli) != nil)
        expectOneLineFailure(
            try run(["user", "set-password", "sam"]),
            "give the password on standard input with --password-stdin")
        expectOneLineFailure(try run(["user", "deactivate", "nobody"]), "there is no user named 'nobody'")

        #expect(try run(["token", "revoke", "--user", "sam", "--all"]).stdout == "revoked 2 tokens of user sam\n")
        #expect(try await storage.countTokens(TokenQuery()) == 1)

        let events = try decode(
            [CLIAuditEvent].self, try run(["audit", "--user", "sam", "--since", "1h", "--json"]).stdout)
        #expect(
            events.map(\.kind).reversed() == [
                "user.created", "token.created", "token.created", "user.deactivated", "user.activated",
                "user.password_changed", "signin.succeeded", "token.revoked", "token.revoked",
            ])
        #expect(events.allSatisfy { $0.user == "sam" })
        #expect(events.filter { $0.kind != "signin.succeeded" }.allSatisfy { $0.via == "cli" })
        let table = try run(["audit"])
        #expect(table.status == 0 && table.stdout.hasPrefix("TIME"))
        #expect(try run(["audit", "gc", "--retention", "1d"]).stdout == "deleted 0 audit events\n")
    }

    /// `superuser` and the scopes LATCHKEY_RESERVED_SCOPES names: only on an administrator's tokens,
    /// whoever creates them (the operator too).
    @Test func reservedScopesGoOnlyToAdministratorsTokens() async throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        #expect(try run(["user", "create", "kim", "--no-password", "--admin"]).status == 0)
        let reserved = ["LATCHKEY_RESERVED_SCOPES": "org:admin, billing"]
        for scope in ["superuser", "org:admin", "billing"] {
            expectOneLineFailure(
                try run(["token", "create", "--user", "sam", "--title", "t", "--scope", scope], environment: reserved),
                "only administrators' tokens may hold the scope '\(scope)'")
            #expect(
                try run(["token", "create", "--user", "kim", "--title", "t", "--scope", scope], environment: reserved)
                    .status == 0)
        }
        #expect(try run(["token", "create", "--user", "sam", "--title", "t", "--scope", "org:admin"]).status == 0)
        expectOneLineFailure(
            try run(
                ["token", "create", "--user", "kim", "--title", "t"], environment: ["LATCHKEY_RESERVED_SCOPES": "a b"]),
            "The value 'a b' is invalid for LATCHKEY_RESERVED_SCOPES: a scope is 1 to 64 printable ASCII characters, without spaces or quotes"
        )
        #expect(try await SQLiteStorage(path: database).countTokens(TokenQuery()) == 4)
    }

    /// A new password signs out whoever signed in with the old one; app tokens stay.
    @Test func settingAPasswordEndsTheAccountsSignInSessions() async throws {
        #expect(try run(["user", "create", "sam", "--password-stdin"], stdin: "old pass\n").status == 0)
        let storage = try SQLiteStorage(path: database)
        let tokens = TokenService(storage: storage, secretBox: nil)
        let sam = try #require(try await storage.user(username: "sam"))
        let session = try await tokens.create(for: sam, TokenRequest(kind: .session), by: .cli)
        let app = try await tokens.create(for: sam, TokenRequest(kind: .app), by: .cli)

        let changed = try run(["user", "set-password", "sam", "--password-stdin"], stdin: "new pass\n")
        #expect(changed.stdout == "set the password of user sam; ended 1 sign-in session\n")
        #expect(try await storage.token(uuid: session.token.uuid) == nil)
        #expect(try await storage.token(uuid: app.token.uuid) != nil)
    }

    @Test func importReportsBadRowsByLineAndImportsTheRest() throws {
        let file = directory.appendingPathComponent("users.csv")
        let bcrypt = "$2b$04$jKZo.rJpS25xzL6bwwfr9.I69.WIM4r8bFCtrypSnA1cP4aycIXi6"
        try """
        username,email,first_name,last_name,password,is_active,is_admin
        quay,quay@example.org,Quay,User,\(bcrypt),true,false
        "bad name",x@example.org,,,,true,false
        hub,,"Hub, the",User,"pbkdf2_sha256$1000$saltsaltsalt$Z6FeZ5pFyNS17gXMtF1cE+D71DUDb57qYm+DpLFR2Us=",1,0
        weak,,,,md5$x$y,true,false
        short,row
        """.write(to: file, atomically: true, encoding: .utf8)
        let result = try run(["user", "import", file.path])
        #expect(result.status != 0)
        #expect(result.stdout == "imported 2 users, skipped 3\n")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("latchkey: line 3: 'bad name' is not a valid username") == true)
        #expect(lines.dropFirst().first?.hasPrefix("latchkey: line 5: the password hash is not") == true)
        #expect(lines.dropFirst(2).first == "latchkey: line 6: 2 fields where the header names 7")
        #expect(lines.last == "latchkey: 3 of 5 rows were skipped (see the lines above)")
        let users = try decode([CLIUserOutput].self, try run(["user", "list", "--json"]).stdout)
        #expect(users.map(\.username) == ["quay", "hub"])
        #expect(users.last?.firstName == "Hub, the")

        // JSON lines, written on Windows (CRLF): each line is its own row.
        let jsonLines = directory.appendingPathComponent("more.jsonl")
        try (#"{"username": "crlf1", "is_active": false}"# + "\r\n" + "not json\r\n" + #"{"username": "crlf2"}"#)
            .write(to: jsonLines, atomically: true, encoding: .utf8)
        let more = try run(["user", "import", jsonLines.path])
        #expect(more.stdout == "imported 2 users, skipped 1\n")
        #expect(more.stderr.hasPrefix("latchkey: line 2: not a JSON object"))
        let all = try decode([CLIUserOutput].self, try run(["user", "list", "--json"]).stdout)
        #expect(all.map(\.username).suffix(2) == ["crlf1", "crlf2"])
        #expect(all.first { $0.username == "crlf1" }?.active == false)
    }

    @Test func createAndListUsers() throws {
        let created = try run(
            [
                "user", "create", "sam", "--email", "sam@example.org", "--first-name", "Sam", "--last-name", "Smith",
                "--password-stdin", "--json",
            ], stdin: "s3cret pass\n")
        #expect(created.status == 0, "\(created.stderr)")
        let user = try decode(CLIUserOutput.self, created.stdout)
        #expect(user.username == "sam")
        #expect(user.email == "sam@example.org")
        #expect(user.admin == false)
        #expect(!created.stdout.contains("s3cret"))

        #expect(try run(["user", "create", "root", "--admin", "--no-password"]).stdout == "created user root (id 2)\n")
        let listed = try decode([CLIUserOutput].self, try run(["user", "list", "--json"]).stdout)
        #expect(listed.map(\.username) == ["sam", "root"])
        #expect(listed.map(\.admin) == [false, true])
        let table = try run(["user", "list"]).stdout
        #expect(table.hasPrefix("ID  USERNAME"))
        #expect(table.contains("sam@example.org"))
    }

    @Test func thePasswordFromStdinSignsIn() async throws {
        #expect(try run(["user", "create", "sam", "--password-stdin"], stdin: "two words\r\nignored").status == 0)
        let accounts = AccountService(storage: try SQLiteStorage(path: database))
        #expect(try await accounts.authenticate(login: "sam", password: "two words", by: .cli) != nil)
    }

    @Test func badUserInputFailsInOneLine() throws {
        #expect(try run(["user", "create", "sam", "--password-stdin"], stdin: "pw").status == 0)
        expectOneLineFailure(
            try run(["user", "create", "SAM", "--password-stdin"], stdin: "pw"), "the username 'SAM' is already taken")
        expectOneLineFailure(
            try run(["user", "create", "kim", "--password-stdin"], stdin: "\n"), "the password must not be empty")
        expectOneLineFailure(
            try run(["user", "create", "kim", "--password-stdin"], stdin: ""), "the password must not be empty")
        expectOneLineFailure(
            try run(["user", "create", "kim"]), "give exactly one of --password-stdin or --no-password")
        expectOneLineFailure(
            try run(["user", "create", "kim", "--no-password", "--bogus"]), "Unknown option '--bogus'")
        expectOneLineFailure(
            try run(["user", "create", "bad name", "--no-password"]),
            "'bad name' is not a valid username: use 1 to 150 letters, digits and @ . + - _")
        let users = try decode([CLIUserOutput].self, try run(["user", "list", "--json"]).stdout)
        #expect(users.count == 1, "failed commands created nothing")
    }

    @Test func tokensAreCreatedListedAndRevoked() throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        let created = try run(
            [
                "token", "create", "--user", "sam", "--title", "deploy", "--expires-in", "30d", "--scope", "repo:read",
                "--json",
            ])
        #expect(created.status == 0, "\(created.stderr)")
        let token = try decode(CLITokenOutput.self, created.stdout)
        let secret = token.token
        let uuid = token.uuid
        #expect(TokenSecret(secret) != nil)
        #expect(token.key == String(secret.prefix(8)))
        #expect(token.scopes == ["repo:read"])
        #expect(token.expires?.hasSuffix("Z") == true)

        let forever = try run(["token", "create", "--user", "sam", "--title", "forever", "--json"])
        let foreverToken = try decode(Shaped<CLITokenOutput>.self, forever.stdout)
        #expect(foreverToken.nullFields.contains("expires"), "a token that never expires says so with null")

        let plain = try run(["token", "create", "--user", "sam", "--title", "plain"])
        #expect(TokenSecret(plain.stdout.trimmingCharacters(in: .newlines)) != nil, "stdout is the secret alone")
        #expect(plain.stderr.contains("the secret is not shown again"))

        let listing = try run(["token", "list", "--user", "sam", "--json"])
        let listed = try decode([CLIListedToken].self, listing.stdout)
        #expect(listed.map(\.title) == ["deploy", "forever", "plain"])
        #expect(!listing.stdout.contains(secret))
        #expect(!(try run(["token", "list", "--user", "sam"]).stdout.contains(secret)))

        #expect(try run(["token", "revoke", uuid]).stdout == "revoked token \(uuid)\n")
        let after = try decode([CLIListedToken].self, try run(["token", "list", "--user", "sam", "--json"]).stdout)
        #expect(after.count == 2)
        expectOneLineFailure(try run(["token", "revoke", uuid]), "there is no token with uuid \(uuid)")
    }

    @Test func rotationNamesTheSuccessorAndRetiresTheOldToken() throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        let created = try decode(
            CLITokenOutput.self, try run(["token", "create", "--user", "sam", "--title", "deploy", "--json"]).stdout)
        let old = created.uuid
        let oldSecret = created.token

        let rotation = try run(["token", "rotate", old, "--overlap", "1h", "--json"])
        #expect(rotation.status == 0, "\(rotation.stderr)")
        let successor = try decode(CLITokenOutput.self, rotation.stdout)
        let new = successor.uuid
        #expect(new != old)
        #expect(successor.rotatedFrom == old)
        #expect(successor.title == "deploy")
        let newSecret = successor.token
        #expect(TokenSecret(newSecret) != nil)

        let shownOld = try run(["token", "show", old, "--json"])
        let oldView = try decode(Shaped<CLIShownToken>.self, shownOld.stdout)
        let retiresAt = try #require(oldView.retiresAt)
        let instant = ISO8601DateFormatter()
        instant.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let retires = try #require(instant.date(from: retiresAt))
        #expect(abs(retires.timeIntervalSinceNow - 3600) < 600)
        #expect(oldView.nullFields.contains("rotated_from"))
        #expect(oldView.owner == "sam")
        #expect(!shownOld.stdout.contains(oldSecret), "never a secret")
        let newView = try decode(Shaped<CLIShownToken>.self, try run(["token", "show", new, "--json"]).stdout)
        #expect(newView.rotatedFrom == old)
        #expect(newView.nullFields.contains("retires_at"))
        #expect(!newView.fieldNames.contains("token"))
        let table = try run(["token", "show", old])
        #expect(table.status == 0 && table.stdout.hasPrefix("uuid"), "\(table.stderr)")
        let retiresLine = table.stdout.split(separator: "\n").first { $0.hasPrefix("retires ") }
        #expect(retiresLine?.hasSuffix(" -") == false, "\(table.stdout)")

        expectOneLineFailure(try run(["token", "rotate", old]), "the token was already rotated; rotate its successor")
        expectOneLineFailure(
            try run(["token", "rotate", new, "--overlap", "2h"], environment: ["LATCHKEY_MAX_ROTATION_OVERLAP": "1h"]),
            "the overlap may be at most 1h")
        let plain = try run(["token", "rotate", new])
        #expect(TokenSecret(plain.stdout.trimmingCharacters(in: .newlines)) != nil, "stdout is the secret alone")
        #expect(plain.stderr.contains("token \(new) no longer works; the secret is not shown again"))
        let unknown = UUID().uuidString.lowercased()
        expectOneLineFailure(try run(["token", "show", unknown]), "there is no token with uuid \(unknown)")
        expectOneLineFailure(try run(["token", "rotate", unknown]), "there is no token with uuid \(unknown)")
    }

    @Test func badTokenInputFailsInOneLine() throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        expectOneLineFailure(
            try run(["token", "create", "--user", "nobody", "--title", "t"]), "there is no user named 'nobody'")
        expectOneLineFailure(
            try run(["token", "create", "--user", "sam", "--title", String(repeating: "x", count: 256)]),
            "the title must be at most 255 characters")
        expectOneLineFailure(
            try run(["token", "create", "--user", "sam", "--title", "t", "--scope", "two words"]),
            "'two words' is not a valid scope")
        expectOneLineFailure(
            try run(["token", "revoke", "not-a-uuid"]),
            "The value 'not-a-uuid' is invalid for '<uuid>': 'not-a-uuid' is not a uuid")
        #expect(try run(["token", "list", "--user", "sam", "--json"]).stdout == "[]\n")
    }

    @Test func garbageCollectionDeletesOnlyTokensPastTheGracePeriod() async throws {
        #expect(try run(["user", "create", "sam", "--no-password"]).status == 0)
        let storage = try SQLiteStorage(path: database)
        let owner = try #require(try await storage.user(username: "sam"))
        let now = Date()
        for hoursAgo in [1.0, 25, 49] {
            let secret = TokenSecret.generate()
            _ = try await storage.insertToken(
                NewToken(
                    uuid: UUID(), key: secret.key, ownerID: owner.id, title: "expired \(hoursAgo)h ago", kind: .app,
                    scopes: [], created: now.addingTimeInterval(-100 * 3600),
                    expires: now.addingTimeInterval(-hoursAgo * 3600), slidingLifetime: nil, digest: secret.digest,
                    sealedSecret: nil))
        }
        #expect(
            try run(["token", "gc", "--json"], environment: ["LATCHKEY_GC_GRACE": "2d"]).stdout
                == #"{"deleted":1}"# + "\n", "the grace from the environment")
        #expect(try run(["token", "gc"]).stdout == "deleted 1 expired token\n", "the default grace is one day")
        #expect(
            try run(["token", "gc", "--grace", "2h"], environment: ["LATCHKEY_GC_GRACE": "tomorrow"]).stdout
                == "deleted 0 expired tokens\n", "the flag wins, and the variable is not read")
        #expect(try await storage.tokens(TokenQuery()).map(\.title) == ["expired 1.0h ago"])
    }

    @Test func serviceClientsAreCreatedListedAndRevoked() async throws {
        let created = try run(["client", "create", "billing", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let client = try decode(CLIClientOutput.self, created.stdout)
        let clientID = client.clientID
        let secret = client.clientSecret
        #expect(clientID.hasPrefix("lkc_") && secret.hasPrefix("lks_"))
        let stored = try await ClientService(storage: try SQLiteStorage(path: database))
            .authenticate(clientID: clientID, secret: secret)
        #expect(stored?.name == "billing", "the printed secret authenticates")

        let listing = try run(["client", "list", "--json"]).stdout
        #expect(listing.contains(clientID) && !listing.contains(secret))
        #expect(try run(["client", "revoke", clientID]).stdout == "revoked client \(clientID)\n")
        expectOneLineFailure(try run(["client", "revoke", clientID]), "there is no client with id \(clientID)")
        expectOneLineFailure(
            try run(["client", "create", " "]), "' ' is not a valid client name: use 1 to 100 printable characters")
    }

    @Test func corruptAndUnreachableDatabasesFailInOneLine() throws {
        let corrupt = directory.appendingPathComponent("corrupt.db").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: corrupt))
        expectOneLineFailure(
            try runLatchkey(["user", "list", "--database", corrupt]),
            "cannot open the database at \(corrupt): file is not a database")
        expectOneLineFailure(
            try runLatchkey(["user", "list", "--database", "/nonexistent/dir/x.db"]),
            "cannot open the database at /nonexistent/dir/x.db: unable to open database file")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: corrupt)) == Data(repeating: 0x41, count: 8192), "left untouched")
    }

    @Test func theDatabaseComesFromTheEnvironmentOrTheWorkingDirectory() throws {
        let fromEnvironment = directory.appendingPathComponent("env.db").path
        let created = try runLatchkey(
            ["user", "create", "sam", "--no-password"], environment: ["LATCHKEY_DATABASE": fromEnvironment])
        #expect(created.status == 0)
        #expect(FileManager.default.fileExists(atPath: fromEnvironment))
        let defaulted = try runLatchkey(["user", "create", "kim", "--no-password"], in: directory)
        #expect(defaulted.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("latchkey.db").path))
    }
}

/// `token create --json` and `token rotate --json`: a new token, with the secret shown this
/// once; `rotated_from` only from a rotation. Times as the CLI prints them, ISO 8601 text.
private struct CLITokenOutput: Decodable {
    var token: String
    var uuid: String
    var key: String
    var title: String?
    var scopes: [String]
    var expires: String?
    var rotatedFrom: String?

    enum CodingKeys: String, CodingKey {
        case token, uuid, key, title, scopes, expires
        case rotatedFrom = "rotated_from"
    }
}

/// A token of `token list --json`.
private struct CLIListedToken: Decodable {
    var owner: String?
    var title: String?
}

/// `token show --json`: a token as the /v1 API shows it.
private struct CLIShownToken: Decodable {
    var owner: String?
    var rotatedFrom: String?
    var retiresAt: String?

    enum CodingKeys: String, CodingKey {
        case owner
        case rotatedFrom = "rotated_from"
        case retiresAt = "retires_at"
    }
}

/// An event of `audit --json`.
private struct CLIAuditEvent: Decodable {
    var kind: String
    var user: String?
    var via: String
}

/// A user of `user create --json` and `user list --json` (whose keys are camelCase).
private struct CLIUserOutput: Decodable {
    var username: String
    var email: String?
    var firstName: String
    var admin: Bool
    var active: Bool
}

/// `client create --json`: the new client's id, and its secret shown this once.
private struct CLIClientOutput: Decodable {
    var clientID: String
    var clientSecret: String

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id"
        case clientSecret = "client_secret"
    }
}
