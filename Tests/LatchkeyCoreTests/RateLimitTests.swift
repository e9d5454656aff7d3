import Foundation
import LatchkeyCore
import LatchkeyTestSupport
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

    /// docs/security.md's promise for `Retry-After`, checked against the limiter itself over sampled
    /// limits and histories (not against its formula): it is the time until one more attempt is
    /// allowed if none is made meanwhile, rounded up to a whole second (waiting that long is
    /// enough; a moment more than a second less is not), and never more than two windows.
    @Test func retryAfterIsTheWaitUntilOneMoreIsAllowedRoundedUpAndAtMostTwoWindows() throws {
        var random = SplitMix64(seed: 38)
        var refusals = 0
        for _ in 0..<400 {
            let count = Int.random(in: 1...12, using: &random)
            let window = TimeInterval(Int.random(in: 2...3_600, using: &random))
            let clock = ManualClock()
            let limiter = SlidingWindowLimiter(RateLimit(count: count, window: window)!, clock: clock)
            for _ in 0..<Int.random(in: 1...40, using: &random) {
                // Sometimes a burst, sometimes a pause; times with fractions of a second.
                if Bool.random(using: &random) { clock.advance(by: Double.random(in: 0...window, using: &random)) }
                guard case .refused(let wait, _) = limiter.acquire("k") else { continue }
                refusals += 1
                let seconds = LimitExceeded(.signIn, retryAfter: wait).retryAfterSeconds
                #expect(seconds >= 1 && TimeInterval(seconds) <= 2 * window, "\(count)/\(window)s: \(seconds)")
                // A millisecond's margin: the estimate is arithmetic on fractions of a window.
                clock.advance(by: TimeInterval(seconds) - 1.001)
                if case .allowed = limiter.acquire("k") {
                    Issue.record("\(count)/\(window)s: allowed over a second before Retry-After \(seconds)")
                }
                clock.advance(by: 1.001)
                #expect(limiter.acquire("k") == .allowed, "\(count)/\(window)s: refused after Retry-After \(seconds)")
            }
        }
        #expect(refusals > 1_000, "the sample reaches the limit often")
    }

    /// docs/security.md's worked figures: a limit's worth of attempts at one moment waits one window and
    /// then until enough of them has slid out to leave room for one more.
    @Test(arguments: [("3/1m", 80), ("10/15m", 990), ("1/1m", 120), ("100/15m", 909)])
    func aLimitsWorthAtOnceWaitsTheDocumentedTime(limit: String, seconds: Int) throws {
        let limiter = SlidingWindowLimiter(try RateLimit.parse(limit), clock: clock)
        while limiter.acquire("k") == .allowed {}
        guard case .refused(let wait, _) = limiter.acquire("k") else { return }
        #expect(LimitExceeded(.signIn, retryAfter: wait).retryAfterSeconds == seconds)
    }
}
