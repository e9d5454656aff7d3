import Foundation
import Hummingbird
import MultipartKit

/// The body of `POST /api/tokens/`, read as Hub's serializer reads it: JSON,
/// form-encoded or multipart; every field an optional, non-blank string.
struct StencilaCreateRequest {
    static let fieldNames = ["username", "password", "openid"]
    static let maxBodySize = 64 * 1024

    var username: String?
    var password: String?
    var openid: String?

    /// A field's raw value: a string, or the reason it is not one.
    enum Field {
        case text(String)
        case invalid(String)
    }

    static func decode(_ request: Request) async throws -> StencilaCreateRequest {
        let body = try await request.collectBody(upTo: maxBodySize)
        let fields = try parseFields(body: body, contentType: request.headers[.contentType])

        var errors: [StencilaError.FieldError] = []
        var values: [String: String] = [:]
        for name in fieldNames {
            switch fields[name] {
            case nil:
                continue
            case .invalid(let message):
                errors.append(.init(field: name, message: message))
            case .text(let text):
                // DRF trims fields before checking them; the password is kept as typed.
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty {
                    errors.append(.init(field: name, message: "This field may not be blank."))
                } else {
                    values[name] = name == "password" ? text : trimmed
                }
            }
        }
        guard errors.isEmpty else { throw StencilaError.invalidInput(errors) }
        return StencilaCreateRequest(
            username: values["username"], password: values["password"], openid: values["openid"])
    }

    private static func parseFields(body: ByteBuffer, contentType: String?) throws -> [String: Field] {
        guard body.readableBytes > 0 else { return [:] }
        let mediaType =
            (contentType ?? "").split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch mediaType {
        case "application/json":
            return try jsonFields(Data(buffer: body))
        case "application/x-www-form-urlencoded":
            return FormEncoding.lastValues(String(buffer: body)).mapValues(Field.text)
        case "multipart/form-data":
            return try multipartFields(body, contentType: contentType ?? "")
        default:
            throw StencilaError(
                status: .unsupportedMediaType, message: "Unsupported media type \"\(contentType ?? "")\" in request.")
        }
    }

    private static func jsonFields(_ data: Data) throws -> [String: Field] {
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw StencilaError.badRequest("JSON parse error - the body is not valid JSON.")
        }
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            let kind = (try? JSONDecoder().decode(JSONValue.self, from: data))?.pythonTypeName ?? "unknown"
            throw StencilaError.invalidInput([
                .init(field: "non_field_errors", message: "Invalid data. Expected a dictionary, but got \(kind).")
            ])
        }
        var fields: [String: Field] = [:]
        for name in fieldNames {
            switch object[name] {
            case nil: continue
            case .string(let text): fields[name] = .text(text)
            // DRF's CharField accepts numbers, as Python prints them.
            case .integer(let number): fields[name] = .text(String(number))
            case .number(let number): fields[name] = .text(String(number))
            case .null: fields[name] = .invalid("This field may not be null.")
            case .bool, .array, .object: fields[name] = .invalid("Not a valid string.")
            }
        }
        return fields
    }

    private struct MultipartFields: Decodable {
        var username: String?
        var password: String?
        var openid: String?
    }

    private static func multipartFields(_ body: ByteBuffer, contentType: String) throws -> [String: Field] {
        let boundary = contentType.split(separator: ";").lazy
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.lowercased().hasPrefix("boundary=") }
            .map { String($0.dropFirst("boundary=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard let boundary, !boundary.isEmpty,
            let decoded = try? FormDataDecoder().decode(MultipartFields.self, from: body, boundary: boundary)
        else {
            throw StencilaError.badRequest("Multipart form parse error - Invalid boundary in multipart: None")
        }
        var fields: [String: Field] = [:]
        fields["username"] = decoded.username.map(Field.text)
        fields["password"] = decoded.password.map(Field.text)
        fields["openid"] = decoded.openid.map(Field.text)
        return fields
    }
}
