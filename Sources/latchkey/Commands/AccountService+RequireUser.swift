import LatchkeyCore

extension AccountService {
    /// The user the CLI's `--user` names; a one-line error when there is none.
    func requireUser(_ username: String) async throws -> User {
        guard let user = try await user(named: username) else {
            throw CLIError("there is no user named '\(username)'")
        }
        return user
    }
}
