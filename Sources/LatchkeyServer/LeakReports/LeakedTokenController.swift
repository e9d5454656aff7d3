import Foundation
import Hummingbird
import LatchkeyCore

/// `POST /api/v1/tokens/leaked`: anyone who finds Latchkey tokens exposed (a secret
/// scanner, like GitHub's) reports them; each valid one is revoked and the event
/// recorded. The answer never says which tokens were valid.
struct LeakedTokenController {
    static let maxTokens = 1000
    let services: LatchkeyServices
    let limiter: SlidingWindowLimiter

    init(services: LatchkeyServices, limit: RateLimit) {
        self.services = services
        limiter = SlidingWindowLimiter(limit, clock: services.clock)
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("api/v1/tokens/leaked", use: report)
    }

    struct Received: ResponseEncodable {
        var received: Int
    }

    /// Where a reporter found a token, for the audit log: scheme, host and path only
    /// (a query often carries the secret itself), secrets redacted, printable, at most 500 characters.
    static func describe(foundAt url: String) -> String {
        var place = url
        if let components = URLComponents(string: url), let host = components.host {
            place = "\(components.scheme.map { "\($0)://" } ?? "")\(host)\(components.percentEncodedPath)"
        } else if let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            place = String(url[..<cut])
        }
        let printable = String(place.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return String(SecretRedaction.redact(printable).prefix(500))
    }

    /// A report: a JSON list of tokens, each a string or `{"token": …, "url": …}`.
    @Sendable func report(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<Received> {
        if case .refused(let retryAfter, _) = limiter.acquire(context.clientIP.map(CIDR.limitKey(for:)) ?? "unknown") {
            throw LimitExceeded(.leakReports, retryAfter: retryAfter)
        }
        let body = try await request.collectBody(upTo: 1 << 20)
        guard case .array(let items) = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            throw HTTPError(.badRequest, message: "The body must be a JSON list of tokens.")
        }
        guard items.count <= Self.maxTokens else {
            throw HTTPError(.badRequest, message: "At most \(Self.maxTokens) tokens per report.")
        }
        for item in items {
            let (token, url): (String?, String?) =
                switch item {
                case .string(let text): (text, nil)
                case .object(let fields): (fields["token"]?.text, fields["url"]?.text)
                default: (nil, nil)
                }
            guard let token, let found = try await services.tokens.find(secret: token) else { continue }
            let revoked = try await services.tokens.revoke(
                found, by: context.origin(via: "leak-report"), as: .tokenLeaked,
                detail: "reported" + (url.map { " as found at \(Self.describe(foundAt: $0))" } ?? ""))
            guard revoked else { continue }
            context.logger.warning("Revoked a reported leaked token", metadata: ["token": "\(found.uuid)"])
        }
        return EditedResponse(status: .accepted, response: Received(received: items.count))
    }
}
