import Synchronization

/// Last uses and sliding expiries waiting to be written together, off the request path
/// (`TokenService.flushUsage`). What is pending when the process dies is lost: at most
/// one flush interval of last-used data.
public final class PendingTokenUsage: Sendable {
    private let pending = Mutex<[Int64: TokenUsage]>([:])

    public init() {}

    public var count: Int { pending.withLock { $0.count } }

    /// Merges `usage` over what is already pending for the token: the later values win.
    func add(_ usage: TokenUsage, for tokenID: Int64) {
        pending.withLock { pending in pending[tokenID, default: TokenUsage()].merge(usage) }
    }

    func usage(of tokenID: Int64) -> TokenUsage? {
        pending.withLock { $0[tokenID] }
    }

    func take() -> [Int64: TokenUsage] {
        pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
    }

    /// Puts back a batch that could not be written, under anything recorded since.
    func restore(_ batch: [Int64: TokenUsage]) {
        pending.withLock { pending in
            for (tokenID, usage) in batch {
                var merged = usage
                if let newer = pending[tokenID] { merged.merge(newer) }
                pending[tokenID] = merged
            }
        }
    }
}

extension Token {
    /// The token as it stands once `usage` is written.
    func applying(_ usage: TokenUsage) -> Token {
        var token = self
        if let expires = usage.expires { token.expires = expires }
        if let lastUsed = usage.lastUsed {
            token.lastUsed = lastUsed
            token.lastUsedIP = usage.lastUsedIP
            token.lifecycle.lastUsedAgent = usage.lastUsedAgent
            token.lifecycle.recentIPs = usage.recentIPs
        }
        return token
    }
}

extension TokenUsage {
    mutating func merge(_ later: TokenUsage) {
        if let expires = later.expires { self.expires = expires }
        if let lastUsed = later.lastUsed {
            self.lastUsed = lastUsed
            lastUsedIP = later.lastUsedIP
            lastUsedAgent = later.lastUsedAgent
            recentIPs = later.recentIPs
        }
    }
}
