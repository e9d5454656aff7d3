import LatchkeyCore

/// The server key, base64 of 32 bytes (`openssl rand -base64 32`): it seals recoverable tokens
/// and webhook secrets. Only ever an environment variable, and never repeated in an error.
struct ServerKey: ArgumentValue {
    let box: SecretBox

    static var isSecret: Bool { true }

    init(parsing text: String) throws {
        box = try SecretBox(base64: text)
    }
}
