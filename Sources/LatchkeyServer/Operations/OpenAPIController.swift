import Foundation
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI 3.1 description of every endpoint, a resource file of
/// this target (`openapi.json`) served as it is. The test command checks the running server
/// against it with schemathesis, and a Swift test that it names exactly the router's routes.
struct OpenAPIController {
    /// The document's bytes, read once at start-up.
    static let document: ByteBuffer = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else { preconditionFailure("openapi.json is missing from the LatchkeyServer resources") }
        return ByteBuffer(bytes: data)
    }()

    func addRoutes(to router: Router<some RequestContext>) {
        let document = Self.document
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
