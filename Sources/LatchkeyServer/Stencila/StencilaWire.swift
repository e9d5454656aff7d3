import Foundation
import Hummingbird
import LatchkeyCore

/// Stencila Hub's wire format, in one place: camelCase keys, ISO 8601 UTC dates
/// with a `Z` and microseconds when non-zero, and `{"message", "errors"}` error bodies.
enum StencilaWire {
    /// `2022-02-08T20:42:43.123456Z`, or `2022-02-08T20:42:43Z` on a whole second (Django's `isoformat`).
    static func date(_ date: Date) -> String {
        let microseconds = date.microsecondsSince1970
        let (seconds, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        let whole = seconds - (fraction < 0 ? 1 : 0)
        let text = Date(timeIntervalSince1970: TimeInterval(whole)).formatted(.iso8601)
        let micro = fraction < 0 ? fraction + 1_000_000 : fraction
        guard micro != 0 else { return text }
        return text.dropLast() + "." + String(format: "%06lld", micro) + "Z"
    }

    /// The names shown for a user. Stencila's client requires non-empty first and
    /// last names in a token response, so an account created without them shows its
    /// username as first name and "-" as last name.
    static func names(of user: User) -> (first: String, last: String) {
        (user.firstName.isEmpty ? user.username : user.firstName, user.lastName.isEmpty ? "-" : user.lastName)
    }
}

/// An error in Hub's shape. Every authentication failure is a 403, as in Hub.
struct StencilaError: Error, HTTPResponseError {
    struct FieldError: Encodable, Equatable {
        var field: String
        var message: String
    }

    struct Body: Encodable {
        var message: String
        var errors: [FieldError]?
    }

    let status: HTTPResponse.Status
    let message: String
    var errors: [FieldError]? = nil
    var headers: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(message: message, errors: errors), from: request, context: context)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }

    static let notFound = StencilaError(status: .notFound, message: "Not found.")
    static let notAuthenticated = StencilaError(
        status: .forbidden, message: "Authentication credentials were not provided.")
    static let incorrectCredentials = StencilaError(
        status: .forbidden, message: "Incorrect authentication credentials.")
    static let invalidToken = StencilaError(status: .forbidden, message: "Invalid token.")
    static let inactiveUser = StencilaError(status: .forbidden, message: "User inactive or deleted.")
    /// Django REST Framework's `PermissionDenied`: valid credentials without the right.
    static let permissionDenied = StencilaError(
        status: .forbidden, message: "You do not have permission to perform this action.")

    static func invalidInput(_ errors: [FieldError]) -> StencilaError {
        StencilaError(status: .badRequest, message: "Invalid input.", errors: errors)
    }

    static func badRequest(_ message: String) -> StencilaError {
        StencilaError(status: .badRequest, message: message)
    }

    /// Knox's and Hub's messages for an `Authorization` header they cannot read.
    static func authentication(_ problem: PresentedCredential.Problem) -> StencilaError {
        let message =
            switch problem {
            case .tokenWithoutCredentials: "Invalid token header. No credentials provided."
            case .tokenWithSpaces: "Invalid token header. Token string should not contain spaces."
            case .basicWithoutCredentials: "Invalid Basic authorization header. No credentials provided."
            case .basicWithSpaces: "Invalid Basic authorization header. Credentials string should not contain spaces."
            case .basicNotBase64: "Invalid Basic authorization header. Credentials not correctly base64 encoded."
            }
        return StencilaError(status: .forbidden, message: message)
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> StencilaError {
        StencilaError(
            status: .methodNotAllowed, message: "Method \"\(method.rawValue)\" not allowed.", headers: [.allow: allow])
    }

    static let passwordNotAllowed = StencilaError(
        status: .forbidden, message: "Basic authorization with a password is not allowed; use an API token instead.")
}

/// Answers every error under `/api` in Hub's shape.
struct StencilaErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as StencilaError {
            throw error
        } catch let error as HTTPError {
            throw StencilaError(
                status: error.status, message: error.body ?? error.status.reasonPhrase, headers: error.headers)
        } catch let error as any HTTPResponseError {
            // For instance a body over the size limit: 413.
            throw StencilaError(status: error.status, message: error.status.reasonPhrase + ".")
        } catch let error as LimitExceeded {
            throw StencilaError(status: error.status, message: "\(error)", headers: error.retryHeaders)
        } catch let error as TokenError {
            // knox answers its per-user limit with 403.
            if case .tooManyTokens = error { throw StencilaError(status: .forbidden, message: "\(error)") }
            throw StencilaError.badRequest("\(error)")
        } catch let error as StorageUnavailable {
            context.logger.warning("Database unavailable", metadata: ["reason": "\(error.reason)"])
            throw StencilaError(status: .serviceUnavailable, message: StorageUnavailable.publicMessage)
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw StencilaError(status: .internalServerError, message: "The server could not handle this request.")
        }
    }
}

/// A token as Hub lists and retrieves it: never the secret.
struct StencilaToken: ResponseEncodable {
    var user: Int64
    var id: String
    var created: String
    @NullWhenAbsent var expiry: String?

    init(_ token: Token) {
        user = token.ownerID
        id = token.key
        created = StencilaWire.date(token.created)
        expiry = token.expires.map(StencilaWire.date)
    }

}

/// The answer to a successful `POST /api/tokens/`: the secret, shown this once.
struct StencilaCreatedToken: ResponseEncodable {
    var token: String
    var id: String
    var created: String
    @NullWhenAbsent var expiry: String?
    var user: Int64
    var username: String
    var firstName: String
    var lastName: String

    init(_ issued: IssuedToken, owner: User) {
        token = issued.secret.value
        id = issued.token.key
        created = StencilaWire.date(issued.token.created)
        expiry = issued.token.expires.map(StencilaWire.date)
        user = owner.id
        username = owner.username
        (firstName, lastName) = StencilaWire.names(of: owner)
    }

}

/// `GET /api/tokens/`: Django REST Framework's limit/offset page.
struct StencilaTokenPage: ResponseEncodable {
    var count: Int
    @NullWhenAbsent var next: String?
    @NullWhenAbsent var previous: String?
    var results: [StencilaToken]

}

/// `GET /api/users/me`: Hub's `Me` object, the fields a token service knows.
struct StencilaMe: ResponseEncodable {
    struct PersonalAccount: Encodable {
        var id: Int64
        var tier: Int
    }

    var id: Int64
    var username: String
    var firstName: String
    var lastName: String
    var displayName: String
    var personalAccount: PersonalAccount
    var dateJoined: String
    @NullWhenAbsent var lastLogin: String? = nil
    var emailAddresses: [String] = []
    var linkedAccounts: [String] = []

    init(_ user: User) {
        id = user.id
        username = user.username
        firstName = user.firstName
        lastName = user.lastName
        let fullName = "\(user.firstName) \(user.lastName)".trimmingCharacters(in: .whitespaces)
        displayName = fullName.isEmpty ? user.username : fullName
        personalAccount = PersonalAccount(id: user.id, tier: 1)
        dateJoined = StencilaWire.date(user.created)
    }

}
