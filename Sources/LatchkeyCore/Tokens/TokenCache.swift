import Foundation
import Synchronization

/// Verified tokens and their owners by digest, so that most requests authenticate without
/// the database, and digests the database did not know, so that a client retrying a revoked
/// token does not cost a read each time.
///
/// An entry never outlives its token's expiry (an entry that looks expired is read again:
/// another node may have renewed a sliding expiry) nor `maximumAge`. Revocation and changes
/// to the owner evict at once on this node (`TokenService`, `AccountService`), and
/// `apply(_:)` takes what other processes changed (`LatchkeyStorage.observeChanges`). The
/// cache answers nothing until the first `.anything` says changes are being observed, and
/// nothing again after `.unobservable`: it cannot know what it missed.
public final class TokenCache: Sendable {
    public struct Limits: Sendable, Hashable {
        public var capacity: Int
        public var maximumAge: TimeInterval
        public var unknownCapacity: Int
        public var unknownMaximumAge: TimeInterval

        public init(
            capacity: Int = 100_000, maximumAge: TimeInterval = 60, unknownCapacity: Int = 10_000,
            unknownMaximumAge: TimeInterval = 5
        ) {
            self.capacity = max(1, capacity)
            self.maximumAge = maximumAge
            self.unknownCapacity = max(1, unknownCapacity)
            self.unknownMaximumAge = unknownMaximumAge
        }
    }

    public enum Lookup: Sendable {
        case known(Token, User)
        /// The database had no such token a moment ago.
        case unknown
        /// Not cached: read the database, then pass `ticket` back to `remember`.
        case miss(ticket: UInt64)
    }

    private struct Entry {
        var token: Token
        let owner: User
        let cachedAt: Date
    }

    private struct State {
        var entries: [TokenDigest: Entry] = [:]
        var digestsByTokenID: [Int64: TokenDigest] = [:]
        /// So that a change to one owner evicts their tokens without a scan of every entry.
        var digestsByOwnerID: [Int64: Set<TokenDigest>] = [:]
        var unknown: [TokenDigest: Date] = [:]
        var isObserving = false
        /// Moves on every eviction: a read that began before one must not be remembered after it.
        var generation: UInt64 = 0

        mutating func insert(_ entry: Entry, for digest: TokenDigest) {
            if entries.updateValue(entry, forKey: digest) == nil {
                digestsByTokenID[entry.token.id] = digest
                digestsByOwnerID[entry.owner.id, default: []].insert(digest)
            }
        }

        mutating func forget(_ digest: TokenDigest) {
            guard let entry = entries.removeValue(forKey: digest) else { return }
            digestsByTokenID[entry.token.id] = nil
            let ownerID = entry.owner.id
            digestsByOwnerID[ownerID]?.remove(digest)
            if digestsByOwnerID[ownerID]?.isEmpty == true { digestsByOwnerID[ownerID] = nil }
        }

        mutating func clear() {
            entries.removeAll()
            digestsByTokenID.removeAll()
            digestsByOwnerID.removeAll()
            unknown.removeAll()
            generation &+= 1
        }
    }

    public let limits: Limits
    private let clock: any WallClock
    private let state = Mutex(State())

    public init(limits: Limits = Limits(), clock: any WallClock) {
        self.limits = limits
        self.clock = clock
    }

    /// Verified tokens held now.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Whether lookups can be answered: changes are being observed.
    public var isAnswering: Bool { state.withLock { $0.isObserving } }

    public func lookup(_ digest: TokenDigest) -> Lookup {
        let now = clock.now
        return state.withLock { state in
            guard state.isObserving else { return .miss(ticket: state.generation) }
            if let entry = state.entries[digest] {
                let age = now.timeIntervalSince(entry.cachedAt)  // negative after the clock stepped back
                if age >= 0, age < limits.maximumAge, !entry.token.isExpired(at: now) {
                    return .known(entry.token, entry.owner)
                }
                state.forget(digest)
            } else if let seen = state.unknown[digest] {
                let age = now.timeIntervalSince(seen)
                if age >= 0, age < limits.unknownMaximumAge { return .unknown }
                state.unknown[digest] = nil
            }
            return .miss(ticket: state.generation)
        }
    }

    /// Keeps what the database answered, unless something was evicted since `ticket` was given.
    public func remember(_ found: (Token, User)?, for digest: TokenDigest, ticket: UInt64) {
        let now = clock.now
        state.withLock { state in
            guard state.isObserving, state.generation == ticket else { return }
            guard let (token, owner) = found else {
                if state.unknown.count >= limits.unknownCapacity { state.unknown.removeAll() }
                state.unknown[digest] = now
                return
            }
            guard !token.isExpired(at: now) else { return }
            if state.entries.count >= limits.capacity {
                // Forget a tenth, in hash order (effectively at random): amortised constant time.
                for digest in state.entries.keys.prefix(max(1, limits.capacity / 10)) { state.forget(digest) }
            }
            state.insert(Entry(token: token, owner: owner, cachedAt: now), for: digest)
        }
    }

    /// A cached token's new last use or sliding expiry, as this node recorded it.
    public func update(_ token: Token) {
        state.withLock { state in state.entries[token.digest]?.token = token }
    }

    /// A digest just issued on this node is no longer unknown.
    public func issued(_ digest: TokenDigest) {
        state.withLock { state in _ = state.unknown.removeValue(forKey: digest) }
    }

    public func apply(_ change: StorageChange) {
        // A new token's digest was never cached: its secret did not exist before.
        if case .tokensAdded = change { return }
        state.withLock { state in
            state.generation &+= 1
            switch change {
            case .tokensChanged(let ids):
                for id in ids {
                    if let digest = state.digestsByTokenID[id] { state.forget(digest) }
                }
            case .userChanged(let id):
                for digest in state.digestsByOwnerID[id] ?? [] { state.forget(digest) }
            case .tokensAdded:
                break
            case .anything:
                state.clear()
                state.isObserving = true
            case .unobservable:
                state.clear()
                state.isObserving = false
            }
        }
    }
}

/// What changed in the storage, as far as cached tokens are concerned.
public enum StorageChange: Sendable, Hashable {
    /// Tokens were changed or deleted.
    case tokensChanged([Int64])
    /// These owners have new tokens.
    case tokensAdded(ownerIDs: [Int64])
    /// A user's activation, password or rights changed.
    case userChanged(Int64)
    /// Anything may have changed: another process wrote, or changes are observed again after a gap.
    case anything
    /// Changes can no longer be observed, until the next `.anything`.
    case unobservable
}
