import Hummingbird
import LatchkeyCore

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

/// Hub's dialect: every failure under `/api` as a `StencilaError`.
struct StencilaDialect: AuthenticatingDialect {
    func failure(for error: any HTTPResponseError) -> StencilaError? {
        if let error = error as? HTTPError {
            return StencilaError(
                status: error.status, message: error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
        // For instance a body over the size limit: 413.
        return StencilaError(status: error.status, message: error.status.reasonPhrase + ".")
    }

    func failure(for limit: LimitExceeded) -> StencilaError {
        StencilaError(status: limit.status, message: "\(limit)", headers: limit.retryHeaders)
    }

    func failure(forDomainError error: any Error) -> StencilaError? {
        switch error {
        // knox answers its per-user limit with 403.
        case TokenError.tooManyTokens: StencilaError(status: .forbidden, message: "\(error)")
        case let error as TokenError: .badRequest("\(error)")
        case let error as OpenIDSignInFailure:
            switch error {
            case .providerUnavailable:
                StencilaError(status: .serviceUnavailable, message: OpenIDSignInFailure.publicUnavailableMessage)
            case .invalidToken, .unfitForAnAccount: .badRequest("\(error)")
            case .notPermitted: StencilaError(status: .forbidden, message: "\(error)")
            case .inactiveAccount: .incorrectCredentials
            }
        default: nil
        }
    }

    var unavailable: StencilaError {
        StencilaError(status: .serviceUnavailable, message: StorageUnavailable.publicMessage)
    }

    var internalFailure: StencilaError {
        StencilaError(status: .internalServerError, message: "The server could not handle this request.")
    }

    /// Any unreadable or invalid `Authorization` header fails the request with 403, as in Hub.
    func failure(for rejection: TokenAuthenticator.Failure) -> StencilaError {
        switch rejection {
        case .malformed(let problem): .authentication(problem)
        case .password: .passwordNotAllowed
        case .rejected(.inactiveUser): .inactiveUser
        case .rejected: .invalidToken
        }
    }

    func failure(for denial: AccessDenial) -> StencilaError {
        denial == .notAuthenticated ? .notAuthenticated : .permissionDenied
    }

    func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> StencilaError {
        .methodNotAllowed(method, allow: allow)
    }
}
