import LatchkeyCore

/// Who a request acts for: a user, through one of their tokens.
public struct Principal: Sendable {
    public let user: User
    public let token: Token
}

extension Principal {
    /// The scope that grants managing the account itself (its tokens), as in Quay.
    public static let accountAdminScope = "user:admin"

    /// A sign-in (session) token carries every right of its user; any other token only its scopes.
    public func holds(_ scope: String) -> Bool {
        token.kind == .session || token.scopes.contains(scope)
    }
}
