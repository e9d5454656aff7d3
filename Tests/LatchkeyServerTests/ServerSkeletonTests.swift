import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Logging
import Testing

@Suite("Server skeleton", .removingScratchDirectories)
struct ServerSkeletonTests {
    let services: LatchkeyServices

    init() throws {
        services = LatchkeyServices(
            storage: try makeSQLiteStorage(), secretBox: nil, hasher: fastPasswordHasher,
            clock: ManualClock())
    }

    func makeApp(logs: CapturedLogs = CapturedLogs(), extraRoutes: (Router<AppRequestContext>) -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = buildRouter(configuration: ServerConfiguration(), services: services)
        extraRoutes(router)
        return Application(router: router, logger: logs.logger())
    }

    @Test func livenessAnswersWithoutTheDatabase() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
        }
    }

    @Test func readinessChecksTheDatabase() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ready"}"#)
            }
        }
    }

    @Test func unknownPathsGetAJSONNotFound() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/no/such/thing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body) == #"{"error":{"message":"Not Found"}}"#)
            }
        }
    }

    struct InternalFailure: Error, CustomStringConvertible {
        var description: String { "SELECT secret FROM tokens -- lk_should_not_leak" }
    }

    @Test func anUnexpectedErrorIsAJSON500WithoutItsDetail() async throws {
        let app = makeApp { router in
            router.get("boom") { _, _ -> String in throw InternalFailure() }
        }
        try await app.test(.router) { client in
            try await client.execute(uri: "/boom", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = String(buffer: response.body)
                #expect(body == #"{"error":{"message":"The server could not handle this request."}}"#)
                #expect(!body.contains("lk_should_not_leak"))
            }
        }
    }

    @Test func requestLogsShowTheRoutePatternAndNoCredentials() async throws {
        let logs = CapturedLogs()
        let secret = TokenSecret.generate().value
        try await makeApp(logs: logs).test(.router) { client in
            try await client.execute(
                uri: "/healthz?token=\(secret)", method: .get,
                headers: [.authorization: "Bearer \(secret)", .cookie: "session=\(secret)", .userAgent: "tester/1"]
            ) { response in
                #expect(response.status == .ok)
            }
            // The secret in the path is the proof of this call; the log names the route, not the path.
            try await client.execute(uri: "/api/tokens/\(secret)/", method: .delete) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(logs.all.contains { $0.contains("GET /healthz 200") })
        #expect(logs.all.contains { $0.contains("DELETE /api/tokens/{token} 404") })
        #expect(logs.all.allSatisfy { !$0.contains(secret) && !$0.contains("tester/1") }, "\(logs.all)")
    }

    @Test func theLogHandlerRedactsAnythingShapedLikeASecret() {
        let token = TokenSecret.generate().value
        let line = "failed: \(token) and lks_\(String(repeating: "a", count: 32)), lk_short, key \(token.prefix(8))"
        let redacted = SecretRedaction.redact(line)
        #expect(!redacted.contains(token))
        #expect(!redacted.contains(String(repeating: "a", count: 32)))
        #expect(redacted.contains("\(token.prefix(8))…[redacted]"), "the public key part stays")
        #expect(redacted.contains("lk_short"), "too short to be a secret")
        #expect(SecretRedaction.redact("nothing here") == "nothing here")

        let logs = CapturedLogs()
        var logger = Logger(label: "redacting") { _ in SecretRedactingLogHandler(logs.logger().handler) }
        logger.logLevel = .trace
        logger[metadataKey: "bound"] = "\(token)"
        logger.info("saw \(token)", metadata: ["token": "\(token)", "list": ["\(token)"]])
        #expect(logs.all.count == 1)
        #expect(logs.all.allSatisfy { !$0.contains(token) }, "\(logs.all)")
    }
}
