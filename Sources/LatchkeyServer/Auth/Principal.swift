import LatchkeyCore

/// Who a request acts for: a user, through one of their tokens.
public struct Principal: Sendable {
    public let user: User
    public let token: Token
}
