import Foundation
import Hummingbird
import LatchkeyCore

/// The body of `POST /api/v1/user/apptoken`: Quay's `{"title": "..."}`, plus two
/// extensions Quay clients never send: `expiration` (seconds from now, or an
/// RFC 3339 instant) and `scopes`.
struct QuayCreateRequest {
    static let maxBodySize = 64 * 1024

    var title: String
    var expiration: TokenRequest.Expiry?
    var scopes: [String]

    static func decode(_ request: Request, now: Date) async throws -> QuayCreateRequest {
        let body = try await request.collectBody(upTo: maxBodySize)
        // Like Flask's `get_json(silent=True)`: a body that is not JSON counts as no fields.
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))) ?? .object([:])
        guard case .object(let fields) = value else {
            throw QuayError.invalidRequest("The request body is a \(value.pythonTypeName), not a JSON object")
        }
        guard let titleValue = fields["title"] else { throw QuayError.invalidRequest("'title' is a required property") }
        guard case .string(let title) = titleValue else {
            throw QuayError.invalidRequest("'title' is not of type 'string'")
        }
        guard title.count <= Token.maxTitleLength else {
            throw QuayError.invalidRequest("'title' is longer than \(Token.maxTitleLength) characters")
        }
        return QuayCreateRequest(
            title: title, expiration: try expiration(fields["expiration"], now: now),
            scopes: try scopes(fields["scopes"]))
    }

    private static func expiration(_ value: JSONValue?, now: Date) throws -> TokenRequest.Expiry? {
        switch value {
        case nil, .null:
            return nil
        case .integer(let seconds) where Lifetime.isAcceptable(TimeInterval(seconds)):
            return .after(TimeInterval(seconds))
        case .string(let text):
            guard let date = UTCTimestamp.parseRFC3339(text) else {
                throw QuayError.invalidRequest("'expiration' is not an RFC 3339 time")
            }
            guard date > now else { throw QuayError.invalidRequest("'expiration' must be in the future") }
            return .at(date)
        default:
            throw QuayError.invalidRequest("'expiration' must be a positive number of seconds or an RFC 3339 time")
        }
    }

    private static func scopes(_ value: JSONValue?) throws -> [String] {
        switch value {
        case nil, .null:
            return []
        case .array(let items):
            return try items.map { item in
                guard case .string(let scope) = item else { throw QuayError.invalidRequest("'scopes' must be strings") }
                return scope
            }
        default:
            throw QuayError.invalidRequest("'scopes' is not of type 'array'")
        }
    }
}
