import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@Suite("Token list cache")
struct TokenListCacheTests {
    let clock = ManualClock()
    /// About two lists of four small tokens.
    let limits = TokenListCache.Limits(capacity: 3_000, maximumPerOwner: 5, maximumAge: 5)

    func tokens(_ ids: ClosedRange<Int64>, owner: Int64, metadata: String? = nil) -> [Token] {
        ids.map { id in
            let secret = TokenSecret.generate()
            return Token(
                id: id, uuid: UUID(), key: secret.key, ownerID: owner, title: nil, kind: .app, scopes: [],
                created: clock.now, expires: nil, slidingLifetime: nil, lastUsed: nil, lastUsedIP: nil,
                digest: secret.digest, sealedSecret: nil, lifecycle: TokenLifecycle(metadata: metadata))
        }
    }

    /// Remembers `listed` as a fresh read would; whether the owner is now answered from memory.
    @discardableResult
    func cache(_ listed: [Token], of owner: Int64, in cache: TokenListCache) -> Bool {
        if case .miss(let ticket) = cache.lookup(owner) { cache.remember(listed, of: owner, ticket: ticket) }
        return held(owner, in: cache) == listed
    }

    func held(_ owner: Int64, in cache: TokenListCache) -> [Token]? {
        if case .known(let tokens) = cache.lookup(owner) { return tokens }
        return nil
    }

    @Test func answersNothingUntilChangesAreObserved() {
        let lists = TokenListCache(limits: limits, clock: clock)
        let sams = tokens(1...2, owner: 1)
        guard case .unavailable = lists.lookup(1) else {
            Issue.record("without changes observed, the database answers the query itself")
            return
        }
        #expect(!cache(sams, of: 1, in: lists))
        lists.apply(.anything)
        #expect(cache(sams, of: 1, in: lists))
        lists.apply(.unobservable)
        #expect(!lists.isAnswering)
        #expect(!cache(sams, of: 1, in: lists), "while changes cannot be observed, every list reads the database")
    }

    @Test func aListIsKeptAtMostTheMaximumAge() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        #expect(cache(tokens(1...2, owner: 1), of: 1, in: lists))
        clock.advance(by: 4.9)
        #expect(held(1, in: lists) != nil)
        clock.advance(by: 0.1)
        #expect(held(1, in: lists) == nil, "what other nodes wrote without a notification shows within 5 s")
    }

    @Test func aWrittenTokenOrANewTokenEvictsOnlyItsOwnersList() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        let (sams, kims) = (tokens(1...2, owner: 1), tokens(3...4, owner: 2))
        cache(sams, of: 1, in: lists)
        cache(kims, of: 2, in: lists)
        lists.tokensWritten([2])
        #expect(held(1, in: lists) == nil)
        #expect(held(2, in: lists) == kims)

        cache(sams, of: 1, in: lists)
        lists.apply(.tokensAdded(ownerIDs: [2]))
        #expect(held(2, in: lists) == nil)
        #expect(held(1, in: lists) == sams)
        lists.apply(.userChanged(1))
        #expect(held(1, in: lists) == sams, "an owner's rights are not in the list")
        lists.apply(.anything)
        #expect(lists.count == 0, "another process wrote: every list is read again")
    }

    /// A read under way for `owner`, remembered after `change` committed.
    func remembered(_ owner: Int64, after change: StorageChange, in lists: TokenListCache) -> Bool {
        guard case .miss(let ticket) = lists.lookup(owner) else {
            Issue.record("nothing is held yet: a miss")
            return false
        }
        lists.apply(change)
        lists.remember(tokens((owner * 100 + 1)...(owner * 100 + 2), owner: owner), of: owner, ticket: ticket)
        return held(owner, in: lists) != nil
    }

    @Test func aReadThatBeganBeforeAChangeThatMayTouchItIsNotRemembered() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        #expect(!remembered(1, after: .tokensAdded(ownerIDs: [1]), in: lists))
        #expect(!remembered(1, after: .tokensChanged([99]), in: lists), "a token no list holds may be owner 1's")
        #expect(!remembered(1, after: .anything, in: lists))

        #expect(remembered(4, after: .tokensAdded(ownerIDs: [2]), in: lists), "another owner's new token")
        #expect(remembered(5, after: .userChanged(5), in: lists), "rights are not in a list")
        cache(tokens(11...12, owner: 3), of: 3, in: lists)
        #expect(remembered(6, after: .tokensChanged([11]), in: lists), "a token of a list held for another owner")
        #expect(held(3, in: lists) == nil)
    }

    @Test func aListIsKeptFromWhenItsReadBegan() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        guard case .miss(let ticket) = lists.lookup(1) else {
            Issue.record("nothing is held yet: a miss")
            return
        }
        clock.advance(by: 4)  // a slow read
        lists.remember(tokens(1...2, owner: 1), of: 1, ticket: ticket)
        #expect(held(1, in: lists) != nil)
        clock.advance(by: 1)
        #expect(held(1, in: lists) == nil, "5 s after the read began, not after it ended")
    }

    @Test func anOwnerWithMoreTokensThanAreKeptIsReadFromTheDatabase() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        cache(tokens(1...6, owner: 1), of: 1, in: lists)
        guard case .unavailable = lists.lookup(1) else {
            Issue.record("an owner beyond maximumPerOwner is sent to the database")
            return
        }
        lists.apply(.tokensAdded(ownerIDs: [1]))
        #expect(cache(tokens(1...5, owner: 1), of: 1, in: lists), "at the limit it is held")
    }

    @Test func theCapacityBoundsWhatIsHeldByItsSize() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        var most = 0
        for owner in Int64(0)..<10 {
            cache(tokens((owner * 10 + 1)...(owner * 10 + 4), owner: owner), of: owner, in: lists)
            most = max(most, lists.count)
        }
        #expect(most == 2, "two lists of four fit in 3,000 bytes, not three")
        #expect(held(9, in: lists) != nil, "the newest is held")
        #expect(
            !cache(tokens(100...100, owner: 20, metadata: String(repeating: "x", count: 4_000)), of: 20, in: lists),
            "one token with 4 KB of metadata weighs more than the capacity")
    }

    @Test func aClockSteppedBackDoesNotKeepAListLonger() {
        let lists = TokenListCache(limits: limits, clock: clock)
        lists.apply(.anything)
        cache(tokens(1...2, owner: 1), of: 1, in: lists)
        clock.advance(by: -3600)
        #expect(held(1, in: lists) == nil)
    }
}
