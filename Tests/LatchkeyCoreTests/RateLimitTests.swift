import Foundation
import LatchkeyCore
import Testing

@Suite("Rate limits")
struct RateLimitTests {
    let clock = ManualClock()

    @Test func ratesParseAsCountOverDuration() throws {
        #expect(try RateLimit.parse("10/15m") == RateLimit(count: 10, window: 900))
        #expect(try RateLimit.parse("1000/1d") == RateLimit(count: 1000, window: 86_400))
        for bad in ["", "10", "/1m", "10/", "0/1m", "-1/1m", "10/0s", "1e3/1m", "99999999/1m", "10/400d", "10/1m/2"] {
            #expect(throws: RateLimit.ParseError.self, "\(bad)") { try RateLimit.parse(bad) }
        }
    }

    @Test func theLimitHoldsWithinAWindowAndTellsWhenToRetry() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("3/60s"), clock: clock)
        for _ in 0..<3 { #expect(limiter.acquire("a") == .allowed) }
        guard case .refused(let retryAfter, let first) = limiter.acquire("a") else {
            Issue.record("the fourth event was allowed")
            return
        }
        #expect(first)
        // Three events at t=0 weigh fully until t=60, then slide out: one more fits once a third has gone.
        #expect(abs(retryAfter - 80) < 0.001)
        #expect(limiter.acquire("a") == .refused(retryAfter: 80, firstRefusal: false))
        #expect(limiter.acquire("b") == .allowed, "another key has its own count")
        clock.advance(by: 79)
        if case .allowed = limiter.acquire("a") { Issue.record("allowed before Retry-After") }
        clock.advance(by: 1)
        #expect(limiter.acquire("a") == .allowed)
    }

    @Test func aBurstAtAWindowsEdgeDoesNotDoubleTheLimit() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("10/60s"), clock: clock)
        clock.advance(by: 59)
        for _ in 0..<10 { #expect(limiter.acquire("edge") == .allowed) }
        clock.advance(by: 2)  // a new fixed window would start here and allow ten more
        var allowed = 0
        for _ in 0..<10 where limiter.acquire("edge") == .allowed { allowed += 1 }
        #expect(allowed == 0)
        clock.advance(by: 120)  // two windows on, nothing weighs any more
        for _ in 0..<10 { #expect(limiter.acquire("edge") == .allowed) }
    }

    @Test func aRefundTakesBackOneEvent() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("2/60s"), clock: clock)
        #expect(limiter.acquire("a") == .allowed)
        #expect(limiter.acquire("a") == .allowed)
        limiter.refund("a")
        #expect(limiter.acquire("a") == .allowed)
        if case .allowed = limiter.acquire("a") { Issue.record("the refund was taken twice") }
    }

    @Test func memoryIsBoundedHoweverManyKeysAppear() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("1/60s"), clock: clock, maxKeys: 1000)
        for address in 0..<50_000 { _ = limiter.acquire("10.0.\(address / 256).\(address % 256)") }
        #expect(limiter.keyCount <= 1000)
        // The newest keys are kept: the last address is still limited.
        if case .allowed = limiter.acquire("10.0.195.79") { Issue.record("the newest key was forgotten") }
    }

    @Test func aFloodOfNewKeysDoesNotResetAKeyInUse() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("10/15m"), clock: clock, maxKeys: 1000)
        for _ in 0..<9 { #expect(limiter.acquire("victim") == .allowed) }
        clock.advance(by: 60)
        for junk in 0..<50_000 { _ = limiter.acquire("junk-\(junk)") }
        #expect(limiter.acquire("victim") == .allowed)
        if case .allowed = limiter.acquire("victim") { Issue.record("the flood reset the victim's count") }
    }

    @Test func aKeyThatHoldsNothingTakesNoRoom() throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse("10/15m"), clock: clock)
        #expect(limiter.acquire("ok") == .allowed)
        limiter.refund("ok")
        #expect(limiter.keyCount == 0)
    }

    @Test func retryAfterIsWholeSecondsWithinBounds() {
        #expect(LimitExceeded(.signIn, retryAfter: 0.2).retryAfterSeconds == 1)
        #expect(LimitExceeded(.signIn, retryAfter: 59.01).retryAfterSeconds == 60)
        #expect(LimitExceeded(.signIn, retryAfter: .infinity).retryAfterSeconds == Int(RateLimit.maxWindow))
        #expect(LimitExceeded(.passwordWork, retryAfter: 3).isOverload)
        #expect(!LimitExceeded(.signIn, retryAfter: 3).isOverload)
    }
}
