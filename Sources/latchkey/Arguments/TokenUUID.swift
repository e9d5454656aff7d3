import Foundation

/// A token's uuid, in either case.
struct TokenUUID: ArgumentValue, Hashable {
    let uuid: UUID

    init(parsing text: String) throws {
        guard let uuid = UUID(uuidString: text) else { throw CLIError("'\(text)' is not a uuid") }
        self.uuid = uuid
    }
}
