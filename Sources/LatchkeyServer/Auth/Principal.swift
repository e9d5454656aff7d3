import LatchkeyCore

/// Who a request acts for: a user, through one of their tokens. What it may do is
/// decided in one place, `authorize(_:_:)` (AccessPolicy.swift).
///
/// A class: the request context, which carries it, is copied into every middleware and
/// handler, and one reference costs one retain where a user and a token cost a dozen.
public final class Principal: Sendable {
    public let user: User
    public let token: Token

    init(user: User, token: Token) {
        self.user = user
        self.token = token
    }
}
