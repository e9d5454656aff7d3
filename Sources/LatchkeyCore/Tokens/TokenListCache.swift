import Foundation
import Synchronization

/// Each owner's tokens as the database last listed them, so that listing one's tokens (a page,
/// a key, a cursor) is answered from memory instead of a read each time.
///
/// It answers what the database would: every write to a token on this node evicts its owner's
/// list once the write is in the database (`TokenService`), and `apply(_:)` takes what other
/// processes changed, as `TokenCache` does. What other nodes write without a notification (last
/// uses, sliding expiries, uses counted), and a write that committed after its caller gave up
/// waiting, shows within `maximumAge` of the read. An owner with more than `maximumPerOwner`
/// tokens is read from the database each time.
public final class TokenListCache: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Roughly the bytes the lists may hold, all owners together (`Token.approximateSize`).
        public var capacity: Int
        public var maximumPerOwner: Int
        public var maximumAge: TimeInterval

        public init(capacity: Int = 32 << 20, maximumPerOwner: Int = 1_000, maximumAge: TimeInterval = 5) {
            self.capacity = max(1, capacity)
            self.maximumPerOwner = max(1, min(maximumPerOwner, 100_000))
            self.maximumAge = maximumAge
        }
    }

    public enum Lookup: Sendable {
        /// Every token of the owner, oldest first.
        case known([Token])
        /// Not held: read every token of the owner (up to `maximumPerOwner + 1`), then pass
        /// `ticket` back to `remember`.
        case miss(Ticket)
        /// Ask the database for just what is wanted: the owner has more tokens than are kept,
        /// or changes cannot be observed now.
        case unavailable
    }

    /// When a read began, so that it is not remembered past an eviction, nor longer than
    /// `maximumAge` after it began.
    public struct Ticket: Sendable {
        fileprivate let tick: UInt64
        fileprivate let at: Date
    }

    private struct Entry {
        /// nil: more than `maximumPerOwner`.
        let tokens: [Token]?
        let cachedAt: Date
        /// What it counts against the capacity.
        let weight: Int
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        /// So that a change to one token finds the list holding it without a scan.
        var ownerByTokenID: [Int64: Int64] = [:]
        var held = 0
        var isObserving = false
        /// Moves on every change applied.
        var tick: UInt64 = 0
        /// The last change that may touch any owner (a token no list here holds): no read that
        /// began before it is remembered.
        var everyoneEvictedAt: UInt64 = 0
        /// The last change to each owner's tokens, for reads under way; bounded by forgetting
        /// them all as one change to everyone.
        var ownerEvictedAt: [Int64: UInt64] = [:]

        mutating func insert(_ entry: Entry, for ownerID: Int64) {
            for token in entry.tokens ?? [] { ownerByTokenID[token.id] = ownerID }
            held += entry.weight
            entries[ownerID] = entry
        }

        mutating func forget(_ ownerID: Int64) {
            guard let entry = entries.removeValue(forKey: ownerID) else { return }
            for token in entry.tokens ?? [] { ownerByTokenID[token.id] = nil }
            held -= entry.weight
        }

        mutating func evict(owner ownerID: Int64) {
            forget(ownerID)
            if ownerEvictedAt.count >= 10_000 {
                ownerEvictedAt.removeAll()
                everyoneEvictedAt = tick
            } else {
                ownerEvictedAt[ownerID] = tick
            }
        }

        mutating func evictEveryone() {
            entries.removeAll()
            ownerByTokenID.removeAll()
            ownerEvictedAt.removeAll()
            held = 0
            everyoneEvictedAt = tick
        }

        func isCurrent(_ ticket: Ticket, for ownerID: Int64) -> Bool {
            ticket.tick >= everyoneEvictedAt && ticket.tick >= ownerEvictedAt[ownerID, default: 0]
        }
    }

    public let limits: Limits
    private let clock: any WallClock
    private let state = Mutex(State())

    public init(limits: Limits = Limits(), clock: any WallClock) {
        self.limits = limits
        self.clock = clock
    }

    /// Owners whose tokens are held now.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Whether lookups can be answered: changes are being observed.
    public var isAnswering: Bool { state.withLock { $0.isObserving } }

    public func lookup(_ ownerID: Int64) -> Lookup {
        let now = clock.now
        return state.withLock { state in
            guard state.isObserving else { return .unavailable }
            if let entry = state.entries[ownerID] {
                let age = now.timeIntervalSince(entry.cachedAt)
                if age >= 0, age < limits.maximumAge { return entry.tokens.map { .known($0) } ?? .unavailable }
                state.forget(ownerID)
            }
            return .miss(Ticket(tick: state.tick, at: now))
        }
    }

    /// Keeps what the database listed for `ownerID` (oldest first, at most `maximumPerOwner + 1`),
    /// unless a change that may touch it was applied since `ticket` was given.
    public func remember(_ tokens: [Token], of ownerID: Int64, ticket: Ticket) {
        let kept = tokens.count > limits.maximumPerOwner ? nil : tokens
        let entry = Entry(
            tokens: kept, cachedAt: ticket.at, weight: 64 + (kept ?? []).reduce(0) { $0 + $1.approximateSize })
        state.withLock { state in
            guard state.isObserving, state.isCurrent(ticket, for: ownerID) else { return }
            state.forget(ownerID)
            if state.held + entry.weight > limits.capacity {
                // Forget a tenth of the owners, in hash order (effectively at random).
                for ownerID in Array(state.entries.keys.prefix(max(1, state.entries.count / 10))) {
                    state.forget(ownerID)
                }
                guard state.held + entry.weight <= limits.capacity else { return }
            }
            state.insert(entry, for: ownerID)
        }
    }

    /// Forgets the lists that hold any of `tokenIDs`: they were written, or deleted.
    public func tokensWritten(_ tokenIDs: some Sequence<Int64>) {
        apply(.tokensChanged(Array(tokenIDs)))
    }

    public func apply(_ change: StorageChange) {
        // An owner's rights and activation are not in their list.
        if case .userChanged = change { return }
        state.withLock { state in
            state.tick &+= 1
            switch change {
            case .tokensChanged(let ids):
                for id in ids {
                    // A token no list holds may be in a read under way, for any owner.
                    guard let ownerID = state.ownerByTokenID[id] else {
                        state.everyoneEvictedAt = state.tick
                        continue
                    }
                    state.evict(owner: ownerID)
                }
            case .tokensAdded(let ownerIDs):
                for ownerID in ownerIDs { state.evict(owner: ownerID) }
            case .userChanged:
                break
            case .anything:
                state.evictEveryone()
                state.isObserving = true
            case .unobservable:
                state.evictEveryone()
                state.isObserving = false
            }
        }
    }
}

extension Token {
    /// Roughly the bytes a token takes in memory, with what a client may make large.
    var approximateSize: Int {
        256 + key.utf8.count + (title?.utf8.count ?? 0) + scopes.reduce(0) { $0 + 16 + $1.utf8.count }
            + (lastUsedIP?.utf8.count ?? 0) + (sealedSecret?.count ?? 0) + lifecycle.allowedIPs.count * 48
            + (lifecycle.metadata?.utf8.count ?? 0) + (lifecycle.lastUsedAgent?.utf8.count ?? 0)
            + lifecycle.recentIPs.reduce(0) { $0 + 16 + $1.utf8.count }
    }
}

extension TokenQuery {
    /// The page this query selects from `tokens` (all of its owner's, oldest first), as the
    /// database would answer it: the same conditions (compared as the database compares them),
    /// order, offset and limit.
    public func page(of tokens: [Token]) -> TokenPage {
        let matching = matching(in: tokens)
        let total = matching.count
        let skipped = min(max(0, offset), total)
        let length = min(max(0, limit ?? total), total - skipped)
        let selected =
            newestFirst
            ? Array(matching[(total - skipped - length)..<(total - skipped)].reversed())
            : Array(matching[skipped..<(skipped + length)])
        return TokenPage(tokens: selected, total: total)
    }

    /// The tokens of `tokens` (all of its owner's) that meet the query's conditions, in order.
    func matching(in tokens: [Token]) -> [Token] {
        // Most lists ask for no more than the owner's: then every token matches, and none is copied.
        let isOwnerOnly = kind == nil && key == nil && afterID == nil && expiringAfter == nil && expiringUntil == nil
        return isOwnerOnly ? tokens : tokens.filter(matches)
    }

    /// Whether `token` meets every condition of the query (not its limit or offset): text byte
    /// for byte, times in whole microseconds, as the database stores them.
    func matches(_ token: Token) -> Bool {
        if let ownerID, token.ownerID != ownerID { return false }
        if let kind, token.kind != kind { return false }
        if let key, !token.key.utf8.elementsEqual(key.utf8) { return false }
        if let afterID, token.id <= afterID { return false }
        if expiringAfter != nil || expiringUntil != nil {
            guard let expires = token.expires?.microsecondsSince1970 else { return false }
            if let expiringAfter, expires <= expiringAfter.microsecondsSince1970 { return false }
            if let expiringUntil, expires > expiringUntil.microsecondsSince1970 { return false }
        }
        return true
    }
}
