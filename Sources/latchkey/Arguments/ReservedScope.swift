import LatchkeyCore

/// A scope only administrators' tokens may hold, beside `superuser` (always reserved):
/// `--reserved-scope org:admin`, or `LATCHKEY_RESERVED_SCOPES=org:admin,billing`.
struct ReservedScope: ArgumentValue, Hashable {
    let scope: String

    init(parsing text: String) throws {
        guard TokenService.isValidScope(text) else {
            throw CLIError("a scope is 1 to 64 printable ASCII characters, without spaces or quotes")
        }
        scope = text
    }
}

extension [ReservedScope] {
    var scopes: Set<String> { Set(map(\.scope)) }
}
