import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

@Suite("Server skeleton")
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

    @Test func requestLogsRedactCredentials() async throws {
        let logs = CapturedLogs()
        let secret = TokenSecret.generate().value
        try await makeApp(logs: logs).test(.router) { client in
            try await client.execute(
                uri: "/healthz", method: .get,
                headers: [.authorization: "Bearer \(secret)", .cookie: "session=\(secret)", .userAgent: "tester/1"]
            ) { response in
                #expect(response.status == .ok)
            }
        }
        let requestLines = logs.all.filter { $0.contains("/healthz") }
        #expect(requestLines.count == 1)
        #expect(requestLines.allSatisfy { $0.contains("tester/1") && $0.contains("***") })
        #expect(logs.all.allSatisfy { !$0.contains(secret) })
    }
}
