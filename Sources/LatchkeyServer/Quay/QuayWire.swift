import Foundation
import Hummingbird
import LatchkeyCore

/// Quay's wire format, in one place: snake_case keys, RFC 2822 dates in UTC,
/// and RFC 7807-style error bodies with Quay's `error_type`s.
enum QuayWire {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Tue, 21 Oct 2025 19:00:59 -0000`: Python's `email.utils.formatdate`, whole seconds.
    static func date(_ date: Date) -> String {
        var seconds = time_t(date.secondsSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%@, %02d %@ %04ld %02d:%02d:%02d -0000", weekdays[Int(parts.tm_wday)], parts.tm_mday,
            months[Int(parts.tm_mon)], Int(parts.tm_year) + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// Quay's `truthy_bool` for `?expiring=`: these spellings are false, anything else true.
    static func truthy(_ text: String) -> Bool {
        !["false", "False", "FALSE", "0", "", "null"].contains(text)
    }
}

/// An error in Quay's shape. `type` is a URL under the server's public URL (set by
/// `QuayErrorMiddleware`), never under the `Host` a request claims.
struct QuayError: Error, HTTPResponseError {
    enum Kind: String {
        case invalidRequest = "invalid_request"
        case invalidToken = "invalid_token"
        case insufficientScope = "insufficient_scope"
        case notFound = "not_found"
        case serverError = "server_error"
        case downstreamIssue = "downstream_issue"
        case tooManyRequests = "too_many_requests"
    }

    struct Body: Encodable {
        var detail: String
        var errorMessage: String
        var errorType: String
        var title: String
        var type: String
        var status: Int

        enum CodingKeys: String, CodingKey {
            case detail, title, type, status
            case errorMessage = "error_message"
            case errorType = "error_type"
        }
    }

    let status: HTTPResponse.Status
    let kind: Kind
    let detail: String
    var headers: HTTPFields = [:]
    var externalBaseURL = ""

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(
                detail: detail, errorMessage: detail, errorType: kind.rawValue, title: kind.rawValue,
                type: "\(externalBaseURL)/api/v1/error/\(kind.rawValue)", status: status.code),
            from: request, context: context)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }

    static let requiresAuthentication = QuayError(
        status: .unauthorized, kind: .invalidToken, detail: "Requires authentication")
    static let unauthorized = QuayError(status: .forbidden, kind: .insufficientScope, detail: "Unauthorized")
    static let notFound = QuayError(status: .notFound, kind: .notFound, detail: "Not Found")

    static func invalidRequest(_ detail: String) -> QuayError {
        QuayError(status: .badRequest, kind: .invalidRequest, detail: detail)
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> QuayError {
        QuayError(
            status: .methodNotAllowed, kind: .invalidRequest,
            detail: "The method \(method.rawValue) is not allowed for the requested URL.", headers: [.allow: allow])
    }
}

/// Answers every error under `/api/v1` in Quay's shape.
struct QuayErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Where error `type` URLs point.
    let externalBaseURL: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch var error as QuayError {
            error.externalBaseURL = externalBaseURL
            throw error
        } catch let error as any HTTPResponseError {
            let kind: QuayError.Kind = error.status == .notFound ? .notFound : .invalidRequest
            throw QuayError(
                status: error.status, kind: kind, detail: error.status.reasonPhrase, externalBaseURL: externalBaseURL)
        } catch let error as LimitExceeded {
            throw QuayError(
                status: error.status, kind: error.isOverload ? .downstreamIssue : .tooManyRequests,
                detail: "\(error)", headers: error.retryHeaders, externalBaseURL: externalBaseURL)
        } catch let error as StorageUnavailable {
            context.logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            throw QuayError(
                status: .serviceUnavailable, kind: .downstreamIssue, detail: StorageUnavailable.publicMessage,
                externalBaseURL: externalBaseURL)
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw QuayError(
                status: .internalServerError, kind: .serverError, detail: "The server could not handle this request.",
                externalBaseURL: externalBaseURL)
        }
    }
}

/// An app-specific token as Quay shows it; `token_code` only where Quay shows the secret.
struct QuayToken: Encodable {
    var uuid: String
    var title: String
    var created: String
    @NullWhenAbsent var lastAccessed: String?
    @NullWhenAbsent var expiration: String?
    var tokenCode: String?
    /// Only in the administrators' listing: whose token it is (an extension).
    var owner: String?

    init(_ token: Token, code: TokenSecret? = nil, owner: String? = nil) {
        uuid = token.uuid.uuidString.lowercased()
        title = token.title ?? ""
        created = QuayWire.date(token.created)
        lastAccessed = token.lastUsed.map(QuayWire.date)
        expiration = token.expires.map(QuayWire.date)
        tokenCode = code?.value
        self.owner = owner
    }

    enum CodingKeys: String, CodingKey {
        case uuid, title, created, owner
        case lastAccessed = "last_accessed"
        case expiration
        case tokenCode = "token_code"
    }
}

struct QuayTokenEnvelope: ResponseEncodable {
    var token: QuayToken
}

struct QuayTokenList: ResponseEncodable {
    var tokens: [QuayToken]
    @NullWhenAbsent var onlyExpiring: Bool?

    enum CodingKeys: String, CodingKey {
        case tokens
        case onlyExpiring = "only_expiring"
    }
}

/// `GET /api/v1/user/`: Quay's current-user object, the fields a token service knows.
struct QuayUser: ResponseEncodable {
    var anonymous = false
    var username: String
    @NullWhenAbsent var email: String?
    var verified: Bool
    var superUser: Bool

    init(_ user: User) {
        username = user.username
        email = user.email
        // Emails are set by an operator or proven by an OpenID Connect provider.
        verified = user.email != nil
        superUser = user.isAdmin
    }

    enum CodingKeys: String, CodingKey {
        case anonymous, username, email, verified
        case superUser = "super_user"
    }
}
