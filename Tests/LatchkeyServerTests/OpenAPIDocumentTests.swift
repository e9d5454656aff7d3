import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// `openapi.json` is a file beside the code: nothing but this test keeps the two in step.
@Suite("The OpenAPI document", .removingScratchDirectories)
struct OpenAPIDocumentTests {
    /// `METHOD /path/{param}`, without a trailing slash (Hummingbird matches with or without one).
    static func route(_ method: String, _ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return "\(method.uppercased()) \(trimmed)"
    }

    /// The web pages (HTML for people, `WebController`) are not part of the API it describes.
    @Test("names exactly the routes the router serves")
    func documentNamesExactlyTheServedRoutes() async throws {
        let services = LatchkeyServices(
            storage: try makeSQLiteStorage(), secretBox: nil, hasher: fastPasswordHasher, clock: ManualClock())
        let router = buildRouter(configuration: ServerConfiguration(), services: services)
        let registered = router.routes.map { (method: $0.method, path: "\($0.path)") }.filter {
            !WebController.isPage($0.path)
        }
        let app = Application(router: router)

        // A route registered only to answer 405 (a method the path does not serve) is not served.
        let served = try await app.test(.router) { client in
            var served: Set<String> = []
            for (method, path) in registered {
                let uri = path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x", options: .regularExpression)
                let status = try await client.execute(uri: uri, method: method) { $0.status }
                if status != .methodNotAllowed { served.insert(Self.route(method.rawValue, path)) }
            }
            return served
        }

        let document = try #require(
            try JSONSerialization.jsonObject(with: try await fetchDocument(app)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods = ["get", "put", "post", "delete", "patch", "head", "options"]
        let documented = Set(
            paths.flatMap { path, operations in
                operations.keys.filter(methods.contains).map { Self.route($0, path) }
            })

        #expect(served.subtracting(documented).sorted() == [], "served but not in openapi.json")
        #expect(documented.subtracting(served).sorted() == [], "in openapi.json but not served")
    }

    /// The document as `GET /openapi.json` serves it.
    func fetchDocument(_ app: some ApplicationProtocol) async throws -> Data {
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                return Data(buffer: response.body)
            }
        }
    }
}
