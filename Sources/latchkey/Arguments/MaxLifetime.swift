import Foundation
import LatchkeyCore

/// `KIND=PERIOD`, the longest a token of one kind may live, e.g. `app=90d` or `session=7d`.
struct MaxLifetime: ArgumentValue, Hashable {
    let kind: TokenKind
    let seconds: TimeInterval

    init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        let kinds = TokenKind.allCases.map(\.rawValue).joined(separator: " or ")
        guard parts.count == 2, let kind = TokenKind(rawValue: parts[0]) else {
            throw CLIError("use KIND=PERIOD, where KIND is \(kinds), e.g. app=90d")
        }
        self.kind = kind
        seconds = try Lifetime.parse(parts[1])
    }
}

extension [MaxLifetime] {
    /// By kind; a kind named twice keeps its last value, as a repeated flag does.
    var byKind: [TokenKind: TimeInterval] {
        Dictionary(map { ($0.kind, $0.seconds) }, uniquingKeysWith: { _, last in last })
    }
}
