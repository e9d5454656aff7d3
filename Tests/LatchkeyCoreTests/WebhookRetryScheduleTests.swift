import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// docs/webhooks.md's retry schedule, held to its own words: by default `5s,5m,30m,2h,5h,10h,10h`
/// (8 attempts over 27.6 hours), each wait stretched by up to 10 % at random. The randomness is
/// injected at its extremes, and beyond them (a broken source must not stretch a wait further).
@Suite("Webhook retry schedule", .removingScratchDirectories)
struct WebhookRetryScheduleTests {
    /// Its figures, written out rather than read from the code under test.
    static let documentedWaits: [TimeInterval] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]

    enum Randomness: String, CaseIterable, CustomTestStringConvertible {
        case none, most, beyondTheRange, belowTheRange
        /// What the injected source answers.
        var value: Double {
            switch self {
            case .none: 0
            case .most: 1.0.nextDown
            case .beyondTheRange: 7
            case .belowTheRange: -3
            }
        }
        /// How much longer than the schedule's wait a retry may come.
        var stretch: Double {
            switch self {
            case .none, .belowTheRange: 1
            case .most, .beyondTheRange: 1.1
            }
        }
        var testDescription: String { rawValue }
    }

    @Test(arguments: TestBackend.available, Randomness.allCases)
    func theDefaultScheduleIsEightAttemptsEachWaitStretchedByAtMostATenth(
        backend: TestBackend, randomness: Randomness
    ) async throws {
        try await backend.withStorage { storage in
            let fixture = try await WebhookTests.Fixture(
                storage, settings: WebhookSettings(), jitter: { randomness.value })
            let endpoint = try await fixture.endpoint()
            _ = try await fixture.token(for: fixture.sam)
            let started = fixture.clock.now
            var delivery = try #require(try await fixture.due().first)
            for (retry, wait) in Self.documentedWaits.enumerated() {
                #expect(delivery.attemptsBefore == retry)
                try await fixture.fail(delivery)
                let due = wait * randomness.stretch
                fixture.clock.advance(by: due - 0.01)
                #expect(try await fixture.due().isEmpty, "retry \(retry + 1) is not due before \(due) s")
                fixture.clock.advance(by: 0.011)
                delivery = try #require(try await fixture.due().first, "retry \(retry + 1) is due after \(due) s")
            }
            #expect(delivery.attemptsBefore == 7)
            try await fixture.fail(delivery)
            fixture.clock.advance(by: 30 * 86_400)
            #expect(try await fixture.due().isEmpty, "eight attempts, then no more")

            let settled = try #require(try await fixture.webhooks.deliveries(of: endpoint).first)
            #expect(settled.state == .failed && settled.attempts.count == 8)
            let span = try #require(settled.attempts.last?.at).timeIntervalSince(started)
            #expect(abs(span - 27.6 * 3600 * randomness.stretch) < 0.1 * 3600, "\(span / 3600) hours")
        }
    }
}
