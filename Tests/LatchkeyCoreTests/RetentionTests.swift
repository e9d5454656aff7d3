import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// How long what the garbage collector deletes is kept, by the docs (webhooks.md, api.md): webhook messages 30 days
/// after the event (one still being delivered until it settles), tokens rotated away 90 days past
/// their overlap (or `--gc-grace`, if longer) so that their reuse is still recognised.
@Suite("Retention", .removingScratchDirectories)
struct RetentionTests {
    static let day: TimeInterval = 86_400

    @Test(arguments: TestBackend.available)
    func webhookMessagesAreKeptThirtyDaysAndOneStillPendingUntilItSettles(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            // One retry, 40 days on: a delivery that outlives the retention while pending.
            let fixture = try await WebhookTests.Fixture(
                storage, settings: WebhookSettings(retrySchedule: [40 * Self.day]))
            let endpoint = try await fixture.endpoint()
            let start = fixture.clock.now
            _ = try await fixture.token(for: fixture.sam)
            #expect(try await fixture.delivered().count == 1)
            fixture.clock.advance(by: 1)
            _ = try await fixture.token(for: fixture.sam)
            let pending = try #require(try await fixture.due().first)
            try await fixture.fail(pending)

            fixture.clock.set(start.addingTimeInterval(30 * Self.day - 1))
            #expect(try await fixture.webhooks.collect() == 0, "not yet 30 days old")
            #expect(try await fixture.webhooks.deliveries(of: endpoint).count == 2)

            fixture.clock.set(start.addingTimeInterval(30 * Self.day + 2))
            #expect(try await fixture.webhooks.collect() == 1, "the delivered one, 30 days old")
            let left = try await fixture.webhooks.deliveries(of: endpoint)
            #expect(left.map(\.id) == [pending.id], "the pending one is kept though as old")

            fixture.clock.set(start.addingTimeInterval(1 + 40 * Self.day))
            let retried = try #require(try await fixture.due().first)
            try await fixture.webhooks.record(
                WebhookAttempt(at: fixture.clock.now, status: 200, error: nil), of: retried)
            #expect(try await fixture.webhooks.collect() == 1, "settled, and older than 30 days")
            #expect(try await fixture.webhooks.deliveries(of: endpoint).isEmpty)
        }
    }

    @Test(arguments: TestBackend.available, [1.0, 120.0])
    func aTokenRotatedAwayIsRecognisedForNinetyDaysOrTheGraceIfLonger(backend: TestBackend, graceDays: Double)
        async throws
    {
        try await backend.withStorage { storage in
            let fixture = try await TokenLifecycleTests.Fixture(storage)
            let old = try await fixture.create()
            _ = try await fixture.tokens.rotate(
                old.token, RotationRequest(overlap: 3_600), grantedBy: .account, by: .cli)
            let overlapEnds = fixture.clock.now.addingTimeInterval(3_600)
            let kept = max(90, graceDays) * Self.day

            fixture.clock.set(overlapEnds.addingTimeInterval(kept - 60))
            _ = try await fixture.tokens.deleteExpired(grace: graceDays * Self.day)
            #expect(try await fixture.verify(old) == .rotatedAway, "still kept: its reuse is recognised")
            #expect(try await fixture.events(.tokenReuseDetected).count == 1)

            fixture.clock.set(overlapEnds.addingTimeInterval(kept + 60))
            _ = try await fixture.tokens.deleteExpired(grace: graceDays * Self.day)
            #expect(try await fixture.verify(old) == .unknown, "collected: now just unknown")
            #expect(try await fixture.events(.tokenReuseDetected).count == 1)
        }
    }
}
