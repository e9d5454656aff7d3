import ArgumentParser
import Foundation
import LatchkeyCore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage user accounts.",
        subcommands: [
            Create.self, List.self, Deactivate.self, Activate.self, SetPassword.self, ImportCommand.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")

        @Argument(help: "The username (letters, digits and @ . + - _).")
        var username: String
        @Option(help: "Email address (unique).") var email: String?
        @Option(help: "First name.") var firstName = ""
        @Option(help: "Last name.") var lastName = ""
        @Flag(help: "Make the user an administrator.") var admin = false
        @Flag(help: "Read the password from standard input (up to the end or first newline).")
        var passwordStdin = false
        @Flag(help: "Create the account without a password (it signs in by OpenID Connect only).")
        var noPassword = false
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if passwordStdin == noPassword {
                throw ValidationError("give exactly one of --password-stdin or --no-password")
            }
        }

        func run() async throws {
            let password = passwordStdin ? readPasswordFromStandardInput() : nil
            if let password, password.isEmpty { throw AccountError.emptyPassword }
            let (username, email, firstName, lastName, admin) = (username, email, firstName, lastName, admin)
            let user = try await database.withServices { services in
                try await services.accounts.createUser(
                    username: username, email: email, firstName: firstName, lastName: lastName, password: password,
                    isAdmin: admin, by: .cli)
            }
            if output.json {
                try Output.json(UserView(user))
            } else {
                print("created user \(user.username) (id \(user.id))")
            }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deactivate a user: their tokens and sign-ins are refused at once (nothing is deleted).")

        @Argument(help: "The username.") var username: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await setActive(username, false, database)
            print("deactivated user \(username)")
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activate a deactivated user again.")

        @Argument(help: "The username.") var username: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await setActive(username, true, database)
            print("activated user \(username)")
        }
    }

    static func setActive(_ username: String, _ active: Bool, _ database: DatabaseOptions) async throws {
        try await database.withServices { services in
            let accounts = services.accounts
            try await accounts.setActive(try await accounts.requireUser(username), active, by: .cli)
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password.")

        @Argument(help: "The username.") var username: String
        @Flag(help: "Read the password from standard input (up to the end or first newline).")
        var passwordStdin = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            // A password on the command line would show in `ps` and the shell's history.
            guard passwordStdin else {
                throw ValidationError("give the password on standard input with --password-stdin")
            }
        }

        func run() async throws {
            let password = readPasswordFromStandardInput()
            guard !password.isEmpty else { throw AccountError.emptyPassword }
            let username = username
            let ended = try await database.withServices { services in
                let accounts = services.accounts
                return try await accounts.setPassword(
                    try await accounts.requireUser(username), to: password, by: .cli,
                    endingSessionsWith: services.tokens
                ).count
            }
            print("set the password of user \(username); ended \(ended) sign-in session\(ended == 1 ? "" : "s")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let users = try await database.withServices { services in try await services.accounts.users() }
            if output.json {
                try Output.json(users.map(UserView.init))
            } else {
                Output.table(
                    ["ID", "USERNAME", "EMAIL", "NAME", "ADMIN", "ACTIVE", "CREATED"],
                    users.map { user in
                        [
                            "\(user.id)", user.username, user.email ?? "-",
                            user.fullName,
                            user.isAdmin ? "yes" : "no", user.isActive ? "yes" : "no", Output.date(user.created),
                        ]
                    })
            }
        }
    }
}

/// Standard input up to its end or first newline.
func readPasswordFromStandardInput() -> String {
    var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    if let newline = text.firstIndex(where: \.isNewline) { text = String(text[..<newline]) }
    return text
}
