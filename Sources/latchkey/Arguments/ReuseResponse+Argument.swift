import LatchkeyCore

/// What `serve` does when a token rotated away is presented after its overlap, as
/// `ReuseResponse` names it: `notify` or `revoke-family`.
struct OnReuse: ArgumentValue, Hashable {
    let response: ReuseResponse

    init(parsing text: String) throws {
        guard let response = ReuseResponse(rawValue: text) else {
            throw CLIError("use \(ReuseResponse.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        self.response = response
    }
}
