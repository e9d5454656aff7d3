import Foundation
import Hummingbird
import LatchkeyCore

/// `POST /api/v1/tokens/leaked`: a report of tokens found exposed (`LeakReportService`),
/// answered in Latchkey's own shape. The answer never says which tokens were valid.
struct LeakedTokenController {
    let leaks: LeakReportService

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("api/v1/tokens/leaked", use: report)
    }

    struct Received: ResponseEncodable {
        var received: Int
    }

    /// A report: a JSON list of tokens, each a string or `{"token": …, "url": …}`.
    @Sendable func report(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<Received> {
        let origin = context.origin(via: "leak-report")
        try leaks.admit(origin)
        let body = try await request.collectBody(upTo: 1 << 20)
        guard case .array(let items) = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            throw HTTPError(.badRequest, message: "The body must be a JSON list of tokens.")
        }
        let maxTokens = LeakReportService.maxTokensPerReport
        guard items.count <= maxTokens else {
            throw HTTPError(.badRequest, message: "At most \(maxTokens) tokens per report.")
        }
        let reported = items.compactMap { item -> LeakReportService.Leak? in
            switch item {
            case .string(let token): LeakReportService.Leak(token: token)
            case .object(let fields): fields["token"]?.text.map { .init(token: $0, foundAt: fields["url"]?.text) }
            default: nil
            }
        }
        for token in try await leaks.report(reported, by: origin) {
            context.logger.warning("Revoked a reported leaked token", metadata: ["token": "\(token.uuid)"])
        }
        return EditedResponse(status: .accepted, response: Received(received: items.count))
    }
}
