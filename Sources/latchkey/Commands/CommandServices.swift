import LatchkeyCore

/// The domain services a one-shot command works through; no command touches the storage.
struct CommandServices: Sendable {
    let accounts: AccountService
    let tokens: TokenService
    let clients: ClientService
    let webhooks: WebhookService

    /// - Parameter serverKey: seals webhook secrets (tokens made here are never recoverable).
    init(
        storage: any LatchkeyStorage, tokenLimits: TokenLimits = .default, serverKey: SecretBox? = nil,
        webhookSettings: WebhookSettings = WebhookSettings()
    ) {
        accounts = AccountService(storage: storage)
        tokens = TokenService(storage: storage, secretBox: nil, limits: tokenLimits)
        clients = ClientService(storage: storage)
        webhooks = WebhookService(storage: storage, secretBox: serverKey, settings: webhookSettings)
    }

    /// The audit log that the services write to.
    var audit: AuditLog { accounts.audit }
}
