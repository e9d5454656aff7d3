import Logging

/// How much the server logs, as swift-log names its levels: `trace` to `critical`.
struct LogLevel: ArgumentValue, Hashable {
    let level: Logger.Level

    init(parsing text: String) throws {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CLIError("use \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.level = level
    }
}
