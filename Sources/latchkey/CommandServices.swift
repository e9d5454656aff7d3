import LatchkeyCore

/// The domain services a one-shot command works through; no command touches the storage.
struct CommandServices: Sendable {
    let accounts: AccountService
    let tokens: TokenService
    let clients: ClientService

    init(storage: any LatchkeyStorage, tokenLimits: TokenLimits = .default) {
        accounts = AccountService(storage: storage)
        tokens = TokenService(storage: storage, secretBox: nil, limits: tokenLimits)
        clients = ClientService(storage: storage)
    }

    /// The audit log that the services write to.
    var audit: AuditLog { accounts.audit }
}
