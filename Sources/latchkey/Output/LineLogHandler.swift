import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Swift Log's `StreamLogHandler` line, `2026-11-23T19:49:23+0000 info latchkey: a=1 b=2 [Source] message`,
/// written to `BufferedStandardOutput` and formatted only when a line is written. The stream
/// handler formats a logger's metadata again each time an item is set (Hummingbird sets a
/// request id on every request) and the time with `localtime` and `strftime` on every line;
/// here the time is formatted once a second.
struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = Self.timestamp()
        line += " \(event.level) \(label):"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        line += " [\(event.source)] \(event.message)\n"
        BufferedStandardOutput.shared.write(line)
    }

    /// The second last formatted, and its text.
    private static let lastSecond = Mutex<(second: time_t, text: String)>((-1, ""))

    private static func timestamp() -> String {
        var now = time(nil)
        if let text = lastSecond.withLock({ $0.second == now ? $0.text : nil }) { return text }
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let text = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        lastSecond.withLock { $0 = (now, text) }
        return text
    }
}
