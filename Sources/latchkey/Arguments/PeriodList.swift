import Foundation

/// Comma-separated spans of time (`5s,5m,30m`), each as `Period` reads it.
struct PeriodList: ArgumentValue, Hashable {
    static let maxCount = 20

    let seconds: [TimeInterval]

    init(parsing text: String) throws {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard (1...Self.maxCount).contains(items.count) else {
            throw CLIError("give 1 to \(Self.maxCount) spans of time, comma-separated, e.g. 5s,5m,30m")
        }
        seconds = try items.map { try Period(parsing: $0.trimmingCharacters(in: .whitespaces)).seconds }
    }
}
