import Hummingbird
import NIOCore

/// `GET /openapi.json`.
struct OpenAPIController {
    func addRoutes(to router: Router<some RequestContext>) {
        let document = ByteBuffer(string: openAPIDocument)
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
