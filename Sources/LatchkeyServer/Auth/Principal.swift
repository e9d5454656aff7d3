import LatchkeyCore

/// Who a request acts for: a user, through one of their tokens. What it may do is
/// decided in one place, `authorize(_:_:)` (AccessPolicy.swift).
public struct Principal: Sendable {
    public let user: User
    public let token: Token
}
