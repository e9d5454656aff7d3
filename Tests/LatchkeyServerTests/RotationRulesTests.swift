import Foundation
import HTTPTypes
import HummingbirdTesting
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// docs/api.md promises about rotating through `/v1`: what an `Idempotency-Key` may be and when it
/// cannot be honoured, and that rotations count against `--token-create-rate`.
@Suite("Rotation rules on the wire", .removingScratchDirectories)
struct RotationRulesTests {
    typealias Fixture = V1TokenAPITests.Fixture

    static func key(_ value: String) -> HTTPFields { [.init("Idempotency-Key")!: value] }

    /// A token of sam's to rotate.
    static func appToken(_ fixture: Fixture) async throws -> String {
        try await fixture.services.tokens.create(
            for: fixture.sam, TokenRequest(kind: .app, scopes: ["repo:read"], expiry: .after(86_400)), by: .cli
        ).secret.value
    }

    private static func rotate(
        _ client: any TestClientProtocol, _ secret: String, key: String? = nil, overlap: String = "1h"
    )
        async throws -> (HTTPResponse.Status, HTTPFields, RotationAnswer)
    {
        try await V1TokenAPITests.call(
            client, .post, "/v1/tokens/self/rotate", as: secret, body: #"{"overlap": "\#(overlap)"}"#,
            headers: key.map(Self.key) ?? [:], answer: RotationAnswer.self)
    }

    @Test(arguments: TestBackend.available)
    func anIdempotencyKeyIsOneTo255PrintableASCIICharacters(backend: TestBackend) async throws {
        try await Fixture.run(on: backend) { fixture, client in
            let refused = ["", String(repeating: "k", count: 256), "tab\there", "clé"]
            for bad in refused {
                let (status, _, problem) = try await Self.rotate(client, try await Self.appToken(fixture), key: bad)
                #expect(status == .badRequest, "\(bad.debugDescription)")
                #expect(problem.code == "invalid_request")
                #expect(problem.detail?.contains("1 to 255 printable ASCII characters") == true)
            }
            for good in ["k", String(repeating: "~", count: 255), "ci 2026-11-22 #7"] {
                let (status, _, _) = try await Self.rotate(client, try await Self.appToken(fixture), key: good)
                #expect(status == .created, "\(good.prefix(20))")
            }
            // A key needs an overlap: without one the retry would be made with a dead token.
            let (noOverlap, _, _) = try await Self.rotate(
                client, try await Self.appToken(fixture), key: "k", overlap: "0s")
            #expect(noOverlap == .badRequest)
        }
    }

    @Test(arguments: TestBackend.available)
    func withoutRecoverableTokensAKeyIs400AndRotationWithoutOneStillWorks(backend: TestBackend) async throws {
        try await Fixture.run(on: backend, recoverableTokens: false) { fixture, client in
            let token = try await Self.appToken(fixture)
            let (keyed, _, problem) = try await Self.rotate(client, token, key: "retry-1")
            #expect(keyed == .badRequest)
            #expect(problem.code == "invalid_request")
            let (plain, _, successor) = try await Self.rotate(client, token)
            #expect(plain == .created, "the refused keyed attempt rotated nothing")
            #expect(successor.token != nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func rotationsCountAgainstTheCreationRate(backend: TestBackend) async throws {
        let limits = TokenLimits(maxLivePerUser: 1000, creationRate: RateLimit(count: 4, window: 60))
        try await Fixture.run(on: backend, tokenLimits: limits) { fixture, client in
            // The fixture's session and this token are two creations; two rotations make four.
            var token = try await Self.appToken(fixture)
            for _ in 0..<2 {
                let (status, _, successor) = try await Self.rotate(client, token, overlap: "0s")
                #expect(status == .created)
                token = try #require(successor.token)
            }
            let (throttled, headers, problem) = try await Self.rotate(client, token, overlap: "0s")
            #expect(throttled == .tooManyRequests)
            #expect(problem.code == "rate_limited")
            let seconds = try #require(Int(headers[.retryAfter] ?? ""))
            #expect((1...120).contains(seconds), "at most two windows")
            fixture.clock.advance(by: TimeInterval(seconds))
            let (later, _, _) = try await Self.rotate(client, token, overlap: "0s")
            #expect(later == .created, "after Retry-After the rotation goes through")
        }
    }
}

/// A rotation's answer: the successor's secret, or a problem's code and detail.
private struct RotationAnswer: Decodable {
    var token: String?
    var code: String?
    var detail: String?
}
